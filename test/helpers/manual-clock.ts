import { type Clock, sleepOn } from "../../src/platform/clock";

/** A clock that only moves when the test says so; timers due on the way run in time order. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, running every timer that comes due (and letting promises settle between). */
  advance(ms: number): Promise<void>;
  /** Timers waiting to run. */
  pending(): number;
}

export function createManualClock(start = Date.UTC(2026, 11, 1, 12)): ManualClock {
  let current = start;
  let nextId = 0;
  const timers = new Map<number, { at: number; callback: () => void; every?: number }>();
  const settle = async () => {
    for (let index = 0; index < 10; index++) await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
  };
  const clock: ManualClock = {
    now: () => current,
    after(ms, callback) {
      const id = nextId++;
      timers.set(id, { at: current + Math.max(0, ms), callback });
      return () => timers.delete(id);
    },
    every(ms, callback) {
      const id = nextId++;
      timers.set(id, { at: current + ms, callback, every: ms });
      return () => timers.delete(id);
    },
    sleep: (ms, signal) => sleepOn(clock, ms, signal),
    async advance(ms) {
      const target = current + ms;
      await settle();
      for (;;) {
        const due = [...timers.entries()]
          .filter(([, timer]) => timer.at <= target)
          .sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!due) break;
        const [id, timer] = due;
        current = Math.max(current, timer.at);
        if (timer.every) timer.at += timer.every;
        else timers.delete(id);
        timer.callback();
        await settle();
      }
      current = target;
      await settle();
    },
    pending: () => timers.size,
  };
  return clock;
}
