import { afterAll, beforeAll, expect, test } from "bun:test";
import { createDebateService } from "../../src/debate/debate-service";
import { createScheduler } from "../../src/debate/scheduler";
import { createSessionReader } from "../../src/debate/session-reader";
import { createSessionStore } from "../../src/debate/session-store";
import type { TurnRunner } from "../../src/debate/turn-runner";
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
    options: { pollMs: 10, retryDelayMs: 10, leaseMs: 1_000, maxRunFailures: 3 },
  });
  const debate = createDebateService({
    db: stack.db,
    store,
    reader,
    settings: stack.settings,
    waker: scheduler,
  });
  await scheduler.start();
  try {
    const created = await debate.createSession({ topic: "Crash loop?" });
    const recorder = stack.recordEvents(created.session.id);
    await debate.startSession(created.session.id);
    const end = await recorder.waitFor("session-end");
    expect(end.status).toBe("failed");
    expect(end.stopReason).toBe("error");
    expect(runs).toBe(3);
    const { session } = await debate.getSession(created.session.id);
    expect(session.stopDetail).toBe("internal error: the debate could not continue");
    // Given up means given up: no further run is attempted.
    expect(await stack.coordination.dueMembers(Date.now() + 60_000, 10)).not.toContain(created.session.id);
  } finally {
    await scheduler.stop();
  }
});
