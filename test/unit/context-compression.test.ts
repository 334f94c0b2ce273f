import { describe, expect, test } from "bun:test";
import { fitMessages } from "../../src/debate/context-compression";
import type { ChatMessage } from "../../src/llm/chat-model";

/** One token per character keeps the arithmetic visible. */
const tokensOf = (message: ChatMessage) => message.content.length;
const user = (content: string): ChatMessage => ({ role: "user", content });

describe("fitMessages", () => {
  const prompt = [
    { role: "system", content: "S".repeat(10) } as ChatMessage,
    user("T".repeat(10)),
    user("SUMMARY".padEnd(20, ".")),
    user("turn-1".padEnd(30, ".")),
    user("turn-2".padEnd(30, ".")),
    user("turn-3".padEnd(30, ".")),
    user("call".padEnd(10, ".")),
  ];

  test("the oldest turns go before the summary that stands for even older ones", () => {
    const fitted = fitMessages(prompt, 100, tokensOf, 3);
    expect(fitted.map((message) => message.content.slice(0, 7))).toEqual([
      "SSSSSSS",
      "TTTTTTT",
      "SUMMARY",
      "turn-3.",
      "call...",
    ]);
    expect(fitted.reduce((sum, message) => sum + tokensOf(message), 0)).toBeLessThanOrEqual(100);
  });

  test("when dropping every turn is not enough, the summary goes too", () => {
    const withoutSummary = fitMessages(prompt, 30, tokensOf, 3);
    expect(withoutSummary[0]).toEqual(prompt[0]!);
    expect(withoutSummary.at(-1)).toEqual(prompt.at(-1)!);
    expect(withoutSummary.some((message) => message.content.startsWith("SUMMARY"))).toBe(false);
    expect(withoutSummary.some((message) => message.content.startsWith("turn-"))).toBe(false);
    expect(withoutSummary).toHaveLength(3);
  });

  test("a prompt within the limit is left as it is", () => {
    expect(fitMessages(prompt, 1000, tokensOf, 3)).toEqual(prompt);
  });
});
