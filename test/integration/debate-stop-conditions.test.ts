import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { modelTurns, setLimits, startDebate } from "../helpers/debate-test-utils";
import { eventually } from "../helpers/eventually";
import type { FakeReply } from "../helpers/fake-openai-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.stop();
});
beforeEach(async () => {
  stack.fakeLlm.reset();
  await setLimits(stack);
});

const CHATGPT = "gpt-test";
const DEEPSEEK = "deepseek-flash";

/** A long answer streamed one word every 100 ms: several seconds in flight. */
const slowStream: FakeReply = {
  chunks: Array.from({ length: 60 }, (_, index) => `word${index} `),
  chunkDelayMs: 100,
};

describe("stop requested", () => {
  test.each(["user", "admin"] as const)(
    "a %s stop during a slow stream aborts the request within 1 s and no turn is written after it",
    async (reason) => {
      stack.fakeLlm.setResponder(() => slowStream);
      const { id, recorder } = await startDebate(stack, { topic: `Stop me (${reason})`, maxRounds: 3 });
      await stack.fakeLlm.waitForRequests(1);
      // Let the stream get going: the first chunks are on the wire.
      await recorder.waitFor("turn-start");
      await Bun.sleep(250);
      const stoppedAt = Date.now();
      const stopped = await stack.debate.stopSession(id, reason);
      expect(stopped.status).toBe("stopped");
      expect(stopped.stopReason).toBe(reason);
      await stack.fakeLlm.waitForAbort(0, 1000);
      expect(stack.fakeLlm.requests[0]!.endedAt! - stoppedAt).toBeLessThan(1000);
      // The local run is over: whatever it was going to write, it has had its chance.
      await eventually(() => stack.engine.scheduler.localSessions().length === 0, {
        timeoutMs: 3000,
        message: "local run to end",
      });
      const detail = await stack.debate.getSession(id);
      expect(detail.session.status).toBe("stopped");
      expect(detail.session.stopReason).toBe(reason);
      expect(detail.messages).toEqual([]);
      expect(stack.fakeLlm.requests.length).toBe(1);
      const ends = recorder.events.filter((event) => event.type === "session-end");
      expect(ends).toHaveLength(1);
      expect(ends[0]).toMatchObject({ status: "stopped", stopReason: reason });
    },
  );

  test("a stop while the adapter waits out a retry-after ends the wait: no further request", async () => {
    stack.fakeLlm.setResponder(() => ({ status: 429, retryAfterSeconds: 30 }));
    const { id } = await startDebate(stack, { topic: "Stop during backoff", maxRounds: 2 });
    await stack.fakeLlm.waitForRequests(1);
    // The 429 was answered; the adapter now sleeps (the 30 s fit in the 60 s turn timeout).
    await stack.fakeLlm.waitFor((requests) => requests[0]?.endedAt !== undefined);
    await stack.debate.stopSession(id, "admin");
    await eventually(() => stack.engine.scheduler.localSessions().length === 0, {
      timeoutMs: 1000,
      message: "local run to end",
    });
    const detail = await stack.debate.getSession(id);
    expect(detail.session.stopReason).toBe("admin");
    expect(detail.messages).toEqual([]);
    expect(stack.fakeLlm.requests.length).toBe(1);
  });

  test('a stop with reason "error" marks the session failed with its detail', async () => {
    stack.fakeLlm.setResponder(() => ({ hang: true }));
    const { id, recorder } = await startDebate(stack, { topic: "Fail me", maxRounds: 2 });
    await stack.fakeLlm.waitForRequests(1);
    const failed = await stack.debate.stopSession(id, "error", "operator pulled the plug");
    expect(failed.status).toBe("failed");
    expect(failed.stopReason).toBe("error");
    expect(failed.stopDetail).toBe("operator pulled the plug");
    await stack.fakeLlm.waitForAbort(0, 1000);
    await recorder.waitFor("session-end", (event) => event.status === "failed");
    await eventually(() => stack.engine.scheduler.localSessions().length === 0, {
      timeoutMs: 3000,
      message: "local run to end",
    });
    expect((await stack.debate.getSession(id)).messages).toEqual([]);
  });
});

describe("limits", () => {
  test("max_rounds: one round is two turns, then the debate finishes", async () => {
    const { id, recorder } = await startDebate(stack, { topic: "One round only", maxRounds: 1 });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds", rounds: 1 });
    const detail = await stack.debate.getSession(id);
    expect(modelTurns(detail.messages).map((turn) => [turn.authorName, turn.round])).toEqual([
      ["ChatGPT", 1],
      ["DeepSeek", 1],
    ]);
    expect(detail.session.finishedAt).not.toBeNull();
    expect(stack.fakeLlm.requests.length).toBe(2);
  });

  test("turn timeout: the hanging request is aborted and the turn passes on; an answer resets the count", async () => {
    await setLimits(stack, { TURN_TIMEOUT_SEC: 1 });
    let chatGptCalls = 0;
    stack.fakeLlm.setResponder((request) =>
      request.model === CHATGPT && ++chatGptCalls === 1 ? { hang: true } : {},
    );
    const { id, recorder } = await startDebate(stack, { topic: "Slow starter", maxRounds: 2 });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    const first = stack.fakeLlm.requests[0]!;
    expect(first.aborted).toBe(true);
    const held = first.endedAt! - first.receivedAt;
    expect(held).toBeGreaterThanOrEqual(900);
    expect(held).toBeLessThan(3000);
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.map((row) => [row.authorType, row.authorName])).toEqual([
      ["system", "system"],
      ["model", "DeepSeek"],
      ["model", "ChatGPT"],
      ["model", "DeepSeek"],
    ]);
    expect(detail.messages[0]!.content).toContain("ChatGPT");
    const chatGpt = detail.participants.find((participant) => participant.displayName === "ChatGPT")!;
    expect(chatGpt.status).toBe("active");
    expect(chatGpt.consecutiveTimeouts).toBe(0);
  }, 10_000);

  test("turn_timeout: a participant timing out twice in a row is excluded and, one left, the debate ends", async () => {
    await setLimits(stack, { TURN_TIMEOUT_SEC: 1 });
    stack.fakeLlm.setResponder((request) => (request.model === CHATGPT ? { hang: true } : {}));
    const { id, recorder } = await startDebate(stack, { topic: "Never answers", maxRounds: 5 });
    const excluded = await recorder.waitFor("participant-excluded");
    expect(excluded.name).toBe("ChatGPT");
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "turn_timeout" });
    const chatGptRequests = stack.fakeLlm.requests.filter((request) => request.model === CHATGPT);
    expect(chatGptRequests).toHaveLength(2);
    for (const request of chatGptRequests) expect(request.aborted).toBe(true);
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.map((row) => [row.authorType, row.authorName, row.round])).toEqual([
      ["system", "system", 1],
      ["model", "DeepSeek", 1],
      ["system", "system", 2],
    ]);
    expect(detail.messages[2]!.id).toBe(excluded.messageId);
    const chatGpt = detail.participants.find((participant) => participant.displayName === "ChatGPT")!;
    expect(chatGpt).toMatchObject({ status: "excluded", consecutiveTimeouts: 2 });
    expect(chatGpt.exclusionReason).toContain("timed out");
  }, 10_000);

  test("session_timeout: the in-flight turn is cut at the session deadline and the debate stops", async () => {
    await setLimits(stack, { SESSION_TIMEOUT_SEC: 1 });
    stack.fakeLlm.setResponder((_, index) => (index < 2 ? { delayMs: 100 } : { hang: true }));
    const { id, recorder } = await startDebate(stack, { topic: "Out of time", maxRounds: 10 });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "session_timeout" });
    const detail = await stack.debate.getSession(id);
    const startedAt = detail.session.startedAt!.getTime();
    // Normally the third request (hanging) is the one cut; on a loaded machine it may be an earlier one.
    const requests = stack.fakeLlm.requests;
    const last = requests.at(-1)!;
    expect(last.aborted).toBe(true);
    // Cut at the session deadline (1 s after the start), not at the 60 s turn timeout.
    expect(last.endedAt! - startedAt).toBeGreaterThanOrEqual(900);
    expect(last.endedAt! - startedAt).toBeLessThan(2500);
    // Only the answered turns, and no "did not answer in time" notice: the session ran out, not the participant.
    expect(detail.messages.map((row) => row.authorType)).toEqual(Array(requests.length - 1).fill("model"));
    expect(detail.participants.every((participant) => participant.status === "active")).toBe(true);
  }, 10_000);

  test("token_limit: the debate stops once the session's tokens reach the limit", async () => {
    await setLimits(stack, { SESSION_TOKEN_LIMIT: 100 });
    stack.fakeLlm.setResponder(() => ({ promptTokens: 150, completionTokens: 20 }));
    const { id, recorder } = await startDebate(stack, { topic: "Token hungry", maxRounds: 5 });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "token_limit" });
    expect(end.totals).toMatchObject({ tokensIn: 150, tokensOut: 20 });
    const detail = await stack.debate.getSession(id);
    expect(modelTurns(detail.messages)).toHaveLength(1);
    expect(stack.fakeLlm.requests).toHaveLength(1);
  });

  test("cost_limit: the debate stops once the exact cost reaches the limit", async () => {
    // ChatGPT: 1000 input tokens × $0.15/1M = $0.00015; DeepSeek: × $0.28/1M = $0.00028.
    await setLimits(stack, { SESSION_COST_LIMIT_USD: "0.0004", SESSION_TOKEN_LIMIT: 1_000_000 });
    stack.fakeLlm.setResponder(() => ({ promptTokens: 1000, completionTokens: 0 }));
    const { id, recorder } = await startDebate(stack, { topic: "Expensive talk", maxRounds: 5 });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "cost_limit" });
    expect(end.totals.cost).toBe("0.00043000");
    const detail = await stack.debate.getSession(id);
    expect(modelTurns(detail.messages).map((turn) => turn.cost)).toEqual(["0.00015000", "0.00028000"]);
    expect(detail.totals.cost).toBe("0.00043000");
  });

  test("no_participants: a participant excluded by a provider error leaves one, and the debate ends", async () => {
    stack.fakeLlm.setResponder((request) =>
      request.model === DEEPSEEK ? { status: 403, errorMessage: "Model access denied" } : {},
    );
    const { id, recorder } = await startDebate(stack, { topic: "Two become one", maxRounds: 3 });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "no_participants" });
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.map((row) => [row.authorType, row.authorName])).toEqual([
      ["model", "ChatGPT"],
      ["system", "system"],
    ]);
    expect(detail.participants.map((participant) => participant.status)).toEqual(["active", "excluded"]);
    expect(stack.fakeLlm.requests).toHaveLength(2);
  });

  test("limits are captured when the session starts: a later settings change does not alter it", async () => {
    await setLimits(stack, { SESSION_TOKEN_LIMIT: 100 });
    stack.fakeLlm.setResponder(() => ({ promptTokens: 150, delayMs: 100 }));
    const { recorder } = await startDebate(stack, { topic: "Captured limits", maxRounds: 3 });
    await setLimits(stack);
    const end = await recorder.waitFor("session-end");
    expect(end.stopReason).toBe("token_limit");
  });
});
