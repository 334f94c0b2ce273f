/**
 * The adapter's stream parsing against chunk files in the providers' wire format
 * (`src/llm/fixtures/*.sse`), served by an injected fetch: no server, no network. Each file is
 * also served in small byte pieces, so SSE lines and multi-byte characters arrive split.
 */
import { describe, expect, test } from "bun:test";
import type { ChatMessage, ProviderConfig } from "../../src/llm/chat-model";
import type { LlmError } from "../../src/llm/llm-errors";
import { createOpenAiChatModel } from "../../src/llm/openai-chat-model";

const fixture = (name: string) =>
  Bun.file(new URL(`../../src/llm/fixtures/${name}`, import.meta.url)).bytes();

const MESSAGES: ChatMessage[] = [
  { role: "system", content: "You are a debater." },
  { role: "user", content: "Topic: is remote work here to stay?" },
];

interface Served {
  fetch: typeof fetch;
  requests: { url: string; body: Record<string, unknown>; authorization: string | null }[];
}

/** A fetch that answers every request with `bytes` as an SSE body, in pieces of `pieceSize` bytes. */
function serve(bytes: Uint8Array, pieceSize = bytes.length): Served {
  const requests: Served["requests"] = [];
  const fetchFixture = async (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    requests.push({
      url: String(input),
      body: JSON.parse(String(init?.body)),
      authorization: headers.get("authorization"),
    });
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(offset, offset + pieceSize));
        offset += pieceSize;
      },
    });
    return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
  };
  return { fetch: fetchFixture as typeof fetch, requests };
}

const openAi = (overrides: Partial<ProviderConfig> = {}): ProviderConfig => ({
  id: 1,
  name: "ChatGPT",
  type: "openai",
  baseUrl: "https://api.openai.com/v1",
  apiKey: "sk-proj-fixtureKey0123456789",
  modelId: "gpt-4o-mini",
  params: { price_input_per_1m: 0.15, price_cached_input_per_1m: 0.075, price_output_per_1m: 0.6 },
  ...overrides,
});

const deepSeek = (): ProviderConfig =>
  openAi({
    id: 2,
    name: "DeepSeek",
    type: "deepseek",
    baseUrl: "https://api.deepseek.com",
    apiKey: "sk-0123456789abcdef0123456789abcdef",
    modelId: "deepseek-flash",
    params: { price_input_per_1m: 0.28, price_cached_input_per_1m: 0.028, price_output_per_1m: 0.42 },
  });

for (const pieceSize of [Number.POSITIVE_INFINITY, 7]) {
  const split = Number.isFinite(pieceSize) ? ` (in ${pieceSize}-byte pieces)` : "";

  describe(`recorded streams${split}`, () => {
    test("OpenAI: text assembled from the deltas, usage from the include_usage chunk (choices: [])", async () => {
      const bytes = await fixture("openai-chat-usage.sse");
      const served = serve(bytes, Math.min(pieceSize, bytes.length));
      const deltas: string[] = [];
      const result = await createOpenAiChatModel(openAi(), { fetch: served.fetch }).complete({
        messages: MESSAGES,
        onDelta: (text) => deltas.push(text),
      });
      const expected =
        "Remote work is here to stay, but the office will not vanish: hybrid schedules win on both cost and trust.";
      expect(result.text).toBe(expected);
      expect(deltas.join("")).toBe(expected);
      expect(deltas).toHaveLength(23);
      expect(result).toMatchObject({ model: "gpt-4o-mini-2024-07-18", finishReason: "stop", attempts: 1 });
      expect(result.usage).toMatchObject({ input: 1348, cachedInput: 1152, output: 24, estimated: false });
      // 196 uncached × 0.15 + 1152 cached × 0.075 + 24 × 0.6, per 1M tokens.
      expect(result.costUsd).toBe("0.00013020");
      const [request] = served.requests;
      expect(request!.url).toBe("https://api.openai.com/v1/chat/completions");
      expect(request!.body).toMatchObject({
        model: "gpt-4o-mini",
        stream: true,
        stream_options: { include_usage: true },
      });
      expect(request!.authorization).toBe("Bearer sk-proj-fixtureKey0123456789");
    });

    test("DeepSeek: reasoning_content never reaches the text or the deltas; cache hit/miss usage", async () => {
      const bytes = await fixture("deepseek-flash-reasoning.sse");
      const served = serve(bytes, Math.min(pieceSize, bytes.length));
      const deltas: string[] = [];
      const result = await createOpenAiChatModel(deepSeek(), { fetch: served.fetch }).complete({
        messages: MESSAGES,
        onDelta: (text) => deltas.push(text),
      });
      const expected = "Удалённая работа останется, но не для всех: производствам и клиникам нужен офис 🏢.";
      expect(result.text).toBe(expected);
      expect(deltas.join("")).toBe(expected);
      for (const text of [result.text, ...deltas]) {
        expect(text).not.toContain("Пользователь");
        expect(text).not.toContain("возразить");
      }
      expect(result.usage).toMatchObject({ input: 905, cachedInput: 832, output: 61, estimated: false });
      expect(result.usage.raw).toMatchObject({ prompt_cache_hit_tokens: 832, prompt_cache_miss_tokens: 73 });
      expect(result.model).toBe("deepseek-flash");
      // Debate turns ask DeepSeek not to think unless configured otherwise.
      expect(served.requests[0]!.body.thinking).toEqual({ type: "disabled" });
      expect(served.requests[0]!.url).toBe("https://api.deepseek.com/chat/completions");
    });

    test("an error event mid-stream is a classified, retryable server error without its request id", async () => {
      const bytes = await fixture("openai-error-mid-stream.sse");
      const served = serve(bytes, Math.min(pieceSize, bytes.length));
      const retries: number[] = [];
      let streamed = "";
      const error = await createOpenAiChatModel(openAi(), {
        fetch: served.fetch,
        retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      })
        .complete({
          messages: MESSAGES,
          onDelta: (text) => {
            streamed += text;
          },
          onRetry: (info) => {
            retries.push(info.attempt);
            streamed = "";
          },
        })
        .then(
          () => null,
          (thrown: LlmError) => thrown,
        );
      expect(error).toMatchObject({ code: "server_error", kind: "http", isRetryable: true, attempts: 2 });
      expect(error!.status).toBeUndefined();
      expect(error!.message).toContain("The server had an error while processing your request");
      expect(error!.message).not.toContain("req_7c1f9e2ab34d4e0f8a6b5c3d2e1f0a9b");
      expect(retries).toEqual([2]);
      expect(served.requests).toHaveLength(2);
      // The second attempt's partial text, never a mix of both.
      expect(streamed).toBe("Remote work is");
    });

    test("a stream without usage (CRLF, no include_usage support) is estimated and flagged", async () => {
      const bytes = await fixture("compatible-no-usage.sse");
      const served = serve(bytes, Math.min(pieceSize, bytes.length));
      const result = await createOpenAiChatModel(
        openAi({ type: "openai_compatible", baseUrl: "http://127.0.0.1:11434/v1", apiKey: "" }),
        { fetch: served.fetch },
      ).complete({ messages: MESSAGES });
      expect(result.text).toBe("Both sides have a point.");
      expect(result.finishReason).toBe("stop");
      expect(result.usage.estimated).toBe(true);
      expect(result.usage.input).toBeGreaterThan(10);
      expect(result.usage.output).toBeGreaterThan(0);
      expect(result.usage.cachedInput).toBe(0);
      expect(served.requests[0]!.authorization).toBeNull();
    });
  });
}
