/**
 * The user in the loop and "one more round", through the service on real Postgres and Redis with
 * the fake LLM server recording every prompt: an interjection lands at the next free turn index
 * while the pipeline is a turn ahead and reaches the next speaker's prompt as the moderator's
 * question; interjections are rate-limited and refused outside a running debate; a finished or
 * stopped debate continues with the same participants, and the limits still apply.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { messages, sessions } from "../../src/db/schema";
import { INTERJECTION_INTERVAL_SEC } from "../../src/debate/debate-service";
import {
  expectContiguousTurns,
  modelTurns,
  sessionInStatus,
  setLimits,
  startDebate,
} from "../helpers/debate-test-utils";
import { eventually } from "../helpers/eventually";
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

/** A responder holding request `index` until the returned function is called. */
function holdRequest(index: number) {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  stack.fakeLlm.setResponder(async (request) => {
    if (request.index === index) await gate;
    return {};
  });
  return release;
}

const QUESTION = "What about cyclists in winter?";

describe("interjections", () => {
  test("one sent while a turn is in flight lands at the next free index and the next speaker addresses it", async () => {
    // Request 1 (DeepSeek, round 1) is held: ChatGPT's turn 0 is written meanwhile (a turn ahead).
    const release = holdRequest(1);
    const { id, recorder } = await startDebate(stack, {
      topic: "Ban cars from the centre?",
      maxRounds: 2,
      language: "en",
    });
    await stack.fakeLlm.waitForRequests(2);
    await recorder.waitFor("turn-end");
    const stored = await stack.debate.interject(id, { content: `  ${QUESTION}  `, by: "user", userId: null });
    expect(stored).toMatchObject({
      authorType: "user",
      authorName: "User",
      content: QUESTION,
      turnIndex: 1,
      round: 1,
    });
    // Announced, with its author type, for the doors to acknowledge.
    await recorder.waitFor(
      "message-created",
      (event) => event.authorType === "user" && event.messageId === stored.id,
    );
    release();
    await recorder.waitFor("session-end");
    const detail = await stack.debate.getSession(id);
    expectContiguousTurns(detail.messages);
    expect(detail.messages.map((row) => [row.turnIndex, row.authorType, row.authorName])).toEqual([
      [0, "model", "ChatGPT"],
      [1, "user", "User"],
      [2, "model", "DeepSeek"],
      [3, "model", "ChatGPT"],
      [4, "model", "DeepSeek"],
    ]);
    const requests = stack.fakeLlm.requests;
    // The call already in flight could not see it; the next speaker's prompt has it in the history
    // as the moderator's question, and its call to speak asks it to address the question.
    expect(requests[1]!.messages.some((message) => message.content.includes(QUESTION))).toBe(false);
    const next = requests[2]!.messages;
    expect(next).toContainEqual({ role: "user", content: `Question from the moderator: ${QUESTION}` });
    expect(next.at(-1)!.content).toBe(
      `Round 2/2. Your turn, ChatGPT. First address the moderator's question: "${QUESTION}"`,
    );
    // A speaker whose turn came after it in the transcript sees it in the history, and is not asked again.
    expect(requests[3]!.messages).toContainEqual({
      role: "user",
      content: `Question from the moderator: ${QUESTION}`,
    });
    expect(requests[3]!.messages.at(-1)!.content).toBe("Round 2/2. Your turn, DeepSeek.");
  });

  test("one whose event was lost is found where the run's write meant to go: the step goes after it, the next prompt has it", async () => {
    const release = holdRequest(1);
    const { id, recorder } = await startDebate(stack, { topic: "Lost events", maxRounds: 2, language: "en" });
    await stack.fakeLlm.waitForRequests(2);
    await recorder.waitFor("turn-end");
    // Stored behind the run's back (as if Redis had dropped its event): only the write can find it.
    await stack.db.insert(messages).values({
      sessionId: id,
      turnIndex: 1,
      round: 1,
      authorType: "user",
      authorName: "User",
      content: QUESTION,
    });
    release();
    await recorder.waitFor("session-end");
    const detail = await stack.debate.getSession(id);
    expectContiguousTurns(detail.messages);
    expect(detail.messages.map((row) => row.authorType)).toEqual([
      "model",
      "user",
      "model",
      "model",
      "model",
    ]);
    // The turn after the collided write (its prompt built while that write was landing) could not
    // know yet; the one after it does.
    const requests = stack.fakeLlm.requests;
    expect(requests[3]!.messages).toContainEqual({
      role: "user",
      content: `Question from the moderator: ${QUESTION}`,
    });
    // No turn was redone: the run took the interjection in and went on (a write taken for another
    // holder's would have ended the run and the turn would have been asked for again).
    expect(requests).toHaveLength(4);
    expect(recorder.events.filter((event) => event.type === "turn-end")).toHaveLength(4);
  });

  test("too frequent is rate_limited (counted from what is stored); bad content and ended debates are refused", async () => {
    const release = holdRequest(0);
    const { id, recorder } = await startDebate(stack, { topic: "Rate limits", maxRounds: 1, language: "en" });
    await stack.fakeLlm.waitForRequests(1);
    await expect(stack.debate.interject(id, { content: "   ", by: "user" })).rejects.toMatchObject({
      code: "invalid_content",
    });
    await expect(stack.debate.interject(id, { content: "x".repeat(1001), by: "user" })).rejects.toMatchObject(
      {
        code: "invalid_content",
      },
    );
    await stack.debate.interject(id, { content: "First question", by: "operator" });
    const second = stack.debate.interject(id, { content: "Second question", by: "user" });
    await expect(second).rejects.toMatchObject({ code: "rate_limited" });
    const error = await second.catch((caught) => caught);
    expect(error.details.retry_after_sec).toBeGreaterThan(0);
    expect(error.details.retry_after_sec).toBeLessThanOrEqual(INTERJECTION_INTERVAL_SEC);
    release();
    await recorder.waitFor("session-end");
    const rows = (await stack.debate.getSession(id)).messages.filter((row) => row.authorType === "user");
    expect(rows.map((row) => [row.authorName, row.content])).toEqual([["Operator", "First question"]]);
    await expect(stack.debate.interject(id, { content: "Too late", by: "user" })).rejects.toMatchObject({
      code: "invalid_state",
    });
  });
});

describe("continue", () => {
  test("a finished debate goes on for N more rounds with the same participants, the next round first", async () => {
    const { id, recorder } = await startDebate(stack, { topic: "More rounds", maxRounds: 1, language: "en" });
    await recorder.waitFor("session-end");
    await expect(stack.debate.continueSession(id, 0)).rejects.toMatchObject({ code: "invalid_input" });
    await expect(stack.debate.continueSession(id, 11)).rejects.toMatchObject({ code: "invalid_input" });
    const continued = await stack.debate.continueSession(id, 2);
    expect(continued).toMatchObject({ status: "running", maxRounds: 3, stopReason: null, finishedAt: null });
    expect(continued.resumedAt).not.toBeNull();
    await expect(stack.debate.continueSession(id, 1)).rejects.toMatchObject({ code: "invalid_state" });
    const start = await recorder.waitFor("session-start", (event) => event.continued === true);
    expect(start.maxRounds).toBe(3);
    await eventually(() => recorder.events.filter((event) => event.type === "session-end").length === 2, {
      message: "second end",
    });
    const detail = await stack.debate.getSession(id);
    expect(detail.session).toMatchObject({ status: "finished", stopReason: "max_rounds", currentRound: 3 });
    expect(modelTurns(detail.messages).map((turn) => [turn.authorName, turn.round])).toEqual([
      ["ChatGPT", 1],
      ["DeepSeek", 1],
      ["ChatGPT", 2],
      ["DeepSeek", 2],
      ["ChatGPT", 3],
      ["DeepSeek", 3],
    ]);
    expectContiguousTurns(detail.messages);
    // The continued turns see the whole history, and the new round limit.
    const fifth = stack.fakeLlm.requests[4]!.messages;
    expect(fifth.at(-1)!.content).toBe("Round 3/3. Your turn, ChatGPT.");
    expect(fifth.filter((message) => message.role === "assistant")).toHaveLength(2);
  });

  test("a debate continued long after it first started: the session timeout counts from the continue", async () => {
    const { id, recorder } = await startDebate(stack, { topic: "Back a day later", maxRounds: 1 });
    await recorder.waitFor("session-end");
    // Started a day ago, far past SESSION_TIMEOUT_SEC.
    await stack.db
      .update(sessions)
      .set({ startedAt: new Date(Date.now() - 24 * 3600_000) })
      .where(eq(sessions.id, id));
    await stack.debate.continueSession(id, 1);
    await eventually(() => recorder.events.filter((event) => event.type === "session-end").length === 2, {
      message: "second end",
    });
    const detail = await stack.debate.getSession(id);
    expect(detail.session).toMatchObject({ status: "finished", stopReason: "max_rounds", currentRound: 2 });
    expect(modelTurns(detail.messages)).toHaveLength(4);
  });

  test("a stopped debate continues where it stopped: the interrupted turn is taken again", async () => {
    const release = holdRequest(1);
    const { id, recorder } = await startDebate(stack, { topic: "Stop and go", maxRounds: 2, language: "en" });
    await stack.fakeLlm.waitForRequests(2);
    await stack.debate.stopSession(id, "user");
    release();
    await eventually(() => stack.engine.scheduler.localSessions().length === 0, { message: "run over" });
    const continued = await stack.debate.continueSession(id, 1);
    expect(continued).toMatchObject({ status: "running", maxRounds: 3 });
    await eventually(() => recorder.events.filter((event) => event.type === "session-end").length === 2, {
      message: "second end",
    });
    const detail = await stack.debate.getSession(id);
    expect(detail.session).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    expect(modelTurns(detail.messages).map((turn) => [turn.authorName, turn.round])).toEqual([
      ["ChatGPT", 1],
      ["DeepSeek", 1],
      ["ChatGPT", 2],
      ["DeepSeek", 2],
      ["ChatGPT", 3],
      ["DeepSeek", 3],
    ]);
  });

  test("limits still apply: a debate stopped for its cost limit stops again at once, without a call", async () => {
    await setLimits(stack, { SESSION_COST_LIMIT_USD: "0.00000001" });
    const { id, recorder } = await startDebate(stack, {
      topic: "Too expensive",
      maxRounds: 5,
      language: "en",
    });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "cost_limit" });
    const calls = stack.fakeLlm.requests.length;
    await stack.debate.continueSession(id, 1);
    const row = await sessionInStatus(stack, id, ["stopped"]);
    expect(row.stopReason).toBe("cost_limit");
    expect(row.maxRounds).toBe(6);
    expect(stack.fakeLlm.requests.length).toBe(calls);
    // With a higher limit (captured when it continues), it goes on.
    await setLimits(stack, { SESSION_COST_LIMIT_USD: "10" });
    await stack.debate.continueSession(id, 1);
    await eventually(() => recorder.events.filter((event) => event.type === "session-end").length === 3, {
      message: "third end",
    });
    expect((await stack.debate.getSessionRow(id)).stopReason).toBe("max_rounds");
    expect(stack.fakeLlm.requests.length).toBeGreaterThan(calls);
  });

  test("a continued debate with a verdict gets a new verdict after its new rounds", async () => {
    const { id, recorder } = await startDebate(stack, {
      topic: "Judge again",
      maxRounds: 1,
      language: "en",
      verdict: true,
    });
    await recorder.waitFor("session-end");
    await stack.debate.continueSession(id, 1);
    await eventually(() => recorder.events.filter((event) => event.type === "session-end").length === 2, {
      message: "second end",
    });
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.map((row) => [row.authorType, row.round])).toEqual([
      ["model", 1],
      ["model", 1],
      ["verdict", 1],
      ["model", 2],
      ["model", 2],
      ["verdict", 2],
    ]);
    await expect(stack.debate.requestVerdict(id)).rejects.toMatchObject({ code: "invalid_state" });
  });
});
