/**
 * Login throttling, per (client address, username) with a username-wide alarm:
 * - an address that fails `maxFailures` times for a username within `windowMs` is locked out of
 *   that username, and each further failure doubles the lockout, up to `maxLockMs`;
 * - when a username fails `alarmFailures` times in the window from anywhere (a distributed
 *   guess), every address gets a single try at it before that lockout;
 * - nothing else refuses: failures under other usernames or from other addresses never stop the
 *   right password from an address that has not failed itself, so an attacker cannot lock the
 *   real admin out.
 *
 * Hand-written because the rule is ours: rate-limiter-flexible (the maintained candidate) would
 * need the raw Redis client the Coordination interface hides, its memory store keeps one entry
 * and timer per key without a bound, and it takes no clock to test against. In-process per
 * instance; memory is bounded by `maxKeys` (least recently failed keys are forgotten first).
 */

export interface LoginThrottleOptions {
  /** Failures of one address at one username before the first lockout. Default 5. */
  maxFailures?: number;
  /** Failures of one username (all addresses) that raise the alarm. Default 4 × maxFailures. */
  alarmFailures?: number;
  /** How long failures are remembered. Default 15 minutes. */
  windowMs?: number;
  /** First lockout. Default 30 seconds. */
  lockMs?: number;
  /** Longest lockout. Default 15 minutes. */
  maxLockMs?: number;
  /** Keys remembered at most, per kind. Default 10 000. */
  maxKeys?: number;
  now?: () => number;
}

export interface LoginThrottle {
  /** Milliseconds until `address` may try `username` again (0 = allowed now). */
  retryAfterMs(address: string, username: string): number;
  recordFailure(address: string, username: string): void;
  /** A success clears the address's failures (the username's stay: an attack goes on). */
  recordSuccess(address: string, username: string): void;
}

/** Only the most recent failures matter (the count in the window and the last one). */
const MAX_FAILURES_KEPT = 64;

export function createLoginThrottle(options: LoginThrottleOptions = {}): LoginThrottle {
  const maxFailures = options.maxFailures ?? 5;
  const alarmFailures = options.alarmFailures ?? maxFailures * 4;
  const windowMs = options.windowMs ?? 15 * 60 * 1000;
  const lockMs = options.lockMs ?? 30_000;
  const maxLockMs = options.maxLockMs ?? 15 * 60 * 1000;
  const maxKeys = options.maxKeys ?? 10_000;
  const now = options.now ?? Date.now;
  const byPair = new Map<string, number[]>();
  const byUsername = new Map<string, number[]>();

  const normalize = (username: string) => username.trim().toLowerCase().slice(0, 100);
  const pairKey = (address: string, username: string) => `${address}\0${normalize(username)}`;

  const recent = (map: Map<string, number[]>, key: string): number[] => {
    const cutoff = now() - windowMs;
    return (map.get(key) ?? []).filter((time) => time > cutoff);
  };

  const record = (map: Map<string, number[]>, key: string) => {
    const list = recent(map, key);
    list.push(now());
    // Re-inserted so the map's order is least recently failed first, which is what goes when full.
    map.delete(key);
    map.set(key, list.slice(-MAX_FAILURES_KEPT));
    while (map.size > maxKeys) map.delete(map.keys().next().value!);
  };

  return {
    retryAfterMs(address, username) {
      const failures = recent(byPair, pairKey(address, username));
      const underAttack = recent(byUsername, normalize(username)).length >= alarmFailures;
      const allowed = underAttack ? 1 : maxFailures;
      if (failures.length < allowed) return 0;
      const lock = Math.min(maxLockMs, lockMs * 2 ** Math.min(failures.length - allowed, 20));
      return Math.max(0, failures.at(-1)! + lock - now());
    },
    recordFailure(address, username) {
      record(byPair, pairKey(address, username));
      record(byUsername, normalize(username));
    },
    recordSuccess(address, username) {
      byPair.delete(pairKey(address, username));
    },
  };
}
