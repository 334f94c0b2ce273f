/**
 * The embedded default: the whole engine on PGlite with in-process coordination, as `bun run start`
 * runs it on a bare machine. The turn write is one hand-written statement; these tests check it does
 * on PGlite what the Postgres tests check it does on the server.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  expectContiguousTurns,
  isSummaryRequest,
  modelTurns,
  setLimits,
  startDebate,
} from "../helpers/debate-test-utils";
import { defaultReplyText } from "../helpers/fake-openai-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack({ database: "pglite", coordination: "memory" });
  expect(stack.testDatabase.database.kind).toBe("pglite");
});
afterAll(async () => {
  await stack.stop();
});
beforeEach(async () => {
  stack.fakeLlm.reset();
  await setLimits(stack);
});

describe("debates on the embedded database", () => {
  test("a 2-model, 2-round debate writes 4 turns A→B→A→B, rows matching what the events said", async () => {
    const { id, recorder } = await startDebate(stack, {
      topic: "Is PGlite enough for one bot?",
      maxRounds: 2,
    });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds", rounds: 2 });
    const detail = await stack.debate.getSession(id);
    expect(detail.session.finishedAt).toBeInstanceOf(Date);
    const turns = modelTurns(detail.messages);
    expect(turns.map((turn) => [turn.authorName, turn.round, turn.turnIndex])).toEqual([
      ["ChatGPT", 1, 0],
      ["DeepSeek", 1, 1],
      ["ChatGPT", 2, 2],
      ["DeepSeek", 2, 3],
    ]);
    const turnEnds = recorder.events.filter((event) => event.type === "turn-end");
    expect(turnEnds.map((event) => [event.messageId, event.content, event.cost])).toEqual(
      turns.map((turn) => [turn.id, turn.content, turn.cost]),
    );
    for (const turn of turns) {
      expect(turn.tokensIn).toBeGreaterThan(0);
      expect(Number(turn.cost)).toBeGreaterThan(0);
    }
    expect(end.totals).toEqual(detail.totals);
    // The third prompt carries both earlier turns.
    const third = stack.fakeLlm.requests[2]!.messages.map((message) => message.content).join("\n");
    expect(third).toContain(turns[0]!.content);
    expect(third).toContain(turns[1]!.content);
  });

  test("a 401 excludes the participant in the database and ends the debate with no_participants", async () => {
    stack.fakeLlm.setResponder((request) =>
      request.model === "gpt-test" ? { status: 401, errorMessage: "Incorrect API key provided" } : {},
    );
    const { id, recorder } = await startDebate(stack, { topic: "Who holds the key?", maxRounds: 3 });
    const excluded = await recorder.waitFor("participant-excluded");
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "no_participants" });
    const detail = await stack.debate.getSession(id);
    const chatGpt = detail.participants.find((participant) => participant.displayName === "ChatGPT")!;
    expect(chatGpt.status).toBe("excluded");
    expect(chatGpt.exclusionReason).toContain("401");
    expect(excluded.reason).toBe(chatGpt.exclusionReason!);
    const deepSeek = detail.participants.find((participant) => participant.displayName === "DeepSeek")!;
    expect(deepSeek.status).toBe("active");
    expect(detail.messages.map((message) => message.authorType)).toEqual(["system"]);
  });

  test("compression persists a summary row and keeps the debate going", async () => {
    await setLimits(stack, { CONTEXT_TOKEN_LIMIT: 1000 });
    let turn = 0;
    stack.fakeLlm.setResponder((request) =>
      isSummaryRequest(request)
        ? { text: "SUMMARY: both sides argued about trams." }
        : { text: [0, 1, 2].map((part) => defaultReplyText(request.model, ++turn * 5 + part)).join(" ") },
    );
    const { id, recorder } = await startDebate(stack, { topic: "Trams or buses?", maxRounds: 5 });
    await recorder.waitFor("session-end");
    const detail = await stack.debate.getSession(id);
    expect(detail.session.stopReason).toBe("max_rounds");
    expect(modelTurns(detail.messages)).toHaveLength(10);
    expectContiguousTurns(detail.messages);
    const summaries = detail.messages.filter((message) => message.authorType === "summary");
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries[0]!.summaryUntil).not.toBeNull();
  });

  test("a stop during a slow stream ends the session and no turn is written after it", async () => {
    stack.fakeLlm.setResponder(() => ({ chunkDelayMs: 100 }));
    const { id, recorder } = await startDebate(stack, { topic: "Stop me", maxRounds: 5 });
    await recorder.waitFor("turn-start");
    const stopped = await stack.debate.stopSession(id, "user");
    expect(stopped).toMatchObject({ status: "stopped", stopReason: "user" });
    await recorder.waitFor("session-end");
    await stack.restart();
    const detail = await stack.debate.getSession(id);
    expect(detail.session.status).toBe("stopped");
    expect(modelTurns(detail.messages)).toHaveLength(0);
  });
});
