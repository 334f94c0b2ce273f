/**
 * Login throttling: after `maxFailures` failed logins within `windowMs`, a key (a client address,
 * or the username across all clients with a higher threshold) is locked out; each further failure
 * doubles the lockout, up to `maxLockMs`. A success clears the key. In-process state: one instance
 * sees its own attempts, which is enough to make guessing a password impractical.
 */

export interface LoginThrottleOptions {
  /** Failures allowed inside the window before the first lockout. Default 5. */
  maxFailures?: number;
  /** How long failures are remembered. Default 15 minutes. */
  windowMs?: number;
  /** First lockout. Default 30 seconds. */
  lockMs?: number;
  /** Longest lockout. Default 15 minutes. */
  maxLockMs?: number;
  now?: () => number;
}

export interface LoginThrottle {
  /** Milliseconds until `key` may try again (0 = allowed now). */
  retryAfterMs(key: string, maxFailures?: number): number;
  recordFailure(key: string): void;
  reset(key: string): void;
}

export function createLoginThrottle(options: LoginThrottleOptions = {}): LoginThrottle {
  const maxFailuresDefault = options.maxFailures ?? 5;
  const windowMs = options.windowMs ?? 15 * 60 * 1000;
  const lockMs = options.lockMs ?? 30_000;
  const maxLockMs = options.maxLockMs ?? 15 * 60 * 1000;
  const now = options.now ?? Date.now;
  const failures = new Map<string, number[]>();

  const recent = (key: string): number[] => {
    const cutoff = now() - windowMs;
    const list = (failures.get(key) ?? []).filter((time) => time > cutoff);
    if (list.length === 0) failures.delete(key);
    else failures.set(key, list);
    return list;
  };

  return {
    retryAfterMs(key, maxFailures = maxFailuresDefault) {
      const list = recent(key);
      if (list.length < maxFailures) return 0;
      const extra = list.length - maxFailures;
      const lock = Math.min(maxLockMs, lockMs * 2 ** Math.min(extra, 20));
      const last = list[list.length - 1]!;
      return Math.max(0, last + lock - now());
    },
    recordFailure(key) {
      const list = recent(key);
      list.push(now());
      // Bounded memory per key; only the most recent failures matter.
      failures.set(key, list.slice(-100));
      // Forget idle keys now and then so a scan of many addresses cannot grow the map forever.
      if (failures.size > 10_000) for (const other of [...failures.keys()]) recent(other);
    },
    reset(key) {
      failures.delete(key);
    },
  };
}
