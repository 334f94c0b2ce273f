/**
 * A small real HTTP server imitating the OpenAI-compatible chat completions API
 * (OpenAI, DeepSeek and friends), for tests and benchmarks. It listens on
 * 127.0.0.1 on a free port, streams SSE like the real thing (content chunks, a
 * finish chunk, a usage chunk with `choices: []`, `data: [DONE]`), and records
 * every chat request so tests can assert on what the client sent.
 *
 * Replies come from one-shot `enqueue`d replies first, then from the responder
 * (settable), then from a default responder that writes distinct, deterministic,
 * non-repeating text per request so loop guards never see duplicates.
 */

/** What the server should answer to one chat completion request. */
export interface FakeReply {
  /** The answer text. Defaults to the default responder's text for this request. */
  text?: string;
  /** Content chunks to stream; overrides splitting `text`. */
  chunks?: string[];
  /** DeepSeek-style `reasoning_content`, streamed before the content. */
  reasoning?: string;
  /** Delay before the response headers are sent. */
  delayMs?: number;
  /** Delay between streamed chunks. */
  chunkDelayMs?: number;
  /** HTTP status; >= 400 answers with an OpenAI-style error body. */
  status?: number;
  /** Error message for error statuses. */
  errorMessage?: string;
  /** Sets the `retry-after` header (seconds). */
  retryAfterSeconds?: number;
  /** Usage shape to report; "none" sends no usage at all. Default "openai". */
  usage?: "openai" | "deepseek" | "none";
  /** Overrides the prompt tokens (default: computed from the message lengths). */
  promptTokens?: number;
  /** Cached prompt tokens (default 0). */
  cachedTokens?: number;
  /** Overrides the completion tokens (default: computed from the text length). */
  completionTokens?: number;
  /** Streams a first chunk, then never finishes: waits until the client goes away. */
  hang?: boolean;
  /**
   * Sends the content chunks, then breaks the connection (no finish chunk, no `[DONE]`),
   * like a dropped upstream. Bun logs the deliberate stream error once; it is harmless.
   */
  truncate?: boolean;
  /** finish_reason of the last chunk; default "stop". */
  finishReason?: string;
  /** Model name the server reports; default: the requested model. */
  model?: string;
}

/** One chat completion request as the server saw it. */
export interface FakeRequestRecord {
  model: string;
  /** The parsed JSON body, as sent. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary request fields (thinking, extra params) without ceremony.
  body: any;
  /** Request headers, lower-cased names. */
  headers: Record<string, string>;
  messages: { role: string; content: string }[];
  /** `Date.now()` when the request arrived. */
  receivedAt: number;
  path: string;
  /** Position among the chat requests since start or the last reset (0-based). */
  index: number;
  /** True once the client went away before the response was complete. */
  aborted: boolean;
  /** `Date.now()` when the response finished or was abandoned by the client. */
  endedAt?: number;
}

/** A responder decides the reply to each request (index = position since reset, 0-based). */
export type FakeResponder = (request: FakeRequestRecord, index: number) => FakeReply | Promise<FakeReply>;

/** Handle of a running fake server. */
export interface FakeOpenAiServer {
  /** Base URL including `/v1`, ready for `ProviderConfig.baseUrl`. */
  url: string;
  /** Chat completion requests received since start or the last reset, in arrival order. */
  requests: FakeRequestRecord[];
  /** Replaces the responder (the default one when never set or after reset). */
  setResponder(fn: FakeResponder): void;
  /** One-shot replies, consumed in order before the responder is asked. */
  enqueue(...replies: FakeReply[]): void;
  /** Resolves once at least `count` chat requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once `predicate` holds over the recorded requests (re-checked on every server event). */
  waitFor(
    predicate: (requests: FakeRequestRecord[]) => boolean,
    timeoutMs?: number,
    label?: string,
  ): Promise<void>;
  /** Resolves once request `index` was abandoned by its client. */
  waitForAbort(index: number, timeoutMs?: number): Promise<void>;
  /** Forgets requests, queued replies and the custom responder. */
  reset(): void;
  /** Stops listening and drops open connections. */
  stop(): Promise<void>;
}

/** Options of {@link startFakeOpenAiServer}. */
export interface FakeOpenAiServerOptions {
  /** Port to listen on; default 0 (a free one). */
  port?: number;
  /** Path prefix of the API; default "/v1". */
  basePath?: string;
  /** Initial responder. */
  responder?: FakeResponder;
  /** Model ids listed by `GET /models`. */
  models?: string[];
  /** Default delay between chunks when a reply sets none; default 0. */
  chunkDelayMs?: number;
}

// Word pools for the default replies. Large and lexically varied so two replies share few
// words, and each reply draws without replacement so no phrase repeats inside it.
const SUBJECTS = [
  "a shared budget",
  "the pilot programme",
  "public trust",
  "long-term maintenance",
  "local expertise",
  "the cost of delay",
  "an independent audit",
  "an open standard",
  "regional variation",
  "historical precedent",
  "careful measurement",
  "the incentive structure",
  "a small experiment",
  "user feedback",
  "the supply chain",
  "legal liability",
  "energy consumption",
  "staff training",
  "insurance pricing",
  "municipal debt",
  "neighbourhood density",
  "procurement law",
  "volunteer capacity",
  "tax revenue",
  "housing turnover",
  "courtroom practice",
  "weather volatility",
  "tourist traffic",
];
const VERBS = [
  "outweighs",
  "undermines",
  "clarifies",
  "reshapes",
  "complicates",
  "strengthens",
  "exposes",
  "limits",
  "rewards",
  "redirects",
  "predicts",
  "slows",
  "accelerates",
  "distorts",
  "stabilises",
  "magnifies",
  "obscures",
  "anchors",
  "erodes",
  "funds",
];
const OBJECTS = [
  "the opponent's strongest claim",
  "every optimistic forecast",
  "how quickly adoption spreads",
  "the distribution of risk",
  "who pays in the end",
  "the quality of decisions",
  "what voters actually want",
  "supplier behaviour",
  "any rollout schedule",
  "second-order effects",
  "our margin for error",
  "the burden on newcomers",
  "pension obligations",
  "rural broadband",
  "classroom sizes",
  "hospital waiting lists",
  "freight corridors",
  "river pollution",
  "startup formation",
  "wage growth",
  "commuter patterns",
  "archive access",
];
const TAILS = [
  "especially in smaller towns",
  "once the novelty wears off",
  "if we are honest about the numbers",
  "as several studies suggest",
  "within a single budget cycle",
  "unless oversight improves",
  "for anyone paying attention",
  "despite loud objections",
  "over the following decade",
  "in nearly every comparable case",
  "before critics notice",
  "according to recent surveys",
  "whenever winters are harsh",
  "under most coalition governments",
  "after the first audit",
  "during economic downturns",
  "among younger households",
  "near major ports",
  "since the last reform",
  "without extra staff",
];

/** Deterministic 32-bit PRNG (mulberry32): same seed, same text; nearby seeds, unrelated text. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return hash >>> 0;
}

/** Draws `count` distinct items (fewer when the pool is smaller). */
function pickDistinct<T>(items: readonly T[], count: number, random: () => number): T[] {
  const pool = [...items];
  const picked: T[] = [];
  while (picked.length < count && pool.length > 0) {
    picked.push(pool.splice(Math.floor(random() * pool.length), 1)[0] as T);
  }
  return picked;
}

/** The n-th window of `count` consecutive items, wrapping around. */
function rotation<T>(items: readonly T[], n: number, count: number): T[] {
  return Array.from({ length: count }, (_, i) => items[(n * 4 + i) % items.length] as T);
}

/**
 * The default answer for the n-th request (1-based) to `model`: distinct and
 * deterministic, several sentences whose wording varies with n, so that
 * near-duplicate checks on consecutive turns never trip.
 */
export function defaultReplyText(model: string, n: number): string {
  const random = mulberry32(hashString(model) ^ Math.imul(n, 2654435761));
  const count = 3 + (n % 2);
  // Subjects and objects rotate with n, so the next several replies never reuse one;
  // verbs and tails are drawn at random for variety.
  const subjects = rotation(SUBJECTS, n, count);
  const objects = pickDistinct(rotation(OBJECTS, n, count), count, random);
  const verbs = pickDistinct(VERBS, count, random);
  const tails = pickDistinct(TAILS, count, random);
  const sentences = subjects.map((subject, i) => {
    const sentence = `${subject} ${verbs[i]} ${objects[i]} ${tails[i]}.`;
    return sentence.charAt(0).toUpperCase() + sentence.slice(1);
  });
  return `${model} — point ${n}: ${sentences.join(" ")}`;
}

/** Splits text into a few chunks at word boundaries, like a real stream. */
function splitIntoChunks(text: string): string[] {
  const words = text.match(/\S+\s*/g) ?? [text];
  const chunks: string[] = [];
  const perChunk = Math.max(1, Math.ceil(words.length / 6));
  const leading = text.match(/^\s*/)?.[0] ?? "";
  for (let i = 0; i < words.length; i += perChunk) chunks.push(words.slice(i, i + perChunk).join(""));
  if (chunks.length > 0 && leading) chunks[0] = leading + chunks[0];
  return chunks.length > 0 ? chunks : [""];
}

/** Rough token count (4 characters per token) for computed usage. */
function approxTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part === "object" && part !== null && "text" in part ? String(part.text) : ""))
      .join("");
  }
  return content === undefined || content === null ? "" : JSON.stringify(content);
}

function errorType(status: number): { type: string; code: string | null } {
  if (status === 401) return { type: "invalid_request_error", code: "invalid_api_key" };
  if (status === 403) return { type: "invalid_request_error", code: "permission_denied" };
  if (status === 404) return { type: "invalid_request_error", code: "model_not_found" };
  if (status === 429) return { type: "requests", code: "rate_limit_exceeded" };
  if (status >= 500) return { type: "server_error", code: null };
  return { type: "invalid_request_error", code: null };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The request body fields the server looks at; anything may be missing in a malformed request. */
interface ChatBody {
  model?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
  messages?: { role?: unknown; content?: unknown }[];
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
}

/** Starts a fake OpenAI-compatible server on 127.0.0.1. Call `stop()` when done. */
export async function startFakeOpenAiServer(
  options: FakeOpenAiServerOptions = {},
): Promise<FakeOpenAiServer> {
  const basePath = (options.basePath ?? "/v1").replace(/\/+$/, "");
  const models = options.models ?? ["gpt-4o-mini", "deepseek-chat", "fake-model"];
  let responder: FakeResponder | undefined = options.responder;
  let queue: FakeReply[] = [];
  // Mutated in place, never replaced, so a reference taken before reset() stays live.
  const requests: FakeRequestRecord[] = [];
  let waiters: Waiter[] = [];
  let replyCounter = 0;

  function notify(): void {
    if (waiters.length === 0) return;
    const pending: Waiter[] = [];
    for (const waiter of waiters) {
      if (waiter.check()) waiter.resolve();
      else pending.push(waiter);
    }
    waiters = pending;
  }

  function waitFor(
    predicate: (records: FakeRequestRecord[]) => boolean,
    timeoutMs = 5000,
    label = "condition",
  ): Promise<void> {
    if (predicate(requests)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        check: () => predicate(requests),
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        waiters = waiters.filter((candidate) => candidate !== waiter);
        reject(new Error(`fake-openai-server: timed out after ${timeoutMs} ms waiting for ${label}`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  }

  function markEnded(record: FakeRequestRecord, aborted: boolean): void {
    if (record.endedAt !== undefined) return;
    record.endedAt = Date.now();
    record.aborted = aborted;
    notify();
  }

  async function nextReply(record: FakeRequestRecord): Promise<FakeReply> {
    const queued = queue.shift();
    if (queued) return queued;
    if (responder) return responder(record, record.index);
    return {};
  }

  function errorResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
    return Response.json({ error: { message, ...errorType(status), param: null } }, { status, headers });
  }

  function usageObject(reply: FakeReply, record: FakeRequestRecord, text: string): Record<string, unknown> {
    const promptTokens =
      reply.promptTokens ??
      record.messages.reduce((total, message) => total + 4 + approxTokens(message.content), 3);
    const cached = Math.min(reply.cachedTokens ?? 0, promptTokens);
    const reasoningTokens = reply.reasoning ? approxTokens(reply.reasoning) : 0;
    const completionTokens = reply.completionTokens ?? approxTokens(text) + reasoningTokens;
    const total = promptTokens + completionTokens;
    if (reply.usage === "deepseek") {
      return {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: total,
        prompt_tokens_details: { cached_tokens: cached },
        prompt_cache_hit_tokens: cached,
        prompt_cache_miss_tokens: promptTokens - cached,
        ...(reasoningTokens > 0 ? { completion_tokens_details: { reasoning_tokens: reasoningTokens } } : {}),
      };
    }
    return {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: total,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: reasoningTokens, audio_tokens: 0 },
    };
  }

  async function handleChat(request: Request, path: string): Promise<Response> {
    let body: ChatBody;
    try {
      body = (await request.json()) as ChatBody;
    } catch {
      return errorResponse(400, "We could not parse the JSON body of your request.");
    }
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      headers[key.toLowerCase()] = value;
    });
    const messages = Array.isArray(body?.messages)
      ? body.messages.map((message) => ({
          role: String(message?.role ?? ""),
          content: contentText(message?.content),
        }))
      : [];
    const record: FakeRequestRecord = {
      model: typeof body?.model === "string" ? body.model : "",
      body,
      headers,
      messages,
      receivedAt: Date.now(),
      path,
      index: requests.length,
      aborted: false,
    };
    requests.push(record);
    const signal = request.signal;
    signal.addEventListener("abort", () => markEnded(record, true), { once: true });
    notify();

    let reply: FakeReply;
    try {
      reply = await nextReply(record);
    } catch (error) {
      markEnded(record, false);
      return errorResponse(500, `fake responder failed: ${String(error)}`);
    }
    await sleep(reply.delayMs ?? 0, signal);
    if (signal.aborted) {
      markEnded(record, true);
      return new Response(null, { status: 499 });
    }

    const status = reply.status ?? 200;
    if (status >= 400) {
      markEnded(record, false);
      const retryHeaders: Record<string, string> =
        reply.retryAfterSeconds === undefined ? {} : { "retry-after": String(reply.retryAfterSeconds) };
      return errorResponse(status, reply.errorMessage ?? `Fake error with status ${status}`, retryHeaders);
    }

    replyCounter += 1;
    const model = reply.model ?? record.model;
    const text =
      reply.text ?? (reply.chunks ? reply.chunks.join("") : defaultReplyText(model || "model", replyCounter));
    const id = `chatcmpl-fake-${record.index}-${replyCounter}`;
    const created = Math.floor(Date.now() / 1000);
    const finishReason = reply.finishReason ?? "stop";
    const usageKind = reply.usage ?? "openai";

    if (body?.stream !== true) {
      markEnded(record, false);
      return Response.json({
        id,
        object: "chat.completion",
        created,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: text,
              ...(reply.reasoning ? { reasoning_content: reply.reasoning } : {}),
            },
            finish_reason: finishReason,
          },
        ],
        ...(usageKind === "none" ? {} : { usage: usageObject(reply, record, text) }),
      });
    }

    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices, ...extra })}\n\n`;
    const delta = (fields: Record<string, unknown>, finish: string | null = null) =>
      chunk([{ index: 0, delta: fields, logprobs: null, finish_reason: finish }]);

    const contentChunks = reply.chunks ?? splitIntoChunks(text);
    const reasoningChunks = reply.reasoning ? splitIntoChunks(reply.reasoning) : [];
    const chunkDelayMs = reply.chunkDelayMs ?? options.chunkDelayMs ?? 0;
    const includeUsage = usageKind !== "none" && body?.stream_options?.include_usage === true;
    const encoder = new TextEncoder();

    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        const send = (data: string): boolean => {
          if (signal.aborted) return false;
          try {
            controller.enqueue(encoder.encode(data));
            return true;
          } catch {
            // The client went away between our check and the write; nothing to deliver to.
            return false;
          }
        };
        const pause = async (): Promise<boolean> => {
          if (chunkDelayMs > 0) await sleep(chunkDelayMs, signal);
          return !signal.aborted;
        };
        const close = () => {
          try {
            controller.close();
          } catch {
            // Already closed or cancelled by the client.
          }
        };

        if (!send(delta({ role: "assistant", content: "" }))) return close();
        if (reply.hang) {
          const first = contentChunks[0] ?? "";
          send(delta({ content: first }));
          // Hold the connection open until the client aborts; only then end the response.
          await new Promise<void>((resolve) => {
            if (signal.aborted) resolve();
            else signal.addEventListener("abort", () => resolve(), { once: true });
          });
          markEnded(record, true);
          return close();
        }
        for (const part of reasoningChunks) {
          if (!(await pause())) return close();
          if (!send(delta({ content: null, reasoning_content: part }))) return close();
        }
        for (const part of contentChunks) {
          if (!(await pause())) return close();
          if (!send(delta({ content: part }))) return close();
        }
        if (reply.truncate) {
          markEnded(record, false);
          return controller.error(new Error("fake-openai-server: truncated stream"));
        }
        if (!(await pause())) return close();
        send(delta({}, finishReason));
        if (includeUsage) send(chunk([], { usage: usageObject(reply, record, text) }));
        send("data: [DONE]\n\n");
        markEnded(record, signal.aborted);
        close();
      },
      cancel() {
        markEnded(record, true);
      },
    });

    return new Response(stream, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-request-id": `req_fake_${record.index}`,
      },
    });
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    // Hanging streams and long delays are deliberate here; Bun's default 10 s idle timeout would cut them.
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const path = url.pathname;
      if (request.method === "POST" && path === `${basePath}/chat/completions`) {
        return handleChat(request, path);
      }
      if (request.method === "GET" && path === `${basePath}/models`) {
        return Response.json({
          object: "list",
          data: models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "fake" })),
        });
      }
      return errorResponse(404, `Unknown request URL: ${request.method} ${path}.`);
    },
    error(error) {
      return errorResponse(500, `fake-openai-server: ${error.message}`);
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}${basePath}`,
    requests,
    setResponder(fn) {
      responder = fn;
    },
    enqueue(...replies) {
      queue.push(...replies);
    },
    waitForRequests(count, timeoutMs = 5000) {
      return waitFor((records) => records.length >= count, timeoutMs, `${count} request(s)`);
    },
    waitFor,
    waitForAbort(index, timeoutMs = 5000) {
      return waitFor((records) => records[index]?.aborted === true, timeoutMs, `abort of request ${index}`);
    },
    reset() {
      requests.length = 0;
      queue = [];
      responder = options.responder;
      replyCounter = 0;
      notify();
    },
    async stop() {
      await server.stop(true);
      notify();
    },
  };
}
