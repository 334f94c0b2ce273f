import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { countTokens } from "gpt-tokenizer";
import type { ChatMessage, ProviderConfig } from "../../src/llm/chat-model";
import { LlmError } from "../../src/llm/llm-errors";
import { createOpenAiChatModel, type OpenAiChatModelOptions } from "../../src/llm/openai-chat-model";
import { TEST_CONNECTION_PROMPT, testConnection } from "../../src/llm/test-connection";
import {
  defaultReplyText,
  type FakeOpenAiServer,
  startFakeOpenAiServer,
} from "../helpers/fake-openai-server";

const API_KEY = "sk-test-SuperSecretKey0123456789";
const MESSAGES: ChatMessage[] = [
  { role: "system", content: "You are a careful debater." },
  { role: "user", content: "Should cities ban cars from their centres?" },
];
/** Fast backoff so retry tests spend their time only where retry-after demands it. */
const FAST: OpenAiChatModelOptions = { retry: { baseDelayMs: 5, maxDelayMs: 20 } };

let server: FakeOpenAiServer;

beforeAll(async () => {
  server = await startFakeOpenAiServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => {
  server.reset();
});

function provider(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    id: 1,
    name: "test",
    type: "openai",
    baseUrl: server.url,
    apiKey: API_KEY,
    modelId: "gpt-4o-mini",
    params: {},
    ...overrides,
  };
}

/** Runs `promise` expecting an LlmError; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LlmError);
    return error as LlmError;
  }
  throw new Error("expected the call to reject");
}

describe("streaming", () => {
  test("assembles the text from chunks and calls onDelta per chunk", async () => {
    server.enqueue({ chunks: ["Cars ", "should ", "go, ", "mostly."] });
    const deltas: string[] = [];
    const result = await createOpenAiChatModel(provider()).complete({
      messages: MESSAGES,
      onDelta: (text) => deltas.push(text),
    });
    expect(result.text).toBe("Cars should go, mostly.");
    expect(deltas).toEqual(["Cars ", "should ", "go, ", "mostly."]);
    expect(result.finishReason).toBe("stop");
    expect(result.model).toBe("gpt-4o-mini");
    expect(result.attempts).toBe(1);
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);

    const sent = server.requests[0]!;
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.body.stream).toBe(true);
    expect(sent.body.stream_options).toEqual({ include_usage: true });
    expect(sent.messages).toEqual(MESSAGES);
    expect(sent.headers.authorization).toBe(`Bearer ${API_KEY}`);
    // Our retry policy, not the SDK's.
    expect(sent.headers["x-stainless-retry-count"]).toBe("0");
  });

  test("latency is the wall time of the call", async () => {
    server.enqueue({ delayMs: 150, text: "slow but sure" });
    const result = await createOpenAiChatModel(provider()).complete({ messages: MESSAGES });
    expect(result.latencyMs).toBeGreaterThanOrEqual(140);
    expect(result.latencyMs).toBeLessThan(2000);
  });

  test("the default fake reply is distinct per request", async () => {
    const model = createOpenAiChatModel(provider());
    const first = await model.complete({ messages: MESSAGES });
    const second = await model.complete({ messages: MESSAGES });
    expect(first.text).toBe(defaultReplyText("gpt-4o-mini", 1));
    expect(second.text).toBe(defaultReplyText("gpt-4o-mini", 2));
    expect(first.text).not.toBe(second.text);
    expect(first.text.startsWith("gpt-4o-mini — point 1:")).toBe(true);
  });

  test("reasoning_content is never part of the text or the deltas", async () => {
    server.enqueue({ reasoning: "HIDDEN-CHAIN-OF-THOUGHT about the answer", text: "The visible answer." });
    const deltas: string[] = [];
    const result = await createOpenAiChatModel(
      provider({ type: "deepseek", modelId: "deepseek-flash" }),
    ).complete({
      messages: MESSAGES,
      onDelta: (text) => deltas.push(text),
    });
    expect(result.text).toBe("The visible answer.");
    expect(deltas.join("")).toBe("The visible answer.");
    expect(JSON.stringify(result)).not.toContain("HIDDEN-CHAIN-OF-THOUGHT");
  });

  test("params, request max tokens and extra reach the body; extra cannot replace the model", async () => {
    const model = createOpenAiChatModel(
      provider({
        params: { temperature: 0.3, max_tokens: 500, extra: { top_p: 0.9, model: "other", seed: 7 } },
      }),
    );
    await model.complete({ messages: MESSAGES });
    await model.complete({ messages: MESSAGES, maxTokens: 42 });
    const [first, second] = server.requests;
    expect(first!.body).toMatchObject({
      model: "gpt-4o-mini",
      temperature: 0.3,
      max_tokens: 500,
      top_p: 0.9,
      seed: 7,
    });
    expect(second!.body.max_tokens).toBe(42);
    // Not DeepSeek: no thinking switch.
    expect(first!.body.thinking).toBeUndefined();
  });

  test("a provider without a key sends no Authorization header", async () => {
    await createOpenAiChatModel(provider({ type: "openai_compatible", apiKey: "" })).complete({
      messages: MESSAGES,
    });
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
  });
});

describe("DeepSeek", () => {
  test("thinking is disabled by default", async () => {
    await createOpenAiChatModel(provider({ type: "deepseek", modelId: "deepseek-flash" })).complete({
      messages: MESSAGES,
    });
    expect(server.requests[0]!.body.thinking).toEqual({ type: "disabled" });
  });

  test("params.extra.thinking overrides the default", async () => {
    await createOpenAiChatModel(
      provider({
        type: "deepseek",
        modelId: "deepseek-flash",
        params: { extra: { thinking: { type: "enabled" } } },
      }),
    ).complete({ messages: MESSAGES });
    expect(server.requests[0]!.body.thinking).toEqual({ type: "enabled" });
  });
});

describe("usage and cost", () => {
  test("OpenAI usage shape → tokens and cost", async () => {
    server.enqueue({ usage: "openai", promptTokens: 1000, cachedTokens: 400, completionTokens: 200 });
    const result = await createOpenAiChatModel(
      provider({
        params: { price_input_per_1m: 2.5, price_cached_input_per_1m: 1.25, price_output_per_1m: 10 },
      }),
    ).complete({ messages: MESSAGES });
    expect(result.usage).toMatchObject({ input: 1000, cachedInput: 400, output: 200, estimated: false });
    expect(result.usage.raw).toMatchObject({ prompt_tokens_details: { cached_tokens: 400 } });
    expect(result.costUsd).toBe("0.00400000");
  });

  test("DeepSeek usage shape → tokens and cost", async () => {
    server.enqueue({ usage: "deepseek", promptTokens: 1000, cachedTokens: 600, completionTokens: 100 });
    const result = await createOpenAiChatModel(
      provider({
        type: "deepseek",
        modelId: "deepseek-flash",
        params: { price_input_per_1m: 0.27, price_cached_input_per_1m: 0.07, price_output_per_1m: 1.1 },
      }),
    ).complete({ messages: MESSAGES });
    expect(result.usage).toMatchObject({ input: 1000, cachedInput: 600, output: 100, estimated: false });
    expect(result.usage.raw).toMatchObject({ prompt_cache_hit_tokens: 600, prompt_cache_miss_tokens: 400 });
    expect(result.costUsd).toBe("0.00026000");
  });

  test("no usage from the provider → estimated with gpt-tokenizer", async () => {
    server.enqueue({ usage: "none", text: "An answer whose tokens we must count ourselves." });
    const result = await createOpenAiChatModel(
      provider({ params: { price_output_per_1m: 1_000_000 } }),
    ).complete({
      messages: MESSAGES,
    });
    expect(result.usage.estimated).toBe(true);
    expect(result.usage.output).toBe(countTokens("An answer whose tokens we must count ourselves."));
    expect(result.usage.input).toBeGreaterThan(0);
    expect(result.usage.raw).toBeUndefined();
    // Priced at 1 USD per output token, so the cost shows the estimate was used.
    expect(result.costUsd).toBe(`${result.usage.output}.00000000`);
  });
});

describe("retries", () => {
  test("429 with retry-after is retried no sooner than the provider asked", async () => {
    server.enqueue({ status: 429, errorMessage: "Rate limit reached", retryAfterSeconds: 1 });
    const retries: number[] = [];
    const result = await createOpenAiChatModel(provider(), FAST).complete({
      messages: MESSAGES,
      onRetry: (info) => retries.push(info.delayMs),
    });
    expect(result.attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.receivedAt - server.requests[0]!.receivedAt).toBeGreaterThanOrEqual(1000);
    expect(retries).toEqual([1000]);
  });

  test("500 and 502 are retried, then the call succeeds", async () => {
    server.enqueue(
      { status: 500, errorMessage: "boom" },
      { status: 502, errorMessage: "bad gateway" },
      { text: "fine" },
    );
    const result = await createOpenAiChatModel(provider(), FAST).complete({ messages: MESSAGES });
    expect(result.text).toBe("fine");
    expect(result.attempts).toBe(3);
    expect(server.requests).toHaveLength(3);
  });

  test("gives up after maxAttempts with the last error", async () => {
    server.setResponder(() => ({ status: 503, errorMessage: "overloaded" }));
    const error = await rejection(
      createOpenAiChatModel(provider(), { retry: { maxAttempts: 3, baseDelayMs: 5 } }).complete({
        messages: MESSAGES,
      }),
    );
    expect(error).toMatchObject({ code: "server_error", status: 503, isRetryable: true, attempts: 3 });
    expect(error.message).toBe("overloaded");
    expect(server.requests).toHaveLength(3);
  });

  test("a stream cut mid-way is retried and onRetry lets the consumer reset", async () => {
    server.enqueue({ chunks: ["partial ", "answer"], truncate: true }, { text: "complete answer" });
    let rendered = "";
    const retried: string[] = [];
    const result = await createOpenAiChatModel(provider(), FAST).complete({
      messages: MESSAGES,
      onDelta: (text) => {
        rendered += text;
      },
      onRetry: (info) => {
        retried.push(info.error.code);
        rendered = "";
      },
    });
    expect(retried).toEqual(["network"]);
    expect(result.text).toBe("complete answer");
    expect(rendered).toBe("complete answer");
    expect(result.attempts).toBe(2);
  });

  test("connection refused is a retryable network error", async () => {
    const closed = await startFakeOpenAiServer();
    const deadUrl = closed.url;
    await closed.stop();
    const error = await rejection(
      createOpenAiChatModel(provider({ baseUrl: deadUrl }), {
        retry: { maxAttempts: 2, baseDelayMs: 5 },
      }).complete({
        messages: MESSAGES,
      }),
    );
    expect(error).toMatchObject({ code: "network", isRetryable: true, attempts: 2 });
  });

  const notRetried: [number, LlmError["code"], string][] = [
    [401, "auth", `Incorrect API key provided: ${API_KEY}. You can find your API key at the dashboard.`],
    [400, "bad_request", "Invalid value for 'temperature': must be between 0 and 2."],
    [403, "forbidden", "Project does not have access to this model."],
    [404, "not_found", "The model `gpt-9` does not exist or you do not have access to it."],
  ];
  for (const [status, code, message] of notRetried) {
    test(`${status} is not retried: code ${code}, the provider's message, no key`, async () => {
      server.enqueue({ status, errorMessage: message });
      const error = await rejection(createOpenAiChatModel(provider(), FAST).complete({ messages: MESSAGES }));
      expect(server.requests).toHaveLength(1);
      expect(error).toMatchObject({ code, status, isRetryable: false, attempts: 1 });
      expect(error.message).toBe(message.replace(API_KEY, "[redacted]"));
      expect(error.message).not.toContain(API_KEY);
      expect(JSON.stringify(error)).not.toContain(API_KEY);
      expect(String(error.stack)).not.toContain(API_KEY);
    });
  }
});

describe("abort and timeout", () => {
  test("abort during a hanging stream rejects at once and the server sees the abort", async () => {
    server.enqueue({ hang: true, chunks: ["first words "] });
    const controller = new AbortController();
    let abortedAt = 0;
    const call = createOpenAiChatModel(provider()).complete({
      messages: MESSAGES,
      signal: controller.signal,
      // Abort as soon as the stream has really started.
      onDelta: () => {
        abortedAt = Date.now();
        controller.abort();
      },
    });
    const error = await rejection(call);
    expect(error.code).toBe("aborted");
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    await server.waitForAbort(0, 2000);
    expect(server.requests[0]!.aborted).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  test("abort during a slow stream stops it mid-way", async () => {
    server.enqueue({ chunks: ["one ", "two ", "three ", "four ", "five "], chunkDelayMs: 300 });
    const controller = new AbortController();
    const deltas: string[] = [];
    const error = await rejection(
      createOpenAiChatModel(provider()).complete({
        messages: MESSAGES,
        signal: controller.signal,
        onDelta: (text) => {
          deltas.push(text);
          if (deltas.length === 2) controller.abort();
        },
      }),
    );
    expect(error.code).toBe("aborted");
    expect(deltas).toEqual(["one ", "two "]);
    await server.waitForAbort(0, 2000);
  });

  test("AbortSignal.timeout → code timeout, within the deadline", async () => {
    server.enqueue({ hang: true });
    const startedAt = Date.now();
    const error = await rejection(
      createOpenAiChatModel(provider()).complete({ messages: MESSAGES, signal: AbortSignal.timeout(300) }),
    );
    expect(error.code).toBe("timeout");
    expect(error.isRetryable).toBe(false);
    expect(Date.now() - startedAt).toBeLessThan(1500);
    await server.waitForAbort(0, 2000);
  });

  test("timeout before the response headers → code timeout", async () => {
    server.enqueue({ delayMs: 10_000 });
    const startedAt = Date.now();
    const error = await rejection(
      createOpenAiChatModel(provider()).complete({ messages: MESSAGES, signal: AbortSignal.timeout(200) }),
    );
    expect(error.code).toBe("timeout");
    expect(Date.now() - startedAt).toBeLessThan(1500);
    await server.waitForAbort(0, 2000);
  });

  test("an already aborted signal sends nothing", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(
      createOpenAiChatModel(provider()).complete({ messages: MESSAGES, signal: controller.signal }),
    );
    expect(error).toMatchObject({ code: "aborted", attempts: 0 });
    expect(server.requests).toHaveLength(0);
  });

  test("the backoff sleep is cut short by the signal: no retry past the deadline", async () => {
    server.enqueue({ status: 429, errorMessage: "Rate limit reached", retryAfterSeconds: 30 });
    const startedAt = Date.now();
    const error = await rejection(
      createOpenAiChatModel(provider(), FAST).complete({
        messages: MESSAGES,
        signal: AbortSignal.timeout(400),
      }),
    );
    expect(error.code).toBe("timeout");
    expect(error.attempts).toBe(1);
    expect(Date.now() - startedAt).toBeLessThan(1500);
    expect(server.requests).toHaveLength(1);
  });

  test("with deadlineMs a retry that cannot fit is not attempted; the provider error is kept", async () => {
    server.enqueue({ status: 429, errorMessage: "Rate limit reached", retryAfterSeconds: 5 });
    const retried: number[] = [];
    const startedAt = Date.now();
    const error = await rejection(
      createOpenAiChatModel(provider(), FAST).complete({
        messages: MESSAGES,
        signal: AbortSignal.timeout(2000),
        deadlineMs: Date.now() + 2000,
        onRetry: (info) => retried.push(info.attempt),
      }),
    );
    expect(error).toMatchObject({ code: "rate_limited", status: 429, retryAfterMs: 5000, attempts: 1 });
    expect(retried).toEqual([]);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(server.requests).toHaveLength(1);
  });

  test("stop during the backoff sleep → aborted, no second request", async () => {
    server.enqueue({ status: 503, errorMessage: "overloaded" });
    const controller = new AbortController();
    const error = await rejection(
      createOpenAiChatModel(provider(), { retry: { baseDelayMs: 10_000, maxDelayMs: 10_000 } }).complete({
        messages: MESSAGES,
        signal: controller.signal,
        onRetry: () => controller.abort(),
      }),
    );
    expect(error.code).toBe("aborted");
    expect(server.requests).toHaveLength(1);
  });
});

describe("testConnection", () => {
  test("ok with latency and a sample of the answer", async () => {
    server.enqueue({ text: "ok" });
    const result = await testConnection(createOpenAiChatModel(provider()));
    expect(result).toMatchObject({ ok: true, sample: "ok" });
    if (!result.ok) throw new Error("unreachable");
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    const sent = server.requests[0]!;
    expect(sent.messages).toEqual([{ role: "user", content: TEST_CONNECTION_PROMPT }]);
    expect(sent.body.max_tokens).toBeLessThanOrEqual(32);
  });

  test("failure reports the classification (code, kind, status), not the provider's text", async () => {
    server.enqueue({
      status: 401,
      errorMessage: `Incorrect API key provided: ${API_KEY}. Project proj_AbCdEf123456`,
    });
    const result = await testConnection(createOpenAiChatModel(provider(), FAST));
    if (result.ok) throw new Error("expected a failure");
    expect(result.error).toEqual({
      code: "auth",
      kind: "bad_key",
      status: 401,
      message: "the provider rejected the API key (HTTP 401)",
    });
    // The provider's text stays with the cause, for the log: scrubbed of the key and the project.
    expect(result.cause.message).toContain("Incorrect API key provided");
    expect(result.cause.message).not.toContain("proj_AbCdEf123456");
    expect(JSON.stringify(result)).not.toContain(API_KEY);
  });

  test("an unreachable model id reports not_found", async () => {
    server.enqueue({ status: 404, errorMessage: "The model `nope` does not exist." });
    const result = await testConnection(createOpenAiChatModel(provider({ modelId: "nope" })));
    if (result.ok) throw new Error("expected a failure");
    expect(result.error).toEqual({
      code: "not_found",
      kind: "http",
      status: 404,
      message: "the provider does not know this model or address (HTTP 404)",
    });
  });
});
