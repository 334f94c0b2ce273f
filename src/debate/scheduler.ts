import { type Clock, systemClock } from "../platform/clock";
import type { Coordination } from "../platform/coordination";
import type { Logger } from "../platform/logger";
import type { DebateEventBus } from "./debate-events";
import type { SchedulerObserver } from "./debate-observer";
import type { DebateWaker } from "./debate-service";
import type { SessionReader } from "./session-reader";
import type { SessionStore } from "./session-store";
import type { TurnRunner } from "./turn-runner";

export interface SchedulerOptions {
  /** Lease of a session's lock; renewed every third of it while the session runs here. */
  leaseMs?: number;
  /** How often the due-set is polled when nothing woke the scheduler. */
  pollMs?: number;
  /** Debates this instance runs at once. */
  maxConcurrent?: number;
  /** Delay before a session whose run crashed is tried again. */
  retryDelayMs?: number;
  /** Consecutive crashed runs after which the session is failed instead of retried. */
  maxRunFailures?: number;
  /** How often running sessions are put back on the schedule from Postgres. Default 5000 ms. */
  reconcileMs?: number;
}

export interface Scheduler extends DebateWaker {
  /** Resumes running sessions found in Postgres and starts polling. */
  start(): Promise<void>;
  /** Stops polling, aborts local runs without writing, releases their locks. */
  stop(): Promise<void>;
  /** Sessions running on this instance now. */
  localSessions(): string[];
}

const lockKey = (sessionId: string) => `lock:session:${sessionId}`;

/**
 * Advances debates: a due-set of session ids in the coordination store, a lease per session,
 * Postgres as the source of truth. A session runs on one instance at a time while its lease
 * holds; when a process dies, its lease and due time lapse together and another instance
 * (or this one after a restart) resumes it. The unique (session_id, turn_index) is the final guard.
 */
export function createScheduler(deps: {
  reader: SessionReader;
  /** Ends a session that keeps crashing (stop reason `error`): a bug must not turn into endless paid calls. */
  store: SessionStore;
  coordination: Coordination;
  events: DebateEventBus;
  runner: TurnRunner;
  logger: Logger;
  options?: SchedulerOptions;
  clock?: Clock;
  /** Told how late each due session is picked up (metrics). */
  observer?: SchedulerObserver;
}): Scheduler {
  const { reader, store, coordination, events, runner, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const leaseMs = deps.options?.leaseMs ?? 15_000;
  const pollMs = deps.options?.pollMs ?? 250;
  const maxConcurrent = deps.options?.maxConcurrent ?? 500;
  const retryDelayMs = deps.options?.retryDelayMs ?? 2_000;
  const maxRunFailures = deps.options?.maxRunFailures ?? 5;
  const reconcileMs = deps.options?.reconcileMs ?? 5_000;
  const failures = new Map<string, number>();
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  let cancelPoll: (() => void) | undefined;
  let stopped = true;
  let polling: Promise<void> | null = null;
  let pollAgain = false;
  let unsubscribeControl: (() => void) | undefined;
  let unsubscribeReconnect: (() => void) | undefined;
  let stopReconciling: (() => void) | undefined;
  let pollFailing = false;

  /**
   * Puts every running session nobody here runs back on the schedule (without moving a due time
   * already set): Postgres is the truth, and what Redis lost — a restart, a failover, a flush — is
   * rebuilt from it, on start, every `reconcileMs`, and at once when Redis is back.
   */
  async function reconcile(reason: string) {
    const ids = (await reader.runningIds()).filter((id) => !running.has(id));
    for (const id of ids) await coordination.markDue(id, clock.now(), { ifAbsent: true });
    if (ids.length > 0 && reason !== "periodic")
      logger.info("sessions put back on the schedule", { count: ids.length, reason });
    schedulePoll(0);
  }
  const reconcileQuietly = (reason: string) =>
    reconcile(reason).catch((error: unknown) => {
      if (!pollFailing) logger.warn("reconciliation failed", { reason, error });
    });

  function runLocally(sessionId: string, token: string) {
    const controller = new AbortController();
    const stopHeartbeat = clock.every(Math.max(50, Math.floor(leaseMs / 3)), async () => {
      try {
        const held = await coordination.extendLock(lockKey(sessionId), token, leaseMs);
        if (!held) {
          logger.warn("lease lost; stopping local run", { session: sessionId });
          controller.abort(new Error("lease lost"));
          return;
        }
        await coordination.markDue(sessionId, clock.now() + leaseMs);
      } catch (error) {
        // Redis unreachable: keep going; the unique turn index still guards against duplicates.
        logger.warn("lease renewal failed", { session: sessionId, error });
      }
    });
    const done = (async () => {
      try {
        const outcome = await runner.run(sessionId, controller.signal);
        failures.delete(sessionId);
        // If Redis is away the entry stays; the next holder finds the session ended and drops it.
        if (outcome !== "aborted") await coordination.unmarkDue(sessionId).catch(() => {});
        // A lease lost to a Redis that came back empty: back on the schedule at once (not at the
        // next reconciliation), unless another holder has already put it there.
        else if (
          controller.signal.reason instanceof Error &&
          controller.signal.reason.message === "lease lost"
        )
          await coordination.markDue(sessionId, clock.now(), { ifAbsent: true }).catch(() => {});
      } catch (error) {
        const count = (failures.get(sessionId) ?? 0) + 1;
        failures.set(sessionId, count);
        if (count >= maxRunFailures) {
          logger.error("debate run failed repeatedly; failing the session", {
            session: sessionId,
            error,
            count,
          });
          failures.delete(sessionId);
          await store
            .end(sessionId, {
              status: "failed",
              reason: "error",
              detail: "internal error: the debate could not continue",
            })
            .catch((giveUpError: unknown) =>
              logger.error("could not fail the session", { session: sessionId, error: giveUpError }),
            );
          await coordination.unmarkDue(sessionId).catch(() => {});
        } else {
          logger.error("debate run failed; will retry", { session: sessionId, error, count });
          await coordination.markDue(sessionId, clock.now() + retryDelayMs).catch(() => {});
        }
      } finally {
        stopHeartbeat();
        running.delete(sessionId);
        await coordination.releaseLock(lockKey(sessionId), token).catch(() => {});
        if (!stopped) schedulePoll(0);
      }
    })();
    running.set(sessionId, { controller, done });
  }

  async function pollOnce() {
    const free = maxConcurrent - running.size;
    if (free <= 0) return;
    const due = await coordination.dueEntries(clock.now(), Math.min(free + running.size, 1000));
    const candidates = due.filter((entry) => !running.has(entry.member)).slice(0, free);
    // Claimed side by side: after a restart or a burst of starts, hundreds of sessions are due at once.
    await Promise.all(
      candidates.map(async ({ member: sessionId, dueAtMs }) => {
        const token = await coordination.acquireLock(lockKey(sessionId), leaseMs);
        if (!token) return;
        deps.observer?.sessionClaimed(Math.max(0, clock.now() - dueAtMs));
        if (stopped) {
          await coordination.releaseLock(lockKey(sessionId), token);
          return;
        }
        // If this process dies, the session becomes due again exactly when the lease lapses.
        await coordination.markDue(sessionId, clock.now() + leaseMs);
        runLocally(sessionId, token);
      }),
    );
  }

  function schedulePoll(delay: number) {
    if (stopped) return;
    if (polling) {
      pollAgain = true;
      return;
    }
    cancelPoll?.();
    const poll = () => {
      cancelPoll = undefined;
      polling = pollOnce()
        .then(
          () => {
            pollFailing = false;
          },
          (error: unknown) => {
            // Once per outage, not every poll.
            if (!pollFailing) logger.warn("scheduler poll failed", { error });
            pollFailing = true;
          },
        )
        .finally(() => {
          polling = null;
          const again = pollAgain;
          pollAgain = false;
          schedulePoll(again ? 0 : pollMs);
        });
    };
    // A wake-up goes out on the next turn of the event loop: under a steady stream of I/O, Bun
    // runs timers late (hundreds of ms at 0 ms LLM latency), and a started debate would wait.
    if (delay === 0) {
      const immediate = setImmediate(poll);
      cancelPoll = () => clearImmediate(immediate);
    } else {
      cancelPoll = clock.after(delay, poll);
    }
  }

  return {
    async start() {
      stopped = false;
      unsubscribeControl = events.onControl((command) => {
        if (command.type === "stop") running.get(command.sessionId)?.controller.abort(new Error("stopped"));
      });
      await reconcile("start");
      stopReconciling = clock.every(reconcileMs, () => void reconcileQuietly("periodic"));
      unsubscribeReconnect = coordination.onReconnect(
        () => void reconcileQuietly("coordination reconnected"),
      );
    },
    async stop() {
      stopped = true;
      cancelPoll?.();
      unsubscribeControl?.();
      unsubscribeReconnect?.();
      stopReconciling?.();
      await polling;
      const runs = [...running.entries()];
      for (const [, run] of runs) run.controller.abort(new Error("shutdown"));
      await Promise.all(runs.map(([, run]) => run.done));
      // Hand the sessions over now rather than when the leases lapse.
      for (const [sessionId] of runs) await coordination.markDue(sessionId, clock.now()).catch(() => {});
    },
    async wake(sessionId) {
      // The session is running in Postgres already: with the coordination store unreachable it
      // is not lost, reconciliation puts it on the schedule once the store answers again.
      await coordination.markDue(sessionId, clock.now()).catch((error: unknown) =>
        logger.warn("could not schedule the session now; reconciliation will", {
          session: sessionId,
          error,
        }),
      );
      schedulePoll(0);
    },
    localSessions: () => [...running.keys()],
  };
}
