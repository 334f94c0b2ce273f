import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { providers } from "../../src/db/schema";
import { DebateError } from "../../src/debate/debate-errors";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.stop();
});

async function runDebate(topic: string, maxRounds: number) {
  const created = await stack.debate.createSession({ topic, maxRounds, verdict: false });
  const recorder = stack.recordEvents(created.session.id);
  await stack.debate.startSession(created.session.id);
  const end = await recorder.waitFor("session-end");
  const detail = await stack.debate.getSession(created.session.id);
  recorder.stop();
  return { detail, end, recorder };
}

describe("debate engine", () => {
  test("a 2-model, 2-round debate writes 4 turns A→B→A→B with full context", async () => {
    stack.fakeLlm.reset();
    const { detail, end, recorder } = await runDebate("Should cities ban cars from their centres?", 2);
    expect(detail.session.status).toBe("finished");
    expect(detail.session.stopReason).toBe("max_rounds");
    expect(detail.session.currentRound).toBe(2);
    const turns = detail.messages.filter((message) => message.authorType === "model");
    expect(turns.map((turn) => [turn.authorName, turn.round])).toEqual([
      ["ChatGPT", 1],
      ["DeepSeek", 1],
      ["ChatGPT", 2],
      ["DeepSeek", 2],
    ]);
    expect(turns.map((turn) => turn.turnIndex)).toEqual([0, 1, 2, 3]);
    // Each prompt carries the topic, the persona and every earlier turn.
    const requests = stack.fakeLlm.requests;
    expect(requests.map((request) => request.model)).toEqual([
      "gpt-test",
      "deepseek-flash",
      "gpt-test",
      "deepseek-flash",
    ]);
    requests.forEach((request, index) => {
      const all = request.messages.map((message) => message.content).join("\n");
      expect(all).toContain("Should cities ban cars from their centres?");
      expect(request.messages[0]?.role).toBe("system");
      expect(request.messages[0]?.content).toContain(index % 2 === 0 ? "Optimist" : "Skeptic");
      for (const earlier of turns.slice(0, index)) expect(all).toContain(earlier.content);
    });
    // Own turns are assistant messages; others' are user messages prefixed with the name.
    const third = requests[2]!.messages;
    expect(third.find((message) => message.role === "assistant")?.content).toBe(turns[0]!.content);
    expect(
      third.some(
        (message) => message.role === "user" && message.content === `DeepSeek: ${turns[1]!.content}`,
      ),
    ).toBe(true);
    // The system prompt is byte-stable across a participant's turns (prompt caching).
    expect(requests[2]!.messages[0]!.content).toBe(requests[0]!.messages[0]!.content);
    // Accounting: tokens and cost on every turn, totals add up.
    for (const turn of turns) {
      expect(turn.tokensIn).toBeGreaterThan(0);
      expect(turn.tokensOut).toBeGreaterThan(0);
      expect(Number(turn.cost)).toBeGreaterThan(0);
      expect(turn.latencyMs).not.toBeNull();
    }
    expect(end.totals.tokensIn).toBe(turns.reduce((sum, turn) => sum + turn.tokensIn, 0));
    expect(detail.totals.cost).toBe(end.totals.cost);
    // Events in order.
    const types = recorder.events.map((event) => event.type).filter((type) => type !== "turn-delta");
    expect(types.slice(0, 2)).toEqual(["session-start", "turn-start"]);
    expect(types.filter((type) => type === "turn-end").length).toBe(4);
    expect(types.at(-1)).toBe("session-end");
    // One structured log line per LLM call, with tokens and cost.
    const calls = stack.logLines
      .map((line) => JSON.parse(line))
      .filter((line) => line.msg === "llm call" && line.session === detail.session.id);
    expect(calls.length).toBe(4);
    expect(calls[0]).toMatchObject({ provider: "ChatGPT", model: "gpt-test", kind: "turn" });
    expect(typeof calls[0].tokens_in).toBe("number");
    expect(calls[0].cost_usd).toMatch(/^\d+\.\d{8}$/);
  });

  test("creating a session validates topic, rounds and participants", async () => {
    await expect(stack.debate.createSession({ topic: "   " })).rejects.toThrow(DebateError);
    await expect(stack.debate.createSession({ topic: "x".repeat(1001) })).rejects.toMatchObject({
      code: "invalid_topic",
    });
    await expect(
      stack.debate.createSession({ topic: "t", participants: [{ providerId: 999 }] }),
    ).rejects.toMatchObject({
      code: "provider_not_found",
    });
    const [first] = await stack.db.select().from(providers).where(eq(providers.name, "ChatGPT"));
    await expect(
      stack.debate.createSession({ topic: "t", participants: [{ providerId: first!.id }] }),
    ).rejects.toMatchObject({
      code: "not_enough_participants",
    });
    await expect(stack.debate.getSession("not-a-uuid")).rejects.toMatchObject({ code: "session_not_found" });
  });

  test("starting twice is refused; stopping an ended session changes nothing", async () => {
    const { detail } = await runDebate("Cats or dogs?", 1);
    await expect(stack.debate.startSession(detail.session.id)).rejects.toMatchObject({
      code: "invalid_state",
    });
    const again = await stack.debate.stopSession(detail.session.id, "user");
    expect(again.status).toBe("finished");
    expect(again.stopReason).toBe("max_rounds");
  });

  test("a provider edited mid-debate (model, key) is used from its next turn on", async () => {
    stack.fakeLlm.reset();
    const [chatGpt] = await stack.db.select().from(providers).where(eq(providers.name, "ChatGPT"));
    let released: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      released = resolve;
    });
    // Hold the first answer until the edit is committed.
    stack.fakeLlm.setResponder(async (request) => {
      if (request.index === 0) await gate;
      return {};
    });
    const created = await stack.debate.createSession({
      topic: "Edits mid-debate",
      maxRounds: 2,
      verdict: false,
    });
    const recorder = stack.recordEvents(created.session.id);
    await stack.debate.startSession(created.session.id);
    await stack.fakeLlm.waitForRequests(1);
    await stack.db
      .update(providers)
      .set({
        modelId: "gpt-edited",
        apiKeyEncrypted: stack.secretBox.encrypt("sk-rotated-key-1234"),
        updatedAt: new Date(),
      })
      .where(eq(providers.id, chatGpt!.id));
    released();
    await recorder.waitFor("session-end");
    recorder.stop();
    const requests = stack.fakeLlm.requests;
    expect(requests.map((request) => request.model)).toEqual([
      "gpt-test",
      "deepseek-flash",
      "gpt-edited",
      "deepseek-flash",
    ]);
    expect(requests[2]?.headers.authorization).toBe("Bearer sk-rotated-key-1234");
    // Put the seed back for the other tests.
    await stack.db
      .update(providers)
      .set({ modelId: chatGpt!.modelId, apiKeyEncrypted: chatGpt!.apiKeyEncrypted, updatedAt: new Date() })
      .where(eq(providers.id, chatGpt!.id));
  });
});
