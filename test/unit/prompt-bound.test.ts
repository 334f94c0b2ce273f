import { describe, expect, test } from "bun:test";
import { messageTokens, promptTokensBound } from "../../src/debate/prompt";

const samples = [
  "Plain English with numbers 12345 and punctuation!?",
  "Русский текст: города должны запретить машины в центре.",
  "混合テキスト 中文 and emoji 🚋🚲🚗 in one line",
  "<|endoftext|> special-token look-alikes stay plain text",
  "a".repeat(5000),
  "🙂".repeat(300),
  " \n\t ".repeat(100),
  "",
];

describe("prompt token bound", () => {
  test.each(samples)("the byte bound is never below the tokenizer's count: %#", (content) => {
    const messages = [{ role: "user" as const, content }];
    expect(promptTokensBound(messages)).toBeGreaterThanOrEqual(messageTokens(content));
  });

  test("the bound of a prompt is the sum over its messages", () => {
    const messages = samples.map((content) => ({ role: "user" as const, content }));
    const counted = samples.reduce((sum, content) => sum + messageTokens(content), 0);
    expect(promptTokensBound(messages)).toBeGreaterThanOrEqual(counted);
    expect(promptTokensBound(messages)).toBe(
      samples.reduce((sum, content) => sum + Buffer.byteLength(content) + 4, 0),
    );
  });
});
