import { LRUCache } from "lru-cache";
import type { Clock } from "../../platform/clock";

/** What to do with a user's message: handle it, drop it after one notice, or drop it silently. */
export type SpamVerdict = "handle" | "notify" | "drop";

/**
 * Drops the messages of a user who sends more than `limit` a minute (a script, a stuck client):
 * the first one over the limit gets one notice, the rest of that minute are dropped unread. Kept
 * in memory per instance and bounded (the users seen least recently are forgotten first).
 */
export function createSpamGuard(deps: {
  clock: Clock;
  /** Messages a user may send per window. Default 20. */
  limit?: number;
  windowMs?: number;
  /** Users tracked at most. */
  maxUsers?: number;
}) {
  const { clock } = deps;
  const limit = deps.limit ?? 20;
  const windowMs = deps.windowMs ?? 60_000;
  const windows = new LRUCache<number, { startedAt: number; count: number }>({
    max: deps.maxUsers ?? 10_000,
  });
  return {
    admit(userId: number): SpamVerdict {
      const now = clock.now();
      let window = windows.get(userId);
      if (!window || now - window.startedAt >= windowMs) {
        window = { startedAt: now, count: 0 };
        windows.set(userId, window);
      }
      window.count += 1;
      if (window.count <= limit) return "handle";
      return window.count === limit + 1 ? "notify" : "drop";
    },
  };
}

export type SpamGuard = ReturnType<typeof createSpamGuard>;
