/** A token bucket: up to `capacity` tokens, refilled continuously at `perSecond`. */
export interface TokenBucket {
  key: string;
  capacity: number;
  perSecond: number;
}

/** What {@link Coordination.takeTokens} answers: 0 = granted, else how long the scarcest bucket needs. */
export interface TokenGrant {
  waitMs: number;
  /** Index of the bucket that refused (the longest wait), or -1 when granted. */
  limitedBy: number;
}

/** A member of the due-set and the time it is due (epoch ms). */
export interface DueEntry {
  member: string;
  dueAtMs: number;
}

/**
 * Coordination between debate workers: leases (locks), the due-set of sessions to advance,
 * pub/sub of debate events and short-lived key/value state (bot conversations).
 *
 * Postgres is the source of truth; this only coordinates. Two implementations pass the same
 * contract tests: Redis (several instances) and in-process memory (the embedded default, one instance).
 */
export interface Coordination {
  /** `redis` or `memory`: shown in /health and in the start-up log line. */
  readonly kind: "redis" | "memory";

  /** Takes the lease `key` for `ttlMs` if nobody holds it. Returns the holder token, or null when taken. */
  acquireLock(key: string, ttlMs: number): Promise<string | null>;
  /** Extends the lease only if `token` still holds it. */
  extendLock(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Releases the lease only if `token` still holds it (compare-and-delete). */
  releaseLock(key: string, token: string): Promise<boolean>;

  /** Marks `member` due at `atMs` (epoch ms); re-marking moves it, unless `ifAbsent` is set. */
  markDue(member: string, atMs: number, options?: { ifAbsent?: boolean }): Promise<void>;
  /** Removes `member` from the due-set. */
  unmarkDue(member: string): Promise<void>;
  /** Up to `limit` members whose due time is ≤ `nowMs`, earliest first. Does not remove them. */
  dueMembers(nowMs: number, limit: number): Promise<string[]>;
  /** {@link dueMembers} with each one's due time (the scheduler measures how late it picks them up). */
  dueEntries(nowMs: number, limit: number): Promise<DueEntry[]>;
  /** How many members are due at `nowMs`. */
  dueCount(nowMs: number): Promise<number>;

  /** Publishes `message` to every subscriber of `channel` on every instance. */
  publish(channel: string, message: string): Promise<void>;
  /** Subscribes to `channel`; resolves once the subscription is live. The returned function unsubscribes. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;

  /** Stores `value` under `key` for `ttlMs`. */
  setValue(key: string, value: string, ttlMs: number): Promise<void>;
  getValue(key: string): Promise<string | null>;
  deleteValue(key: string): Promise<void>;

  /**
   * Takes one token from every bucket at once when each has one, otherwise none (atomic across
   * instances): what a budget shared by the whole fleet, such as Telegram's per-token limits, needs.
   */
  takeTokens(buckets: readonly TokenBucket[], nowMs: number): Promise<TokenGrant>;
  /** `key` gives no token before `untilMs` (e.g. a 429's retry_after), to every instance. */
  holdBucket(key: string, untilMs: number): Promise<void>;

  /**
   * Calls `handler` each time the store is reachable again after an outage: what it held may be
   * gone (a restarted Redis keeps nothing), so callers rebuild it from Postgres. Never called for the
   * in-process store. Returns a function that unsubscribes.
   */
  onReconnect(handler: () => void): () => void;

  /** True when the backing store answers. */
  ping(): Promise<boolean>;
  /** Closes connections and drops subscriptions. */
  close(): Promise<void>;
}
