import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  defaultReplyText,
  type FakeOpenAiServer,
  startFakeOpenAiServer,
} from "../helpers/fake-openai-server";

// The fake server is shared by every later test suite; these tests pin the protocol it speaks.

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

/** The parts of the OpenAI response shapes these tests read. */
interface Completion {
  object: string;
  choices: { message: { role: string; content: string; reasoning_content?: string } }[];
  usage?: Record<string, unknown>;
}
interface Chunk {
  choices: { delta: { content?: string | null }; finish_reason: string | null }[];
  usage?: Record<string, unknown>;
}
interface ErrorBody {
  error: { message: string; type: string; code: string | null };
}

function post(body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${server.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-fake-123456" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** Parses an SSE body into its `data:` payloads. */
function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((event) => event.startsWith("data: "))
    .map((event) => event.slice("data: ".length));
}

function wordList(text: string): string[] {
  return text.toLowerCase().split(/\W+/).filter(Boolean);
}

function words(text: string): Set<string> {
  return new Set(wordList(text));
}

function trigrams(text: string): Set<string> {
  const list = wordList(text);
  const grams = new Set<string>();
  for (let i = 0; i + 2 < list.length; i++) grams.add(list.slice(i, i + 3).join(" "));
  return grams;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  const shared = [...a].filter((item) => b.has(item)).length;
  return shared / (a.size + b.size - shared);
}

describe("fake OpenAI server", () => {
  test("streams SSE: content chunks, finish chunk, usage chunk with choices [], [DONE]", async () => {
    server.enqueue({ chunks: ["a", "b"], promptTokens: 11, completionTokens: 2 });
    const response = await post({
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = sseData(await response.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((data) => JSON.parse(data) as Chunk);
    const contents = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? ""));
    expect(contents.join("")).toBe("ab");
    const usageChunk = chunks.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 2, total_tokens: 13 });
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("stop");
  });

  test("no usage chunk unless the client asks for it", async () => {
    const response = await post({ model: "m", messages: [], stream: true });
    const events = sseData(await response.text());
    expect(events.some((data) => data.includes('"usage"'))).toBe(false);
  });

  test("plain JSON without stream, with reasoning and DeepSeek usage", async () => {
    server.enqueue({
      text: "answer",
      reasoning: "thoughts",
      usage: "deepseek",
      promptTokens: 10,
      cachedTokens: 4,
    });
    const body = (await (
      await post({ model: "deepseek-flash", messages: [{ role: "user", content: "q" }] })
    ).json()) as Completion;
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]!.message).toEqual({
      role: "assistant",
      content: "answer",
      reasoning_content: "thoughts",
    });
    expect(body.usage).toMatchObject({
      prompt_tokens: 10,
      prompt_cache_hit_tokens: 4,
      prompt_cache_miss_tokens: 6,
    });
  });

  test("records model, messages, body, headers and path", async () => {
    await (
      await post({ model: "gpt-x", messages: [{ role: "system", content: "s" }], temperature: 0.5 })
    ).text();
    const record = server.requests[0]!;
    expect(record).toMatchObject({ model: "gpt-x", path: "/v1/chat/completions", index: 0, aborted: false });
    expect(record.messages).toEqual([{ role: "system", content: "s" }]);
    expect(record.body.temperature).toBe(0.5);
    expect(record.headers.authorization).toBe("Bearer sk-fake-123456");
  });

  test("error statuses answer OpenAI-style JSON with retry-after", async () => {
    server.enqueue({ status: 429, errorMessage: "Slow down", retryAfterSeconds: 7 });
    const response = await post({ model: "m", messages: [] });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(await response.json()).toMatchObject({
      error: { message: "Slow down", code: "rate_limit_exceeded" },
    });
  });

  test("GET /models lists models; unknown paths are 404 JSON", async () => {
    const models = (await (await fetch(`${server.url}/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((model) => model.id)).toContain("gpt-4o-mini");
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.message).toContain("/v1/nope");
  });

  test("queued replies come before the responder; responder sees the index", async () => {
    server.setResponder((request, index) => ({ text: `responder ${index} for ${request.model}` }));
    server.enqueue({ text: "queued" });
    const first = (await (await post({ model: "a", messages: [] })).json()) as Completion;
    const second = (await (await post({ model: "b", messages: [] })).json()) as Completion;
    expect(first.choices[0]!.message.content).toBe("queued");
    expect(second.choices[0]!.message.content).toBe("responder 1 for b");
  });

  test("default replies are deterministic and never near-duplicates of recent ones", () => {
    expect(defaultReplyText("m", 3)).toBe(defaultReplyText("m", 3));
    const texts = Array.from({ length: 200 }, (_, i) =>
      defaultReplyText(i % 2 ? "gpt-4o-mini" : "deepseek-flash", i + 1),
    );
    expect(new Set(texts).size).toBe(texts.length);
    let worstWords = 0;
    let worstTrigrams = 0;
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < Math.min(texts.length, i + 6); j++) {
        worstWords = Math.max(worstWords, jaccard(words(texts[i]!), words(texts[j]!)));
        worstTrigrams = Math.max(worstTrigrams, jaccard(trigrams(texts[i]!), trigrams(texts[j]!)));
      }
    }
    // Replies within five turns of each other share well under half of their words.
    expect(worstWords).toBeLessThan(0.45);
    expect(worstTrigrams).toBeLessThan(0.25);
  });

  test("a client that aborts is recorded and the server keeps serving", async () => {
    server.enqueue({ hang: true });
    const controller = new AbortController();
    const response = await post({ model: "m", messages: [], stream: true }, controller.signal);
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await server.waitForAbort(0, 2000);
    expect(server.requests[0]!.aborted).toBe(true);
    const after = await post({ model: "m", messages: [] });
    expect(after.status).toBe(200);
  });

  test("delayMs holds the headers back", async () => {
    server.enqueue({ delayMs: 120 });
    const startedAt = Date.now();
    await (await post({ model: "m", messages: [] })).json();
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(110);
  });

  test("waitForRequests resolves on arrival and times out otherwise", async () => {
    const waiting = server.waitForRequests(1, 2000);
    await (await post({ model: "m", messages: [] })).json();
    await waiting;
    await expect(server.waitForRequests(5, 50)).rejects.toThrow("timed out");
  });
});
