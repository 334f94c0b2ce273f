/**
 * Time as the parts whose behaviour depends on it see it (scheduler, outbox, flood budget): passed
 * in, so tests advance a manual clock instead of sleeping.
 */
export interface Clock {
  now(): number;
  /** Calls `callback` once after `ms`; the returned function cancels it. */
  after(ms: number, callback: () => void): () => void;
  /** Calls `callback` every `ms`; the returned function cancels it. */
  every(ms: number, callback: () => void): () => void;
  /** Resolves after `ms` (early, with false, when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, callback) {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
  every(ms, callback) {
    const timer = setInterval(callback, ms);
    return () => clearInterval(timer);
  },
  sleep: (ms, signal) => sleepOn(systemClock, ms, signal),
};

/** `sleep` on any clock's `after`. */
export function sleepOn(clock: Pick<Clock, "after">, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      cancel();
      resolve(false);
    };
    const cancel = clock.after(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
