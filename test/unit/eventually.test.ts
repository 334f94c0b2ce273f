import { describe, expect, test } from "bun:test";
import { eventually } from "../helpers/eventually";

async function rejection(promise: Promise<void>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected eventually to give up");
}

describe("eventually", () => {
  test("resolves once a sync or async predicate turns true", async () => {
    let calls = 0;
    await eventually(() => ++calls >= 3, { intervalMs: 1 });
    expect(calls).toBe(3);
    let asyncCalls = 0;
    await eventually(async () => ++asyncCalls >= 2, { intervalMs: 1 });
    expect(asyncCalls).toBe(2);
  });

  test("resolves once an assertion function stops throwing", async () => {
    const values: number[] = [];
    await eventually(
      () => {
        values.push(values.length);
        expect(values.length).toBeGreaterThan(2);
      },
      { intervalMs: 1 },
    );
    expect(values).toEqual([0, 1, 2]);
  });

  test("on timeout, says what was awaited and the assertion's own failure", async () => {
    const error = await rejection(
      eventually(() => expect(1 + 1).toBe(3), { timeoutMs: 30, intervalMs: 5, message: "the sum" }),
    );
    expect(error.message).toStartWith("eventually: the sum not met within 30 ms; last error:");
    expect(error.message).toContain("Expected: 3");
    expect(error.message).toContain("Received: 2");
    expect(error.cause).toBeInstanceOf(Error);
  });

  test("on timeout of a predicate, calls a message function to describe the state then", async () => {
    let state = 0;
    const started = performance.now();
    const error = await rejection(
      eventually(() => ++state > 1_000_000, {
        timeoutMs: 40,
        message: () => `state > 1e6 (reached ${state})`,
      }),
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(40);
    expect(error.message).toMatch(
      /^eventually: state > 1e6 \(reached \d+\) not met within 40 ms; the check returned false$/,
    );
    expect(state).toBeGreaterThan(1);
  });
});
