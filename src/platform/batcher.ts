/**
 * Groups calls made in the same turn of the event loop into one batch: many debates finishing a
 * turn at once become one database round trip instead of one each. The flush runs on `setImmediate`,
 * so a caller waits at most for the current event-loop turn to finish before its batch goes out.
 *
 * `flush` gets the batch and returns one outcome per item, in order: a value, or an Error for that
 * item alone. If `flush` itself throws, every item of the batch rejects with that error.
 */
export function createBatcher<Item, Result>(
  flush: (items: Item[]) => Promise<(Result | Error)[]>,
): (item: Item) => Promise<Result> {
  let pending: { item: Item; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];

  const run = async () => {
    const batch = pending;
    pending = [];
    try {
      const outcomes = await flush(batch.map((entry) => entry.item));
      batch.forEach((entry, index) => {
        const outcome = outcomes[index];
        if (outcome instanceof Error) entry.reject(outcome);
        else if (index < outcomes.length) entry.resolve(outcome as Result);
        else entry.reject(new Error("batch flush returned fewer outcomes than items"));
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  };

  return (item) =>
    new Promise<Result>((resolve, reject) => {
      if (pending.length === 0) setImmediate(run);
      pending.push({ item, resolve, reject });
    });
}
