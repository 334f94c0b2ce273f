import { expect, test } from "bun:test";
import { redactSecrets } from "../../src/audit/audit-log";

test("audit metadata keeps ordinary fields and redacts secret ones at any depth", () => {
  expect(
    redactSecrets({
      api_key: "sk-1",
      apiKey: "sk-2",
      params: { max_tokens: 700, temperature: 0.5, nested: [{ token: "t", password: "p" }] },
      tokens_in: 5,
      bot_token: "b",
      apiToken: "a",
      model_id: "gpt",
    }),
  ).toEqual({
    api_key: "[redacted]",
    apiKey: "[redacted]",
    params: { max_tokens: 700, temperature: 0.5, nested: [{ token: "[redacted]", password: "[redacted]" }] },
    tokens_in: 5,
    bot_token: "[redacted]",
    apiToken: "[redacted]",
    model_id: "gpt",
  });
});
