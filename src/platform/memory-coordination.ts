import { randomUUID } from "node:crypto";
import type { Coordination, DueEntry } from "./coordination";
import type { Logger } from "./logger";

/** Options for {@link createMemoryCoordination}. */
export interface MemoryCoordinationOptions {
  /** Clock for lease and value expiry (epoch ms); tests pass a fake one. Default `Date.now`. */
  now?: () => number;
  /** Receives errors thrown by pub/sub handlers, which would otherwise be lost in a microtask. */
  logger?: Logger;
}

interface Expiring {
  expiresAt: number;
}

interface Lease extends Expiring {
  token: string;
}

interface StoredValue extends Expiring {
  value: string;
}

type Handler = (message: string) => void;

/** One `subscribe()` call; an object per call so the same function can be subscribed twice. */
interface Subscription {
  handler: Handler;
}

/** Expired entries are only noticed when read; sweep this often so keys never read again do not pile up. */
const SWEEP_EVERY_WRITES = 256;

/** Same rule as the Redis implementation, so both behave alike on a bad TTL. */
function toTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0)
    throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

/**
 * In-process coordination for the single-instance embedded default. Nothing leaves the process:
 * leases and values expire lazily against `now()`, the due-set is sorted on read, and published
 * messages reach handlers in a microtask, asynchronously like Redis would deliver them.
 * Operations after `close()` reject, as they do on a closed Redis connection.
 */
export function createMemoryCoordination(options: MemoryCoordinationOptions = {}): Coordination {
  const now = options.now ?? Date.now;
  const logger = options.logger;
  const leases = new Map<string, Lease>();
  const values = new Map<string, StoredValue>();
  const due = new Map<string, number>();
  const channels = new Map<string, Set<Subscription>>();
  const buckets = new Map<string, { tokens: number; at: number; heldUntil: number; fullAt: number }>();
  let closed = false;
  let writes = 0;

  const ensureOpen = () => {
    if (closed) throw new Error("coordination is closed");
  };

  const live = <T extends Expiring>(map: Map<string, T>, key: string): T | undefined => {
    const entry = map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  };

  const noteWrite = () => {
    writes += 1;
    if (writes % SWEEP_EVERY_WRITES !== 0) return;
    const at = now();
    for (const map of [leases, values] as Map<string, Expiring>[]) {
      for (const [key, entry] of map) if (entry.expiresAt <= at) map.delete(key);
    }
  };

  const dueEntries = async (nowMs: number, limit: number): Promise<DueEntry[]> => {
    ensureOpen();
    if (limit <= 0) return [];
    const ready: DueEntry[] = [];
    for (const [member, dueAtMs] of due) if (dueAtMs <= nowMs) ready.push({ member, dueAtMs });
    // Ties break on the member like a Redis sorted set does, so both implementations agree.
    ready.sort((a, b) => a.dueAtMs - b.dueAtMs || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
    return ready.slice(0, Math.floor(limit));
  };

  return {
    kind: "memory",

    async acquireLock(key, ttlMs) {
      ensureOpen();
      const ttl = toTtl(ttlMs);
      if (live(leases, key)) return null;
      const token = randomUUID();
      leases.set(key, { token, expiresAt: now() + ttl });
      noteWrite();
      return token;
    },

    async extendLock(key, token, ttlMs) {
      ensureOpen();
      const ttl = toTtl(ttlMs);
      const lease = live(leases, key);
      if (!lease || lease.token !== token) return false;
      lease.expiresAt = now() + ttl;
      return true;
    },

    async releaseLock(key, token) {
      ensureOpen();
      const lease = live(leases, key);
      if (!lease || lease.token !== token) return false;
      leases.delete(key);
      return true;
    },

    async markDue(member, atMs, options = {}) {
      ensureOpen();
      if (!options.ifAbsent || !due.has(member)) due.set(member, atMs);
    },

    async unmarkDue(member) {
      ensureOpen();
      due.delete(member);
    },

    async dueMembers(nowMs, limit) {
      return (await dueEntries(nowMs, limit)).map((entry) => entry.member);
    },

    dueEntries,

    async dueCount(nowMs) {
      ensureOpen();
      let count = 0;
      for (const dueAtMs of due.values()) if (dueAtMs <= nowMs) count++;
      return count;
    },

    async publish(channel, message) {
      ensureOpen();
      const subscriptions = channels.get(channel);
      if (!subscriptions) return;
      for (const subscription of [...subscriptions]) {
        queueMicrotask(() => {
          // Unsubscribed (or closed) before delivery: Redis would not deliver to it either.
          if (!channels.get(channel)?.has(subscription)) return;
          try {
            subscription.handler(message);
          } catch (error) {
            // A throw inside a microtask would surface as an uncaught error and could end the process.
            logger?.error("coordination message handler failed", { channel, error });
          }
        });
      }
    },

    async subscribe(channel, handler) {
      ensureOpen();
      let subscriptions = channels.get(channel);
      if (!subscriptions) {
        subscriptions = new Set();
        channels.set(channel, subscriptions);
      }
      const subscription: Subscription = { handler };
      subscriptions.add(subscription);
      return async () => {
        const current = channels.get(channel);
        if (!current) return;
        current.delete(subscription);
        if (current.size === 0) channels.delete(channel);
      };
    },

    async setValue(key, value, ttlMs) {
      ensureOpen();
      values.set(key, { value, expiresAt: now() + toTtl(ttlMs) });
      noteWrite();
    },

    async getValue(key) {
      ensureOpen();
      return live(values, key)?.value ?? null;
    },

    async deleteValue(key) {
      ensureOpen();
      values.delete(key);
    },

    async takeTokens(wanted, nowMs) {
      ensureOpen();
      let wait = 0;
      let limitedBy = -1;
      const refilled = wanted.map((bucket, index) => {
        const state = buckets.get(bucket.key);
        const rate = bucket.perSecond / 1000;
        const tokens = state
          ? Math.min(bucket.capacity, state.tokens + Math.max(0, nowMs - state.at) * rate)
          : bucket.capacity;
        let need = state && state.heldUntil > nowMs ? state.heldUntil - nowMs : 0;
        if (tokens < 1) need = Math.max(need, Math.ceil((1 - tokens) / rate - 1e-6));
        if (need > wait) {
          wait = need;
          limitedBy = index;
        }
        return tokens;
      });
      if (wait > 0) return { waitMs: wait, limitedBy };
      wanted.forEach((bucket, index) => {
        const heldUntil = buckets.get(bucket.key)?.heldUntil ?? 0;
        const tokens = refilled[index]! - 1;
        const fullAt = nowMs + ((bucket.capacity - tokens) / bucket.perSecond) * 1000;
        buckets.set(bucket.key, { tokens, at: nowMs, heldUntil, fullAt: Math.max(fullAt, heldUntil) });
      });
      // A full bucket not held is the same as no entry: forget those, so per-chat keys do not pile up.
      if (buckets.size > 10_000) {
        for (const [key, state] of buckets) if (state.fullAt <= nowMs) buckets.delete(key);
      }
      return { waitMs: 0, limitedBy: -1 };
    },

    async holdBucket(key, untilMs) {
      ensureOpen();
      const state = buckets.get(key);
      if (state) {
        state.heldUntil = Math.max(state.heldUntil, untilMs);
        state.fullAt = Math.max(state.fullAt, untilMs);
      } else {
        // Unknown capacity: stored as "full" (tokens are capped by the capacity on the next take).
        buckets.set(key, {
          tokens: Number.POSITIVE_INFINITY,
          at: untilMs,
          heldUntil: untilMs,
          fullAt: untilMs,
        });
      }
    },

    onReconnect() {
      // Nothing in-process is ever lost to an outage.
      return () => {};
    },

    async ping() {
      return !closed;
    },

    async close() {
      closed = true;
      leases.clear();
      values.clear();
      due.clear();
      channels.clear();
      buckets.clear();
    },
  };
}
