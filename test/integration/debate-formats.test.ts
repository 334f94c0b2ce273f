/**
 * The four formats through the service, on real Postgres and Redis, with the fake LLM server
 * recording each prompt: who speaks when, how each prompt frames the turn, and for Delphi that a
 * round's calls are in flight together and see the previous round anonymised, never this round's.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { expectContiguousTurns, modelTurns, setLimits, startDebate } from "../helpers/debate-test-utils";
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
});

const speakerOf = (request: FakeRequestRecord) => (request.model === "gpt-test" ? "ChatGPT" : "DeepSeek");
const lastOf = (request: FakeRequestRecord) => request.messages.at(-1)!.content;
const systemOf = (request: FakeRequestRecord) => request.messages[0]!.content;

async function run(format: "roundtable" | "pro_contra" | "socratic" | "delphi", maxRounds: number) {
  const { id, recorder } = await startDebate(stack, {
    topic: `A ${format} on public transport`,
    maxRounds,
    language: "en",
    format,
  });
  const end = await recorder.waitFor("session-end");
  expect(end).toMatchObject({ status: "finished", stopReason: "max_rounds" });
  const detail = await stack.debate.getSession(id);
  expect(detail.session.format).toBe(format);
  expectContiguousTurns(detail.messages);
  return { detail, requests: [...stack.fakeLlm.requests] };
}

describe("formats", () => {
  test("roundtable: today's order and prompt, unchanged", async () => {
    const { detail, requests } = await run("roundtable", 2);
    expect(modelTurns(detail.messages).map((turn) => `${turn.authorName}@${turn.round}`)).toEqual([
      "ChatGPT@1",
      "DeepSeek@1",
      "ChatGPT@2",
      "DeepSeek@2",
    ]);
    expect(systemOf(requests[0]!)).toStartWith(
      "You are ChatGPT, one of several AI models taking part in a moderated round-table debate on a topic given by a user.\n\n" +
        "The debate runs in turns, at most 2 rounds; in each round every participant speaks once, in a fixed order.",
    );
    expect(requests.map(lastOf)).toEqual([
      "Round 1/2. Your turn, ChatGPT.",
      "Round 1/2. Your turn, DeepSeek.",
      "Round 2/2. Your turn, ChatGPT.",
      "Round 2/2. Your turn, DeepSeek.",
    ]);
  });

  test("pro_contra: sides alternate for and against; openings first, closings last", async () => {
    const { detail, requests } = await run("pro_contra", 3);
    expect(modelTurns(detail.messages).map((turn) => `${turn.authorName}@${turn.round}`)).toEqual([
      "ChatGPT@1",
      "DeepSeek@1",
      "ChatGPT@2",
      "DeepSeek@2",
      "ChatGPT@3",
      "DeepSeek@3",
    ]);
    expect(systemOf(requests[0]!)).toContain("You argue FOR the motion");
    expect(systemOf(requests[1]!)).toContain("You argue AGAINST the motion");
    expect(systemOf(requests[0]!)).toContain("Sides:\n- ChatGPT: FOR\n- DeepSeek: AGAINST");
    // Byte-stable per participant.
    expect(systemOf(requests[2]!)).toBe(systemOf(requests[0]!));
    expect(lastOf(requests[0]!)).toStartWith(
      "Round 1/3 (opening). Your turn, ChatGPT, arguing FOR the motion. Give your opening statement",
    );
    expect(lastOf(requests[1]!)).toStartWith(
      "Round 1/3 (opening). Your turn, DeepSeek, arguing AGAINST the motion.",
    );
    expect(lastOf(requests[2]!)).toContain("(rebuttal)");
    expect(lastOf(requests[4]!)).toContain("(closing)");
    expect(lastOf(requests[5]!)).toContain("Give your closing statement");
  });

  test("socratic: the first participant asks, the others answer; in the last round it speaks last and sums up", async () => {
    const { detail, requests } = await run("socratic", 3);
    expect(modelTurns(detail.messages).map((turn) => `${turn.authorName}@${turn.round}`)).toEqual([
      "ChatGPT@1",
      "DeepSeek@1",
      "ChatGPT@2",
      "DeepSeek@2",
      "DeepSeek@3",
      "ChatGPT@3",
    ]);
    expect(systemOf(requests[0]!)).toContain("You are ChatGPT, the questioner of a Socratic dialogue");
    expect(systemOf(requests[0]!)).toContain("Only ask questions");
    expect(systemOf(requests[1]!)).toContain("ChatGPT is the questioner");
    expect(requests.map((request) => `${speakerOf(request)}: ${lastOf(request)}`)).toEqual([
      "ChatGPT: Round 1/3. Your turn, ChatGPT. Ask your next probing question.",
      "DeepSeek: Round 1/3. Your turn, DeepSeek. Answer ChatGPT's latest question.",
      "ChatGPT: Round 2/3. Your turn, ChatGPT. Ask your next probing question.",
      "DeepSeek: Round 2/3. Your turn, DeepSeek. Answer ChatGPT's latest question.",
      "DeepSeek: Round 3/3. Your turn, DeepSeek. Answer ChatGPT's latest question.",
      "ChatGPT: Round 3/3. Your turn, ChatGPT. This is your last turn: sum up the dialogue instead of asking.",
    ]);
    // The summing-up sees every answer, the last one included.
    const answers = modelTurns(detail.messages).filter((turn) => turn.authorName === "DeepSeek");
    const summing = requests[5]!.messages.map((message) => message.content);
    for (const answer of answers) expect(summing).toContain(`DeepSeek: ${answer.content}`);
  });

  test("delphi: a round's calls are in flight together, see no answer of their round, then the previous round anonymised", async () => {
    // Each call is held until both calls of its round have arrived: only concurrent calls get through.
    stack.fakeLlm.setResponder(async (request) => {
      const round = Math.floor(request.index / 2);
      await stack.fakeLlm.waitFor((all) => all.length >= (round + 1) * 2, 5000, `round ${round + 1} calls`);
      return { delayMs: 50 };
    });
    const { detail, requests } = await run("delphi", 2);
    const turns = modelTurns(detail.messages);
    expect(turns.map((turn) => `${turn.authorName}@${turn.round}`)).toEqual([
      "ChatGPT@1",
      "DeepSeek@1",
      "ChatGPT@2",
      "DeepSeek@2",
    ]);
    expect(requests).toHaveLength(4);
    // Overlapping in flight: each call of a round arrived before the other one of it had ended.
    for (const [a, b] of [
      [requests[0]!, requests[1]!],
      [requests[2]!, requests[3]!],
    ] as const) {
      expect(a.receivedAt).toBeLessThan(b.endedAt!);
      expect(b.receivedAt).toBeLessThan(a.endedAt!);
    }
    // Round 2 starts only after round 1 is over.
    expect(requests[2]!.receivedAt).toBeGreaterThanOrEqual(
      Math.max(requests[0]!.endedAt!, requests[1]!.endedAt!),
    );
    expect(systemOf(requests[0]!)).toContain("Delphi panel");
    // Round 1: the question only, no answers.
    for (const request of requests.slice(0, 2)) {
      expect(request.messages.map((message) => message.role)).toEqual(["system", "user", "user"]);
      expect(lastOf(request)).toBe("Round 1/2. Give your answer to the question.");
    }
    // Round 2: own previous answer as its own, the other's under "Expert B"/"Expert A", no names,
    // nothing of round 2.
    const [round1Gpt, round1Deep] = turns;
    const gptRound2 = requests.find((request) => request.index >= 2 && speakerOf(request) === "ChatGPT")!;
    const deepRound2 = requests.find((request) => request.index >= 2 && speakerOf(request) === "DeepSeek")!;
    expect(gptRound2.messages.slice(2)).toEqual([
      { role: "assistant", content: round1Gpt!.content },
      { role: "user", content: `Expert B: ${round1Deep!.content}` },
      { role: "user", content: "Round 2/2. Revise your answer in the light of the panel's previous round." },
    ]);
    expect(deepRound2.messages.slice(2)).toEqual([
      { role: "user", content: `Expert A: ${round1Gpt!.content}` },
      { role: "assistant", content: round1Deep!.content },
      { role: "user", content: "Round 2/2. Revise your answer in the light of the panel's previous round." },
    ]);
    for (const request of requests)
      expect(request.messages.slice(1).some((message) => /ChatGPT:|DeepSeek:/.test(message.content))).toBe(
        false,
      );
  });

  test("a bad format is refused with a clear error", async () => {
    await expect(
      stack.debate.createSession({ topic: "Bad format", format: "shouting" as "delphi" }),
    ).rejects.toMatchObject({
      code: "invalid_input",
      message: "format must be one of roundtable, pro_contra, socratic, delphi.",
    });
    await expect(
      stack.debate.createSession({ topic: "Bad verdict", verdict: "yes" as unknown as boolean }),
    ).rejects.toMatchObject({ code: "invalid_input" });
    await expect(
      stack.debate.createSession({ topic: "Bad language", language: "de" as "en" }),
    ).rejects.toMatchObject({ code: "invalid_input" });
  });

  test("a session's language defaults to its topic's: Cyrillic is ru, anything else en", async () => {
    const ru = await stack.debate.createSession({ topic: "Нужны ли трамваи?", verdict: false });
    const en = await stack.debate.createSession({ topic: "Do we need trams?", verdict: false });
    expect([ru.session.language, en.session.language, ru.session.format, ru.session.verdict]).toEqual([
      "ru",
      "en",
      "roundtable",
      false,
    ]);
  });
});
