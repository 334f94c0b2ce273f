import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { addCostUsd, computeCostUsd, ZERO_COST_USD } from "../../src/llm/pricing";
import { queryRows } from "../../src/platform/db";
import {
  expectContiguousTurns,
  isSummaryRequest,
  modelTurns,
  promptTokenCount,
  setLimits,
  startDebate,
} from "../helpers/debate-test-utils";
import { defaultReplyText, type FakeReply, type FakeRequestRecord } from "../helpers/fake-openai-server";
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
const OPENAI_KEY = "sk-test-openai-key-000000000000";

const llmCallLines = (sessionId: string) =>
  stack.logLines
    .map((line) => JSON.parse(line))
    .filter((line) => line.msg === "llm call" && line.session === sessionId);

describe("context compression", () => {
  const LIMIT = 1000;
  /** ~160 tokens per turn, each tagged [Tn] so a test can tell which turns a prompt carries. */
  const longTurn = (request: FakeRequestRecord, turn: number): FakeReply => ({
    text: `[T${turn}] ${[0, 1, 2].map((part) => defaultReplyText(request.model, turn * 5 + part)).join(" ")}`,
  });
  const turnRequests = () => stack.fakeLlm.requests.filter((request) => !isSummaryRequest(request));
  const promptText = (request: FakeRequestRecord) =>
    request.messages.map((message) => message.content).join("\n");

  test("a running summary replaces the oldest turns, is persisted with its cost and reused", async () => {
    await setLimits(stack, { CONTEXT_TOKEN_LIMIT: LIMIT });
    let turns = 0;
    let summaries = 0;
    stack.fakeLlm.setResponder((request) => {
      if (isSummaryRequest(request)) {
        summaries += 1;
        return {
          text: `SUMMARY-MARK-${summaries}: ChatGPT argued for the plan, DeepSeek doubted the numbers; both agreed on a pilot.`,
        };
      }
      turns += 1;
      return longTurn(request, turns);
    });
    const { id, recorder } = await startDebate(stack, {
      topic: "Should the city build a tram line?",
      maxRounds: 6,
      language: "en",
    });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    const detail = await stack.debate.getSession(id);
    expect(modelTurns(detail.messages)).toHaveLength(12);
    expectContiguousTurns(detail.messages);

    // Every turn's prompt stays within the limit.
    for (const request of turnRequests())
      expect(promptTokenCount(request.messages)).toBeLessThanOrEqual(LIMIT);

    // The summary is a persisted, accounted message.
    const summaryRows = detail.messages.filter((row) => row.authorType === "summary");
    expect(summaryRows.length).toBeGreaterThanOrEqual(1);
    const first = summaryRows[0]!;
    expect(first.content).toStartWith("SUMMARY-MARK-1");
    expect(first.tokensIn).toBeGreaterThan(0);
    expect(first.tokensOut).toBeGreaterThan(0);
    expect(first.cost).not.toBe(ZERO_COST_USD);
    expect(first.summaryUntil).not.toBeNull();
    // Totals count the summary calls too.
    expect(end.totals.cost).toBe(detail.messages.reduce((sum, row) => addCostUsd(sum, row.cost ?? "0"), "0"));
    expect(llmCallLines(id).filter((line) => line.kind === "summary")).toHaveLength(summaryRows.length);

    // The summary request folded in the oldest turns.
    const requests = stack.fakeLlm.requests;
    const firstSummaryAt = requests.findIndex(isSummaryRequest);
    expect(promptText(requests[firstSummaryAt]!)).toContain("[T1]");
    // Later prompts carry the summary instead of the oldest turns…
    const after = requests.slice(firstSummaryAt + 1).filter((request) => !isSummaryRequest(request));
    expect(after.length).toBeGreaterThan(0);
    for (const request of after) expect(promptText(request)).not.toContain("[T1]");
    expect(promptText(after[0]!)).toContain(first.content);
    // …and the summary is reused: a turn right after another turn (no new summary call) still has it.
    const reused = requests.findIndex(
      (request, index) =>
        index > firstSummaryAt + 1 &&
        !isSummaryRequest(request) &&
        !isSummaryRequest(requests[index - 1]!) &&
        promptText(request).includes("SUMMARY-MARK-"),
    );
    expect(reused).toBeGreaterThan(firstSummaryAt);
    // Fewer summary calls than turns after the first compression.
    expect(summaries).toBeLessThan(after.length);
  }, 10_000);

  test.each([
    ["a 500 (retries exhausted)", { status: 500, errorMessage: "summariser down" }],
    ["a 400", { status: 400, errorMessage: "context too long" }],
  ] as [string, FakeReply][])(
    "when the summary call fails with %s, oldest turns are dropped with a note",
    async (_, failure) => {
      await setLimits(stack, { CONTEXT_TOKEN_LIMIT: LIMIT });
      let turns = 0;
      stack.fakeLlm.setResponder((request) => {
        if (isSummaryRequest(request)) return failure;
        turns += 1;
        return longTurn(request, turns);
      });
      const { id, recorder } = await startDebate(stack, {
        topic: "Trams or buses?",
        maxRounds: 5,
        language: "en",
      });
      const end = await recorder.waitFor("session-end");
      expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
      const detail = await stack.debate.getSession(id);
      // Turns proceed: the failed summary is not held against the speaker.
      expect(modelTurns(detail.messages)).toHaveLength(10);
      expect(detail.messages.filter((row) => row.authorType !== "model")).toEqual([]);
      expect(stack.fakeLlm.requests.some(isSummaryRequest)).toBe(true);
      const requests = turnRequests();
      for (const request of requests) expect(promptTokenCount(request.messages)).toBeLessThanOrEqual(LIMIT);
      const noted = requests.filter((request) =>
        promptText(request).includes("[Earlier turns omitted to fit the context.]"),
      );
      expect(noted.length).toBeGreaterThan(0);
      for (const request of noted) expect(promptText(request)).not.toContain("[T1]");
      expect(stack.logLines.some((line) => line.includes("summary failed"))).toBe(true);
    },
    10_000,
  );
});

describe("slow helpers", () => {
  test("a hanging summary call falls back within the turn instead of costing the speaker its turn", async () => {
    await setLimits(stack, { CONTEXT_TOKEN_LIMIT: 1000, TURN_TIMEOUT_SEC: 2 });
    let turns = 0;
    stack.fakeLlm.setResponder((request) => {
      if (isSummaryRequest(request)) return { hang: true };
      turns += 1;
      return {
        text: `[T${turns}] ${[0, 1, 2].map((part) => defaultReplyText(request.model, turns * 5 + part)).join(" ")}`,
      };
    });
    const { id, recorder } = await startDebate(stack, {
      topic: "Summaries on strike",
      maxRounds: 3,
      language: "en",
    });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    const summaryCalls = stack.fakeLlm.requests.filter(isSummaryRequest);
    expect(summaryCalls.length).toBeGreaterThan(0);
    for (const call of summaryCalls) expect(call.aborted).toBe(true);
    const detail = await stack.debate.getSession(id);
    // Every turn was answered: no timeout notice, nobody excluded.
    expect(detail.messages.map((row) => row.authorType)).toEqual(Array(6).fill("model"));
    expect(detail.participants.map((participant) => participant.consecutiveTimeouts)).toEqual([0, 0]);
  }, 10_000);

  test("a retry-after beyond the turn timeout is not waited for: the turn fails at once and passes on", async () => {
    await setLimits(stack, { TURN_TIMEOUT_SEC: 2 });
    stack.fakeLlm.enqueue({ status: 429, retryAfterSeconds: 30, errorMessage: "Slow down" });
    const { id, recorder } = await startDebate(stack, { topic: "Impatient", maxRounds: 1, language: "en" });
    await recorder.waitFor("session-end");
    const [limited, next] = stack.fakeLlm.requests;
    expect(next!.model).toBe(DEEPSEEK);
    expect(next!.receivedAt - limited!.receivedAt).toBeLessThan(1000);
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.map((row) => [row.authorType, row.authorName])).toEqual([
      ["system", "system"],
      ["model", "DeepSeek"],
    ]);
    // The chat gets the classified cause, not the provider's text.
    expect(detail.messages[0]!.content).toContain("rate limiting requests (HTTP 429)");
  });
});

describe("loop guard", () => {
  test("a participant answering empty twice is told once, then excluded, announced, and two become one", async () => {
    stack.fakeLlm.setResponder((request) => (request.model === CHATGPT ? { text: "" } : {}));
    const { id, recorder } = await startDebate(stack, {
      topic: "Silence is golden?",
      maxRounds: 5,
      language: "ru",
    });
    const excluded = await recorder.waitFor("participant-excluded");
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "no_participants" });
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.map((row) => [row.authorType, row.authorName, row.flagged])).toEqual([
      ["model", "ChatGPT", "empty"],
      ["system", "system", null],
      ["model", "DeepSeek", null],
      ["model", "ChatGPT", "empty"],
      ["system", "system", null],
    ]);
    // Nothing silent: the first empty answer gets one short line instead of a missing turn.
    expect(detail.messages[1]!.content).toBe("ChatGPT ответил пустым сообщением; ход переходит дальше.");
    expect(excluded).toMatchObject({ name: "ChatGPT", messageId: detail.messages[4]!.id });
    expect(detail.messages[4]!.content).toContain("ChatGPT");
    const chatGpt = detail.participants.find((participant) => participant.displayName === "ChatGPT")!;
    expect(chatGpt).toMatchObject({ status: "excluded", loopStrikes: 2 });
    expect(chatGpt.exclusionReason).toContain("empty");
    // Flagged answers are neither announced as turns nor fed to the other model.
    expect(recorder.events.filter((event) => event.type === "turn-end")).toHaveLength(1);
    const deepSeekPrompt = stack.fakeLlm.requests[1]!.messages;
    expect(deepSeekPrompt.some((message) => message.content.trim() === "ChatGPT:")).toBe(false);
  });

  test("a participant repeating its answer (even reformatted) twice is excluded", async () => {
    const stance =
      "I firmly believe that cities should ban private cars from the centre, because pedestrians deserve safer streets and cleaner air.";
    const variants = [
      stance,
      stance.toUpperCase(),
      stance.replaceAll(",", " —").replaceAll(" ", "  ").replace(".", "!"),
    ];
    let chatGptCalls = 0;
    stack.fakeLlm.setResponder((request) =>
      request.model === CHATGPT ? { text: variants[chatGptCalls++ % variants.length] } : {},
    );
    const { id, recorder } = await startDebate(stack, { topic: "Ban cars?", maxRounds: 5, language: "ru" });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "no_participants" });
    const detail = await stack.debate.getSession(id);
    const chatGptTurns = modelTurns(detail.messages).filter((turn) => turn.authorName === "ChatGPT");
    expect(chatGptTurns.map((turn) => turn.flagged)).toEqual([null, "repeat", "repeat"]);
    expect(detail.messages.filter((row) => row.content.includes("почти повторяет"))).toHaveLength(1);
    expect(detail.messages.at(-1)!.authorType).toBe("system");
    const chatGpt = detail.participants.find((participant) => participant.displayName === "ChatGPT")!;
    expect(chatGpt).toMatchObject({ status: "excluded", loopStrikes: 2 });
    expect(chatGpt.exclusionReason).toContain("repeat");
    expect((await recorder.waitFor("participant-excluded")).name).toBe("ChatGPT");
  });
});

describe("provider errors", () => {
  test("a 429 with retry-after is retried after the gap asked for, then the turn is written", async () => {
    stack.fakeLlm.enqueue({ status: 429, retryAfterSeconds: 1, errorMessage: "Rate limit reached" });
    const { id, recorder } = await startDebate(stack, { topic: "Patience", maxRounds: 1 });
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    const [limited, retried] = stack.fakeLlm.requests;
    expect(retried!.model).toBe(CHATGPT);
    expect(retried!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(1000);
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.map((row) => [row.authorType, row.authorName])).toEqual([
      ["model", "ChatGPT"],
      ["model", "DeepSeek"],
    ]);
    expect(llmCallLines(id)[0]).toMatchObject({ provider: "ChatGPT", attempts: 2 });
  }, 10_000);

  test("a 500 is retried with backoff, then the turn is written", async () => {
    stack.fakeLlm.enqueue({ status: 500, errorMessage: "upstream exploded" });
    const { id, recorder } = await startDebate(stack, { topic: "Try again", maxRounds: 1 });
    await recorder.waitFor("session-end");
    expect(stack.fakeLlm.requests.map((request) => request.model)).toEqual([CHATGPT, CHATGPT, DEEPSEEK]);
    const detail = await stack.debate.getSession(id);
    expect(modelTurns(detail.messages)).toHaveLength(2);
    expect(detail.messages.every((row) => row.authorType === "model")).toBe(true);
    expect(llmCallLines(id)[0]).toMatchObject({ attempts: 2 });
  });

  test("a dropped stream is retried and only the retry's text is kept", async () => {
    stack.fakeLlm.enqueue(
      { text: "PARTIAL text from the broken attempt that must vanish", truncate: true },
      { text: "The complete answer from the second attempt about bicycles." },
    );
    const { id, recorder } = await startDebate(stack, { topic: "Broken pipes", maxRounds: 1 });
    await recorder.waitFor("session-end");
    const detail = await stack.debate.getSession(id);
    expect(modelTurns(detail.messages)[0]!.content).toBe(
      "The complete answer from the second attempt about bicycles.",
    );
  });

  test("a provider failing on every attempt twice in a row is excluded", async () => {
    stack.fakeLlm.setResponder((request) => (request.model === CHATGPT ? { status: 503 } : {}));
    const { id, recorder } = await startDebate(stack, { topic: "Down for good", maxRounds: 5 });
    const end = await recorder.waitFor("session-end");
    expect(end.stopReason).toBe("no_participants");
    // 4 attempts per turn (the adapter's policy), two turns.
    expect(stack.fakeLlm.requests.filter((request) => request.model === CHATGPT)).toHaveLength(8);
    const detail = await stack.debate.getSession(id);
    expect(detail.messages.map((row) => [row.authorType, row.round])).toEqual([
      ["system", 1],
      ["model", 1],
      ["system", 2],
    ]);
    const chatGpt = detail.participants.find((participant) => participant.displayName === "ChatGPT")!;
    expect(chatGpt.status).toBe("excluded");
    expect(chatGpt.exclusionReason).toContain("failed twice in a row: 503");
  }, 10_000);

  test("a 401 is not retried: excluded with the provider's message for the operator, a generic line for the chat, the key nowhere", async () => {
    stack.fakeLlm.setResponder((request) =>
      request.model === CHATGPT
        ? {
            status: 401,
            errorMessage: `Incorrect API key provided: ${OPENAI_KEY}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          }
        : {},
    );
    const { id, recorder } = await startDebate(stack, {
      topic: "Who holds the key?",
      maxRounds: 3,
      language: "ru",
    });
    const excluded = await recorder.waitFor("participant-excluded");
    const end = await recorder.waitFor("session-end");
    expect(end).toMatchObject({ status: "stopped", stopReason: "no_participants" });
    // Exactly one request: no retry, and the debate ends before DeepSeek would speak alone.
    expect(stack.fakeLlm.requests).toHaveLength(1);
    expect(stack.fakeLlm.requests[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    const detail = await stack.debate.getSession(id);
    const chatGpt = detail.participants.find((participant) => participant.displayName === "ChatGPT")!;
    expect(chatGpt.status).toBe("excluded");
    expect(chatGpt.exclusionReason).toContain("401");
    expect(chatGpt.exclusionReason).toContain("Incorrect API key provided");
    expect(excluded.reason).toBe(chatGpt.exclusionReason!);
    expect(detail.messages).toHaveLength(1);
    expect(detail.messages[0]!.content).toBe(
      "ChatGPT не смог ответить: провайдер отклонил API-ключ (HTTP 401). Участник исключён из обсуждения.",
    );
    // The key is nowhere: not in rows, events or log lines.
    const [dump] = await queryRows<{ text: string }>(
      stack.db,
      sql`select concat_ws(' ',
        (select json_agg(t)::text from messages t),
        (select json_agg(t)::text from session_participants t),
        (select json_agg(t)::text from sessions t),
        (select json_agg(t)::text from audit_logs t),
        (select json_agg(t)::text from providers t),
        (select json_agg(t)::text from settings t)) as text`,
    );
    expect(dump!.text).toContain("Incorrect API key provided");
    expect(dump!.text).not.toContain(OPENAI_KEY);
    expect(JSON.stringify(recorder.events)).not.toContain(OPENAI_KEY);
    expect(stack.logLines.join("\n")).not.toContain(OPENAI_KEY);
    expect(stack.logLines.join("\n")).toContain("Incorrect API key provided");
  });
});

describe("accounting", () => {
  test("cost arithmetic through the engine for the OpenAI and DeepSeek usage shapes", async () => {
    await setLimits(stack, { SESSION_TOKEN_LIMIT: 100_000_000 });
    const usage = { promptTokens: 123_457, cachedTokens: 45_678, completionTokens: 9_876 };
    stack.fakeLlm.setResponder((request) =>
      request.model === CHATGPT
        ? { ...usage, usage: "openai" }
        : { ...usage, usage: "deepseek", reasoning: "HIDDEN-REASONING should never surface" },
    );
    const { id, recorder } = await startDebate(stack, { topic: "What does a debate cost?", maxRounds: 1 });
    const end = await recorder.waitFor("session-end");
    const detail = await stack.debate.getSession(id);
    const [chatGpt, deepSeek] = modelTurns(detail.messages);
    // ChatGPT: (77 779 × 0.15 + 45 678 × 0.075 + 9 876 × 0.6) / 1M = 0.0210183
    expect(chatGpt).toMatchObject({
      tokensIn: 123_457,
      cachedTokens: 45_678,
      tokensOut: 9_876,
      cost: "0.02101830",
      estimated: false,
    });
    // DeepSeek: (77 779 × 0.28 + 45 678 × 0.028 + 9 876 × 0.42) / 1M = 0.027205024 → 0.02720502
    expect(deepSeek).toMatchObject({
      tokensIn: 123_457,
      cachedTokens: 45_678,
      tokensOut: 9_876,
      cost: "0.02720502",
      estimated: false,
    });
    expect(deepSeek!.content).not.toContain("HIDDEN-REASONING");
    const totals = { tokensIn: 246_914, tokensOut: 19_752, cachedTokens: 91_356, cost: "0.04822332" };
    expect(end.totals).toEqual(totals);
    expect(detail.totals).toEqual(totals);
    const listed = await stack.debate.listSessions({ limit: 100, offset: 0 });
    expect(listed.items.find((item) => item.id === id)!.totals).toEqual(totals);
    const calls = llmCallLines(id);
    expect(calls.map((line) => line.cost_usd)).toEqual(["0.02101830", "0.02720502"]);
    expect(calls[1]).toMatchObject({ provider: "DeepSeek", tokens_in: 123_457, cached_tokens: 45_678 });
  });

  test("a provider reporting no usage is estimated with gpt-tokenizer, flagged and priced", async () => {
    stack.fakeLlm.setResponder(() => ({ usage: "none" }));
    const { id, recorder } = await startDebate(stack, { topic: "Counting in the dark", maxRounds: 1 });
    await recorder.waitFor("session-end");
    const detail = await stack.debate.getSession(id);
    const [chatGpt] = modelTurns(detail.messages);
    expect(chatGpt!.estimated).toBe(true);
    expect(chatGpt!.tokensIn).toBeGreaterThan(100);
    expect(chatGpt!.tokensOut).toBeGreaterThan(10);
    expect(chatGpt!.cost).toBe(
      computeCostUsd(
        { input: chatGpt!.tokensIn, cachedInput: 0, output: chatGpt!.tokensOut },
        { price_input_per_1m: 0.15, price_output_per_1m: 0.6 },
      ),
    );
  });
});

describe("untrusted text", () => {
  test("a special-token look-alike in an answer or the topic does not break the debate", async () => {
    stack.fakeLlm.enqueue({ text: "Mind the literal <|endoftext|> marker and <|im_start|> in this answer." });
    const { id, recorder } = await startDebate(stack, {
      topic: "Is <|endoftext|> a word?",
      maxRounds: 2,
    });
    const end = await recorder.waitFor("session-end", undefined, 10_000);
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    const detail = await stack.debate.getSession(id);
    expect(modelTurns(detail.messages)).toHaveLength(4);
    const deepSeekPrompt = stack.fakeLlm.requests[1]!.messages.map((message) => message.content).join("\n");
    expect(deepSeekPrompt).toContain("<|endoftext|> marker");
  });

  test("a NUL character in an answer is dropped instead of failing the write (and re-billing) forever", async () => {
    stack.fakeLlm.enqueue({ text: "Binary\u0000junk inside an otherwise fine answer about ferries." });
    const { id, recorder } = await startDebate(stack, { topic: "Ferries", maxRounds: 1 });
    const end = await recorder.waitFor("session-end", undefined, 4000);
    expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    const detail = await stack.debate.getSession(id);
    expect(modelTurns(detail.messages)[0]!.content).toBe(
      "Binaryjunk inside an otherwise fine answer about ferries.",
    );
    expect(stack.fakeLlm.requests).toHaveLength(2);
  });

  test("a NUL character in a topic is dropped; a topic of nothing else is refused", async () => {
    const created = await stack.debate.createSession({ topic: "Rivers\u0000 and canals", maxRounds: 1 });
    expect(created.session.topic).toBe("Rivers and canals");
    await expect(stack.debate.createSession({ topic: " \u0000 " })).rejects.toMatchObject({
      code: "invalid_topic",
    });
  });
});
