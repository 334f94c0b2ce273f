import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createModelFactory } from "../../src/debate/model-factory";
import { createProviderCache } from "../../src/debate/provider-cache";
import { createSessionReader } from "../../src/debate/session-reader";
import { createSessionStore } from "../../src/debate/session-store";
import { createTurnRunner } from "../../src/debate/turn-runner";
import { expectContiguousTurns, modelTurns, startDebate } from "../helpers/debate-test-utils";
import { eventually } from "../helpers/eventually";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "../helpers/fake-openai-server";
import { spawnApp } from "../helpers/spawn-app";
import { createTestDatabase, type TestDatabase, testRedisUrl } from "../helpers/test-db";
import { createTestStack, type TestStack } from "../helpers/test-stack";

const workerScript = fileURLToPath(new URL("../helpers/engine-worker.ts", import.meta.url));

/** A finished debate of `rounds` rounds: contiguous turns, A→B alternation, one turn per speaker per round. */
async function expectCleanDebate(stack: TestStack, sessionId: string, rounds: number) {
  const detail = await stack.debate.getSession(sessionId);
  expect(detail.session).toMatchObject({ status: "finished", stopReason: "max_rounds" });
  expectContiguousTurns(detail.messages);
  const turns = modelTurns(detail.messages);
  expect(turns.map((turn) => [turn.authorName, turn.round])).toEqual(
    Array.from({ length: rounds * 2 }, (_, index) => [
      index % 2 === 0 ? "ChatGPT" : "DeepSeek",
      Math.floor(index / 2) + 1,
    ]),
  );
  return detail;
}

const sessionsWithCalls = (stack: TestStack) =>
  new Set(
    stack.logLines
      .map((line) => JSON.parse(line))
      .filter((line) => line.msg === "llm call")
      .map((line) => line.session as string),
  );

describe("in-process coordination", () => {
  test("the basic 2-round debate runs on the memory coordination too", async () => {
    const stack = await createTestStack({ coordination: "memory" });
    try {
      expect(stack.coordination.kind).toBe("memory");
      const { id, recorder } = await startDebate(stack, { topic: "Memory or Redis?", maxRounds: 2 });
      const end = await recorder.waitFor("session-end");
      expect(end.stopReason).toBe("max_rounds");
      await expectCleanDebate(stack, id, 2);
      expect(stack.fakeLlm.requests).toHaveLength(4);
      expect(recorder.events.filter((event) => event.type === "turn-end")).toHaveLength(4);
    } finally {
      await stack.stop();
    }
  }, 15_000);
  test("a debate started while the store cannot schedule it still runs: reconciliation puts it on the schedule", async () => {
    const stack = await createTestStack({ coordination: "memory", scheduler: { reconcileMs: 200 } });
    try {
      const coordination = stack.coordination;
      const markDue = coordination.markDue.bind(coordination);
      let refusals = 0;
      // The store refuses the start's wake-up (as an unreachable Redis would), then answers again.
      coordination.markDue = async (...args) => {
        if (refusals === 0) {
          refusals += 1;
          throw new Error("connection is closed");
        }
        return markDue(...args);
      };
      const { id, recorder } = await startDebate(stack, { topic: "Scheduled later?", maxRounds: 1 });
      expect(refusals).toBe(1);
      expect((await recorder.waitFor("session-end")).stopReason).toBe("max_rounds");
      await expectCleanDebate(stack, id, 1);
      expect(stack.logLines.some((line) => line.includes("could not schedule the session now"))).toBe(true);
    } finally {
      await stack.stop();
    }
  }, 15_000);
});

describe("two engines on one database and Redis", () => {
  let fakeLlm: FakeOpenAiServer;
  let testDatabase: TestDatabase;
  let first: TestStack;
  let second: TestStack;
  const redisPrefix = `rt-test:${crypto.randomUUID()}:`;

  beforeAll(async () => {
    fakeLlm = await startFakeOpenAiServer();
    testDatabase = await createTestDatabase();
    const shared = {
      fakeLlm,
      testDatabase,
      redisPrefix,
      scheduler: { leaseMs: 3000, maxConcurrent: 5 },
    };
    first = await createTestStack(shared);
    second = await createTestStack(shared);
  });
  afterAll(async () => {
    await first.stop();
    await second.stop();
    await testDatabase.drop();
    await fakeLlm.stop();
  });

  test("10 debates at once: all finish, both instances run some, no turn is produced twice", async () => {
    fakeLlm.reset();
    fakeLlm.setResponder(() => ({ delayMs: 20 }));
    const rounds = 3;
    const started: Awaited<ReturnType<typeof startDebate>>[] = [];
    for (let index = 0; index < 10; index++) {
      // Half are started through each instance, as two doors (bot, API) would.
      const door = index % 2 === 0 ? first : second;
      started.push(await startDebate(door, { topic: `Parallel debate #${index}`, maxRounds: rounds }));
    }
    let sawBothBusy = false;
    await eventually(
      async () => {
        if (first.engine.scheduler.localSessions().length && second.engine.scheduler.localSessions().length)
          sawBothBusy = true;
        return started.every(({ recorder }) => recorder.events.some((event) => event.type === "session-end"));
      },
      { timeoutMs: 15_000, message: "all debates to end" },
    );
    for (const { id } of started) await expectCleanDebate(first, id, rounds);
    // Exactly one LLM call per turn: no turn was run by both instances, not even once.
    expect(fakeLlm.requests).toHaveLength(10 * rounds * 2);
    const ranOnFirst = sessionsWithCalls(first);
    const ranOnSecond = sessionsWithCalls(second);
    expect(ranOnFirst.size).toBeGreaterThan(0);
    expect(ranOnSecond.size).toBeGreaterThan(0);
    expect(new Set([...ranOnFirst, ...ranOnSecond]).size).toBe(10);
    expect(sawBothBusy).toBe(true);
  }, 20_000);

  test("a stop sent through one instance aborts the turn running on the other within 1 s", async () => {
    fakeLlm.reset();
    fakeLlm.setResponder(() => ({ hang: true }));
    const { id, recorder } = await startDebate(first, { topic: "Stop across instances", maxRounds: 2 });
    await fakeLlm.waitForRequests(1);
    await eventually(
      () => [first, second].some((stack) => stack.engine.scheduler.localSessions().includes(id)),
      { timeoutMs: 2000, message: "a holder" },
    );
    const holder = first.engine.scheduler.localSessions().includes(id) ? first : second;
    const other = holder === first ? second : first;
    const stoppedAt = Date.now();
    await other.debate.stopSession(id, "admin");
    await fakeLlm.waitForAbort(0, 1000);
    expect(fakeLlm.requests[0]!.endedAt! - stoppedAt).toBeLessThan(1000);
    await eventually(() => holder.engine.scheduler.localSessions().length === 0, {
      timeoutMs: 2000,
      message: "holder to let go",
    });
    expect((await holder.debate.getSession(id)).messages).toEqual([]);
    expect((await recorder.waitFor("session-end")).stopReason).toBe("admin");
  }, 10_000);

  test("two runners racing on one session (a lapsed lease): the unique turn index lets one win", async () => {
    fakeLlm.reset();
    fakeLlm.setResponder(() => ({ delayMs: 30 }));
    // Sessions are picked up by the schedulers; take one that is not due anywhere by creating it
    // running through the service of an idle stack that shares the database but no Redis prefix.
    const idle = await createTestStack({ fakeLlm, testDatabase, startEngine: false });
    try {
      const created = await idle.debate.createSession({
        topic: "Race for the turn",
        maxRounds: 2,
        verdict: false,
      });
      await idle.debate.startSession(created.session.id);
      const reader = createSessionReader(idle.db);
      const store = createSessionStore({ db: idle.db, reader, events: idle.events, logger: idle.logger });
      const makeRunner = () =>
        createTurnRunner({
          reader,
          store,
          logger: idle.logger,
          // Not started: without notifications the cache reads every turn, as a runner needs here.
          providers: createProviderCache(idle.db),
          modelFor: createModelFactory({ secretBox: idle.secretBox }),
          deltaIntervalMs: 0,
        });
      const signal = new AbortController().signal;
      const outcomes = await Promise.all([
        makeRunner().run(created.session.id, signal),
        makeRunner().run(created.session.id, signal),
      ]);
      expect(outcomes.sort()).toEqual(["ended", "not-running"]);
      await expectCleanDebate(idle, created.session.id, 2);
    } finally {
      await idle.stop();
    }
  }, 15_000);
});

describe("two engines: leases", () => {
  let fakeLlm: FakeOpenAiServer;
  let testDatabase: TestDatabase;
  let first: TestStack;
  let second: TestStack;
  const redisPrefix = `rt-test:${crypto.randomUUID()}:`;

  beforeAll(async () => {
    fakeLlm = await startFakeOpenAiServer();
    testDatabase = await createTestDatabase();
    // A lease long enough that "handed over at once" and "waited out the lease" cannot be confused.
    const shared = { fakeLlm, testDatabase, redisPrefix, scheduler: { leaseMs: 3000 } };
    first = await createTestStack(shared);
    second = await createTestStack(shared);
  });
  afterAll(async () => {
    await first.stop();
    await second.stop();
    await testDatabase.drop();
    await fakeLlm.stop();
  });

  const holderOf = async (id: string) => {
    await eventually(
      () => [first, second].some((stack) => stack.engine.scheduler.localSessions().includes(id)),
      { timeoutMs: 2000, message: "a holder" },
    );
    return first.engine.scheduler.localSessions().includes(id) ? first : second;
  };

  test("a holder that loses its lease stops its turn unwritten; the debate resumes and ends cleanly", async () => {
    fakeLlm.reset();
    fakeLlm.setResponder((_, index) => (index === 0 ? { hang: true } : { delayMs: 10 }));
    const { id, recorder } = await startDebate(first, { topic: "Lease lost", maxRounds: 1 });
    await fakeLlm.waitForRequests(1);
    await holderOf(id);
    // As if Redis failed over and lost the key: the holder must notice at its next renewal.
    const redis = new Redis(testRedisUrl, { lazyConnect: false });
    try {
      expect(await redis.del(`${redisPrefix}lock:lock:session:${id}`)).toBe(1);
    } finally {
      redis.disconnect();
    }
    // The holder renews every third of the lease; it must notice then, not when the lease would lapse.
    await fakeLlm.waitForAbort(0, 1500);
    const end = await recorder.waitFor("session-end", undefined, 8000);
    expect(end.stopReason).toBe("max_rounds");
    await expectCleanDebate(first, id, 1);
    expect(fakeLlm.requests).toHaveLength(3);
  }, 15_000);

  test("a graceful shutdown hands its debates over at once, not when the lease lapses", async () => {
    fakeLlm.reset();
    fakeLlm.setResponder((_, index) => (index === 1 ? { hang: true } : { delayMs: 10 }));
    const { id } = await startDebate(first, { topic: "Hand over", maxRounds: 2 });
    await fakeLlm.waitForRequests(2);
    const holder = await holderOf(id);
    const successor = holder === first ? second : first;
    const recorder = successor.recordEvents(id);
    await holder.app.stop();
    const stoppedAt = Date.now();
    await fakeLlm.waitForRequests(3, 2000);
    // Released and marked due on shutdown: no waiting out the 3 s lease (≥ 2 s of it would remain).
    expect(fakeLlm.requests[2]!.receivedAt - stoppedAt).toBeLessThan(1500);
    expect(fakeLlm.requests[1]!.aborted).toBe(true);
    const end = await recorder.waitFor("session-end", undefined, 5000);
    expect(end.stopReason).toBe("max_rounds");
    await expectCleanDebate(successor, id, 2);
    expect(sessionsWithCalls(successor).has(id)).toBe(true);
    expect(fakeLlm.requests).toHaveLength(5);
  }, 15_000);
});

describe("crash recovery", () => {
  test("a worker killed with SIGKILL mid-turn: another instance resumes after the lease and redoes only that turn", async () => {
    const fakeLlm = await startFakeOpenAiServer();
    const testDatabase = await createTestDatabase();
    const redisPrefix = `rt-test:${crypto.randomUUID()}:`;
    // The third request (round 2, ChatGPT) hangs in the worker; everything else answers quickly.
    fakeLlm.setResponder((_, index) => (index === 2 ? { hang: true } : { delayMs: 50 }));
    // Seeds the database and creates the session; its scheduler starts only after the crash.
    const survivor = await createTestStack({
      fakeLlm,
      testDatabase,
      redisPrefix,
      startEngine: false,
      scheduler: { leaseMs: 1000 },
    });
    const worker = spawnApp({
      script: workerScript,
      env: {
        DATABASE_URL: testDatabase.url,
        REDIS_URL: testRedisUrl,
        REDIS_PREFIX: redisPrefix,
        FAKE_LLM_URL: fakeLlm.url,
        LEASE_MS: "1000",
      },
    });
    try {
      await worker.waitFor(/engine-worker ready/, 15_000);
      const created = await survivor.debate.createSession({
        topic: "Survive a crash",
        maxRounds: 3,
        verdict: false,
      });
      const id = created.session.id;
      await survivor.debate.startSession(id);
      await fakeLlm.waitForRequests(3, 5000);
      // The third turn is in flight; the second one's write may still be landing, as the next
      // turn does not wait for it. Kill once both are committed.
      await eventually(async () => modelTurns((await survivor.debate.getSession(id)).messages).length === 2, {
        timeoutMs: 5000,
        message: "two committed turns",
      });
      worker.kill("SIGKILL");
      const killedAt = Date.now();
      await worker.exited;
      await fakeLlm.waitForAbort(2, 2000);

      const recorder = survivor.recordEvents(id);
      await survivor.app.start();
      const end = await recorder.waitFor("session-end", undefined, 8000);
      expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
      const detail = await expectCleanDebate(survivor, id, 3);
      expect(detail.messages).toHaveLength(6);
      // The worker wrote turns 0 and 1; the survivor redid turn 2 and wrote the rest.
      const workerCalls = worker
        .output()
        .split("\n")
        .filter((line) => line.includes('"msg":"llm call"'));
      expect(workerCalls).toHaveLength(2);
      expect(sessionsWithCalls(survivor).has(id)).toBe(true);
      const resumed = fakeLlm.requests[3]!;
      expect(resumed.model).toBe("gpt-test");
      // Not before the dead worker's lease lapsed (renewed every third of it, so ≥ 2/3 left).
      expect(resumed.receivedAt - killedAt).toBeGreaterThanOrEqual(600);
      expect(resumed.receivedAt - killedAt).toBeLessThan(5000);
      // One request per turn, plus the one the crash lost.
      expect(fakeLlm.requests).toHaveLength(7);
    } finally {
      worker.kill("SIGKILL");
      await worker.exited;
      await survivor.stop();
      await testDatabase.drop();
      await fakeLlm.stop();
    }
  }, 30_000);
});
