import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Constant-time comparison of two strings of any length: compares SHA-256 digests, so neither the
 * content nor the length of a secret (token, password, signature) leaks through timing.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}
