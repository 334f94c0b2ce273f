/**
 * The moderator's verdict through the service, on real Postgres and Redis, against the fake LLM
 * server: what the moderator is asked (the whole transcript, the sections, the session's language),
 * the row it leaves (author_type, tokens, cost), the end after it, a failing moderator, the
 * setting that picks it, and a verdict asked for after a stop.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { providers } from "../../src/db/schema";
import { modelTurns, sessionInStatus, setLimits, startDebate } from "../helpers/debate-test-utils";
import { eventually } from "../helpers/eventually";
import type { FakeRequestRecord } from "../helpers/fake-openai-server";
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
  await stack.settings.update({ MODERATOR_PROVIDER_ID: "" }, "test");
});

const isVerdictRequest = (request: FakeRequestRecord) =>
  request.messages[0]?.content.startsWith("You are the impartial moderator") === true;

describe("verdict after the last round", () => {
  test("the moderator gets the whole transcript and writes the synthesis; its row is accounted; the session finishes after it", async () => {
    stack.fakeLlm.setResponder((request) =>
      isVerdictRequest(request)
        ? {
            text: "## Where the participants agree\nBoth like trams.\n\n## Consensus\nhigh",
            completionTokens: 40,
          }
        : {},
    );
    const { id, recorder } = await startDebate(stack, {
      topic: "Trams or buses for a mid-sized city?",
      maxRounds: 2,
      language: "en",
      verdict: true,
    });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds", rounds: 2 });
    const detail = await stack.debate.getSession(id);
    const turns = modelTurns(detail.messages);
    expect(turns).toHaveLength(4);
    // The verdict is the last row, after every turn, accounted like a turn.
    const verdict = detail.messages.at(-1)!;
    expect(verdict).toMatchObject({
      authorType: "verdict",
      authorName: "ChatGPT",
      participantId: null,
      round: 2,
    });
    expect(verdict.content).toContain("Both like trams.");
    expect(verdict.tokensIn).toBeGreaterThan(0);
    expect(verdict.tokensOut).toBe(40);
    expect(Number(verdict.cost)).toBeGreaterThan(0);
    expect(verdict.turnIndex).toBe(turns.at(-1)!.turnIndex + 1);
    // The session's totals include the verdict's call.
    expect(end.totals.tokensOut).toBe(turns.reduce((sum, turn) => sum + turn.tokensOut, 0) + 40);
    // What the moderator was asked: the first enabled provider (ChatGPT), every turn with its speaker
    // and round, the sections of the synthesis, in the session's language.
    const requests = stack.fakeLlm.requests;
    expect(requests).toHaveLength(5);
    const asked = requests[4]!;
    expect(isVerdictRequest(asked)).toBe(true);
    expect(asked.model).toBe("gpt-test");
    const prompt = asked.messages.map((message) => message.content).join("\n");
    expect(prompt).toContain("Topic of the debate: Trams or buses for a mid-sized city?");
    for (const turn of turns)
      expect(prompt).toContain(`[round ${turn.round}] ${turn.authorName}: ${turn.content}`);
    for (const heading of [
      "Where the participants agree",
      "Where they differ, and why",
      "The strongest argument of each",
      "Open questions",
      "Consensus",
    ])
      expect(asked.messages[0]!.content).toContain(`## ${heading}`);
    expect(asked.messages[0]!.content).toContain("high, medium, low");
    expect(asked.messages[0]!.content).toContain("Write in English");
    // Announced as a message event carrying its author type, before the end.
    const created = recorder.events.find(
      (event) => event.type === "message-created" && event.authorType === "verdict",
    );
    expect(created).toMatchObject({ messageId: verdict.id, content: verdict.content });
    const types = recorder.events.map((event) => event.type);
    expect(types.indexOf("message-created")).toBeLessThan(types.indexOf("session-end"));
    // The log line of the call says it was the verdict.
    const calls = stack.logLines
      .map((line) => JSON.parse(line))
      .filter((line) => line.msg === "llm call" && line.session === id);
    expect(calls.map((call) => call.kind)).toEqual(["turn", "turn", "turn", "turn", "verdict"]);
  });

  test("a Russian session asks for the synthesis in Russian with Russian headings", async () => {
    const { recorder } = await startDebate(stack, {
      topic: "Нужны ли городу трамваи?",
      maxRounds: 1,
      verdict: true,
    });
    await recorder.waitFor("session-end");
    const asked = stack.fakeLlm.requests.find(isVerdictRequest)!;
    expect(asked.messages[0]!.content).toContain("Write in Russian");
    expect(asked.messages[0]!.content).toContain("## В чём участники согласны");
    expect(asked.messages[0]!.content).toContain("высокий, средний, низкий");
  });

  test("MODERATOR_PROVIDER_ID picks the moderator", async () => {
    const [deepSeek] = await stack.db.select().from(providers).where(eq(providers.name, "DeepSeek"));
    await stack.settings.update({ MODERATOR_PROVIDER_ID: deepSeek!.id }, "test");
    const { id, recorder } = await startDebate(stack, {
      topic: "Who moderates?",
      maxRounds: 1,
      verdict: true,
    });
    await recorder.waitFor("session-end");
    expect(stack.fakeLlm.requests.find(isVerdictRequest)!.model).toBe("deepseek-flash");
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.at(-1)).toMatchObject({ authorType: "verdict", authorName: "DeepSeek" });
  });

  test("a failing moderator does not lose the debate: it finishes, with a note that the verdict could not be written", async () => {
    stack.fakeLlm.setResponder((request) =>
      isVerdictRequest(request) ? { status: 400, errorMessage: "bad" } : {},
    );
    const { id, recorder } = await startDebate(stack, {
      topic: "Failing moderator",
      maxRounds: 1,
      language: "en",
      verdict: true,
    });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    const detail = await stack.debate.getSession(id);
    expect(modelTurns(detail.messages)).toHaveLength(2);
    expect(detail.messages.some((row) => row.authorType === "verdict")).toBe(false);
    const note = detail.messages.at(-1)!;
    expect(note.authorType).toBe("system");
    expect(note.content).toStartWith("The moderator's verdict could not be written (");
    // Asked once: a 400 is not retried, and the session is not run again for it.
    expect(stack.fakeLlm.requests.filter(isVerdictRequest)).toHaveLength(1);
  });

  test("verdict: false ends after the last round without a moderator", async () => {
    const { id, recorder } = await startDebate(stack, { topic: "No verdict", maxRounds: 1, verdict: false });
    await recorder.waitFor("session-end");
    expect(stack.fakeLlm.requests.some(isVerdictRequest)).toBe(false);
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.map((row) => row.authorType)).toEqual(["model", "model"]);
  });
});

describe("verdict on request", () => {
  test("a stopped debate gets one on request; it stays stopped; a second request is refused", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The second turn waits until the debate is stopped.
    stack.fakeLlm.setResponder(async (request) => {
      if (request.index === 1) await gate;
      return isVerdictRequest(request) ? { text: "## Open questions\nMany." } : {};
    });
    const { id, recorder } = await startDebate(stack, {
      topic: "Stop, then judge",
      maxRounds: 3,
      language: "en",
    });
    await recorder.waitFor("turn-end");
    await stack.fakeLlm.waitForRequests(2);
    // While running, a verdict is refused.
    await expect(stack.debate.requestVerdict(id)).rejects.toMatchObject({ code: "invalid_state" });
    await stack.debate.stopSession(id, "user");
    release();
    await eventually(() => stack.engine.scheduler.localSessions().length === 0, { message: "run over" });
    const requested = await stack.debate.requestVerdict(id);
    expect(requested.verdictRequestedAt).not.toBeNull();
    expect(requested.status).toBe("stopped");
    const created = await recorder.waitFor(
      "message-created",
      (event) => event.authorType === "verdict",
      15_000,
    );
    await eventually(async () => (await stack.debate.getSessionRow(id)).verdictRequestedAt === null, {
      message: "request cleared",
    });
    const detail = await stack.debate.getSession(id);
    expect(detail.session).toMatchObject({ status: "stopped", stopReason: "user" });
    const verdict = detail.messages.at(-1)!;
    expect(verdict).toMatchObject({
      id: created.messageId,
      authorType: "verdict",
      content: "## Open questions\nMany.",
    });
    expect(Number(verdict.cost)).toBeGreaterThan(0);
    // The moderator saw the one turn written before the stop.
    const turn = modelTurns(detail.messages)[0]!;
    const asked = stack.fakeLlm.requests.find(isVerdictRequest)!;
    expect(asked.messages.map((message) => message.content)).toContain(
      `[round 1] ${turn.authorName}: ${turn.content}`,
    );
    await expect(stack.debate.requestVerdict(id)).rejects.toMatchObject({
      code: "invalid_state",
      message: "The session already has a verdict.",
    });
    // No second session-end: the session had already ended.
    expect(recorder.events.filter((event) => event.type === "session-end")).toHaveLength(1);
  });

  test("a finished debate without a verdict gets one on request; a session with no turn cannot", async () => {
    const { id, recorder } = await startDebate(stack, {
      topic: "Judge me later",
      maxRounds: 1,
      verdict: false,
    });
    await recorder.waitFor("session-end");
    await stack.debate.requestVerdict(id);
    await recorder.waitFor("message-created", (event) => event.authorType === "verdict", 15_000);
    const row = await sessionInStatus(stack, id, ["finished"]);
    expect(row.stopReason).toBe("max_rounds");

    const created = await stack.debate.createSession({ topic: "Never started", verdict: false });
    await stack.debate.stopSession(created.session.id, "admin");
    await expect(stack.debate.requestVerdict(created.session.id)).rejects.toMatchObject({
      code: "invalid_state",
      message: "The session has no turns to judge.",
    });
  });
});
