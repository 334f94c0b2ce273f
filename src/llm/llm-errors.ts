/**
 * Typed errors of the provider layer. Every failure of a chat model surfaces as an
 * {@link LlmError} whose `code` and `isRetryable` drive the engine's policy (retry,
 * or exclude the participant and tell the chat), and whose message is the
 * provider's own wording, scrubbed of secrets, fit for the operator to read.
 */

import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";

/** What went wrong, coarse enough for policy and reports. */
export type LlmErrorCode =
  | "rate_limited"
  | "server_error"
  | "network"
  | "timeout"
  | "aborted"
  | "auth"
  | "forbidden"
  | "bad_request"
  | "not_found"
  | "conflict"
  | "unknown";

/** Construction fields of {@link LlmError}. */
export interface LlmErrorInit {
  code: LlmErrorCode;
  message: string;
  isRetryable: boolean;
  status?: number;
  retryAfterMs?: number;
  /** Attempts made before giving up (set by the chat model). */
  attempts?: number;
  cause?: unknown;
}

/** A provider failure with a policy-relevant code. Its message never contains the API key. */
export class LlmError extends Error {
  override readonly name = "LlmError";
  readonly code: LlmErrorCode;
  readonly status?: number;
  readonly isRetryable: boolean;
  /** Delay the provider asked for (`retry-after-ms` / `retry-after`), if any. */
  readonly retryAfterMs?: number;
  /** Attempts made before this error was final; set by the chat model. */
  attempts?: number;

  constructor(init: LlmErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.isRetryable = init.isRetryable;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.attempts !== undefined) this.attempts = init.attempts;
  }
}

/** Anything that looks like an OpenAI-style secret key (`sk-…`, `sk-proj-…`), even partly masked. */
const SECRET_KEY_PATTERN = /\bsk-[A-Za-z0-9_\-*.]{3,}/g;
/** Bearer tokens echoed back by proxies. */
const BEARER_PATTERN = /\b(Bearer\s+)[^\s"',;]+/gi;
const REDACTED = "[redacted]";

/**
 * Removes the given secrets and any `sk-…` or bearer token from a message. Keys
 * shorter than 4 characters are not replaced literally (it would shred the text),
 * but such keys are not real secrets anyway.
 */
export function scrubSecrets(message: string, secrets: readonly (string | undefined)[] = []): string {
  let scrubbed = message;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) scrubbed = scrubbed.split(secret).join(REDACTED);
  }
  return scrubbed.replace(SECRET_KEY_PATTERN, REDACTED).replace(BEARER_PATTERN, `$1${REDACTED}`);
}

function headerValue(headers: unknown, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
  if (typeof headers === "object") {
    for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
      if (key.toLowerCase() === name && typeof value === "string") return value;
    }
  }
  return null;
}

/**
 * Parses `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date)
 * into a delay in ms. Returns undefined when absent or unparseable.
 */
export function parseRetryAfterMs(headers: unknown, now: number = Date.now()): number | undefined {
  const milliseconds = headerValue(headers, "retry-after-ms");
  if (milliseconds !== null && milliseconds.trim() !== "") {
    const value = Number(milliseconds);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const retryAfter = headerValue(headers, "retry-after");
  if (retryAfter === null || retryAfter.trim() === "") return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The reason an aborted signal carries, as an error code. */
export function abortCode(signal: AbortSignal): "timeout" | "aborted" {
  const reason: unknown = signal.reason;
  return reason instanceof Error && reason.name === "TimeoutError" ? "timeout" : "aborted";
}

/** The error `complete()` rejects with when the caller's signal aborted. */
export function abortedError(signal: AbortSignal): LlmError {
  const code = abortCode(signal);
  return new LlmError({
    code,
    message: code === "timeout" ? "The request timed out." : "The request was aborted.",
    isRetryable: false,
    cause: signal.reason,
  });
}

function statusCode(status: number): { code: LlmErrorCode; isRetryable: boolean } {
  if (status === 408) return { code: "timeout", isRetryable: true };
  if (status === 409) return { code: "conflict", isRetryable: true };
  if (status === 429) return { code: "rate_limited", isRetryable: true };
  if (status >= 500) return { code: "server_error", isRetryable: true };
  if (status === 401) return { code: "auth", isRetryable: false };
  // 402 is DeepSeek's "Insufficient Balance": an account problem, like a permission one.
  if (status === 402 || status === 403) return { code: "forbidden", isRetryable: false };
  if (status === 404) return { code: "not_found", isRetryable: false };
  if (status >= 400) return { code: "bad_request", isRetryable: false };
  return { code: "unknown", isRetryable: false };
}

/** The provider's own message from an APIError body, without the SDK's "401 " prefix. */
function providerMessage(error: APIError): string {
  const body = error.error as Record<string, unknown> | undefined;
  const message = body?.message;
  if (typeof message === "string" && message.trim() !== "") return message;
  if (message !== undefined && message !== null) return JSON.stringify(message);
  if (typeof error.status === "number") {
    return body && Object.keys(body).length > 0
      ? JSON.stringify(body)
      : `HTTP ${error.status} with no error message`;
  }
  return error.message;
}

/** Errors raised while an SSE body is being read arrive as plain errors from the runtime. */
const NETWORK_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ConnectionRefused",
  "ConnectionClosed",
  "UND_ERR_SOCKET",
]);
const NETWORK_MESSAGE_PATTERN =
  /fetch failed|network|socket|connection|terminated|ECONNRESET|unexpected end/i;

/** Stream error events carry no HTTP status; fall back on the error type they name. */
function streamErrorCode(error: APIError): { code: LlmErrorCode; isRetryable: boolean } {
  const hint = `${error.type ?? ""} ${error.code ?? ""}`.toLowerCase();
  if (hint.includes("rate_limit")) return { code: "rate_limited", isRetryable: true };
  if (/server_error|overloaded|unavailable|internal/.test(hint))
    return { code: "server_error", isRetryable: true };
  return { code: "unknown", isRetryable: false };
}

/**
 * Maps anything thrown by the openai SDK (or the runtime underneath it) to an
 * {@link LlmError}. Retryable: network failures, 408, 409, 429, 5xx. Not
 * retryable: 400, 401, 403, 404 and other 4xx. The message is the provider's,
 * scrubbed of `apiKey` and anything that looks like a key.
 */
export function classifyError(error: unknown, apiKey?: string): LlmError {
  const secrets = [apiKey];
  if (error instanceof LlmError) {
    const message = scrubSecrets(error.message, secrets);
    if (message === error.message) return error;
    return new LlmError({
      code: error.code,
      message,
      isRetryable: error.isRetryable,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      ...(error.attempts === undefined ? {} : { attempts: error.attempts }),
    });
  }

  if (error instanceof APIUserAbortError) {
    const reason: unknown = (error as { cause?: unknown }).cause;
    const timedOut = reason instanceof Error && reason.name === "TimeoutError";
    return new LlmError({
      code: timedOut ? "timeout" : "aborted",
      message: timedOut ? "The request timed out." : "The request was aborted.",
      isRetryable: false,
      cause: error,
    });
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new LlmError({
      code: "timeout",
      message: scrubSecrets(error.message, secrets),
      isRetryable: true,
      cause: error,
    });
  }
  if (error instanceof APIConnectionError) {
    const cause: unknown = (error as { cause?: unknown }).cause;
    const detail =
      cause instanceof Error && cause.message ? `${error.message} (${cause.message})` : error.message;
    return new LlmError({
      code: "network",
      message: scrubSecrets(detail, secrets),
      isRetryable: true,
      cause: error,
    });
  }
  if (error instanceof APIError) {
    // The SDK error is not kept as `cause`: its body and headers are provider-controlled
    // text that loggers would print unscrubbed. Status, code and message carry what matters.
    const message = scrubSecrets(providerMessage(error), secrets);
    if (typeof error.status !== "number") {
      return new LlmError({ ...streamErrorCode(error), message });
    }
    const retryAfterMs = parseRetryAfterMs(error.headers);
    return new LlmError({
      ...statusCode(error.status),
      message,
      status: error.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  if (error instanceof Error) {
    const message = scrubSecrets(error.message || error.name, secrets);
    if (error.name === "TimeoutError")
      return new LlmError({ code: "timeout", message, isRetryable: false, cause: error });
    if (error.name === "AbortError")
      return new LlmError({ code: "aborted", message, isRetryable: false, cause: error });
    const systemCode = (error as { code?: unknown }).code;
    const isNetwork =
      (typeof systemCode === "string" && NETWORK_ERROR_CODES.has(systemCode)) ||
      (error.name === "TypeError" && NETWORK_MESSAGE_PATTERN.test(error.message)) ||
      (systemCode !== undefined && NETWORK_MESSAGE_PATTERN.test(error.message));
    return new LlmError({
      code: isNetwork ? "network" : "unknown",
      message,
      isRetryable: isNetwork,
      cause: error,
    });
  }

  return new LlmError({
    code: "unknown",
    message: scrubSecrets(String(error), secrets),
    isRetryable: false,
    cause: error,
  });
}
