/** How long and how often `eventually` checks, and what it says when time runs out. */
export interface EventuallyOptions {
  /** Default 5000. */
  timeoutMs?: number;
  /** Pause between checks; default 10. */
  intervalMs?: number;
  /** What was awaited, for the timeout error; a function is called then, to describe the state. */
  message?: string | (() => string);
}

/**
 * Polls `check` until it passes, for state that publishes no event: a predicate passes when it
 * returns true, an assertion function (`() => expect(…)…`) when it does not throw. On timeout it
 * throws with `message` and the last failure (an assertion's own diff, or that the check returned
 * false), the last error as `cause`. A check that throws is retried like one that returns false.
 */
export async function eventually(
  // biome-ignore lint/suspicious/noConfusingVoidType: `void` admits `() => expect(…).toBe(…)`, and still rejects `() => rows.find(…)`, which would pass at once on `undefined`.
  check: () => boolean | void | Promise<boolean | void>,
  options: EventuallyOptions = {},
): Promise<void> {
  const { timeoutMs = 5000, intervalMs = 10, message } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    try {
      if ((await check()) !== false) return;
    } catch (error) {
      failure = error;
    }
    if (performance.now() >= deadline) {
      const awaited = typeof message === "function" ? message() : message;
      const last = failure === undefined ? "the check returned false" : `last error: ${errorText(failure)}`;
      throw new Error(`eventually: ${awaited ?? "condition"} not met within ${timeoutMs} ms; ${last}`, {
        cause: failure,
      });
    }
    await Bun.sleep(intervalMs);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
