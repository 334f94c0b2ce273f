import { afterAll, beforeAll, expect, test } from "bun:test";
import { createDebateService } from "../../src/debate/debate-service";
import { createScheduler } from "../../src/debate/scheduler";
import { createSessionReader } from "../../src/debate/session-reader";
import { createSessionStore } from "../../src/debate/session-store";
import type { TurnRunner } from "../../src/debate/turn-runner";
import { eventually } from "../helpers/eventually";
import { createManualClock } from "../helpers/manual-clock";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
beforeAll(async () => {
  // The stack's own engine stays off: this test drives a scheduler whose runner always crashes.
  stack = await createTestStack({ startEngine: false });
  await stack.events.start();
});
afterAll(async () => {
  await stack.events.stop();
  await stack.stop();
});

test("a session whose run keeps crashing is failed with reason error after the retry cap", async () => {
  // Time moves only when the test says so: a retry comes after its delay, not before.
  const clock = createManualClock();
  let runs = 0;
  const crashing: TurnRunner = {
    async run() {
      runs++;
      throw new Error("database exploded");
    },
  };
  // The core's parts as the engine wires them, with the crashing runner in place of the real one.
  const reader = createSessionReader(stack.db);
  const store = createSessionStore({ db: stack.db, reader, events: stack.events, logger: stack.logger });
  const scheduler = createScheduler({
    reader,
    store,
    coordination: stack.coordination,
    events: stack.events,
    runner: crashing,
    logger: stack.logger,
    options: { pollMs: 10, retryDelayMs: 5_000, leaseMs: 60_000, maxRunFailures: 3 },
    clock,
  });
  const debate = createDebateService({
    db: stack.db,
    store,
    reader,
    settings: stack.settings,
    waker: scheduler,
    secretBox: stack.secretBox,
  });
  await scheduler.start();
  try {
    const created = await debate.createSession({ topic: "Crash loop?" });
    const recorder = stack.recordEvents(created.session.id);
    await debate.startSession(created.session.id);
    await eventually(() => runs === 1);
    // The scheduler keeps polling while time passes; the crashed session is not due before its delay.
    for (let elapsed = 0; elapsed < 4_800; elapsed += 100) await clock.advance(100);
    expect(runs).toBe(1);
    const advanceUntil = (done: () => boolean) =>
      eventually(async () => {
        await clock.advance(100);
        return done();
      });
    await advanceUntil(() => runs === 2);
    await advanceUntil(() => runs === 3);
    const end = await recorder.waitFor("session-end");
    expect(end.status).toBe("failed");
    expect(end.stopReason).toBe("error");
    expect(runs).toBe(3);
    const { session } = await debate.getSession(created.session.id);
    expect(session.stopDetail).toBe("internal error: the debate could not continue");
    // Given up means given up: no further run is attempted.
    expect(await stack.coordination.dueMembers(clock.now() + 60_000, 10)).not.toContain(created.session.id);
  } finally {
    await scheduler.stop();
  }
});
