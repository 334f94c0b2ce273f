/**
 * The chat model adapter for OpenAI, DeepSeek and any OpenAI-compatible endpoint,
 * built on the official `openai` SDK with our own retry policy.
 *
 * Why our own retries: the SDK's (default 2) neither know the turn deadline nor
 * cover a stream that fails after the headers, and its `timeout` stops at the
 * response headers. The caller's AbortSignal is the one deadline: it aborts the
 * in-flight stream and any backoff sleep.
 *
 * The key goes to the provider's origin and nowhere else: a base_url that breaks our rules or
 * `PROVIDER_HOSTS` is never called, redirects are not followed (a 3xx is an error), and the
 * fetch handed to the SDK refuses any other origin.
 */

import OpenAI from "openai";
import {
  type ChatModel,
  type ChatRequest,
  type ChatResult,
  createFailingChatModel,
  type ProviderConfig,
  type TokenUsage,
} from "./chat-model";
import { abortedError, classifyError, LlmError } from "./llm-errors";
import { computeCostUsd } from "./pricing";
import { baseUrlRefusal, type HostPattern } from "./provider-url";
import { estimateUsage, normalizeUsage } from "./usage";

/** Retry policy; delays in ms. */
export interface RetryOptions {
  /** Total attempts, the first one included. Default 4. */
  maxAttempts?: number;
  /** Backoff before the first retry; doubles per retry. Default 500. */
  baseDelayMs?: number;
  /** Cap of the exponential backoff (not of `retry-after`). Default 8000. */
  maxDelayMs?: number;
}

/** Options of {@link createOpenAiChatModel}. */
export interface OpenAiChatModelOptions {
  /** fetch implementation handed to the SDK (tests, proxies). */
  fetch?: typeof fetch;
  retry?: RetryOptions;
  /** Clock for latency and deadlines; default `Date.now`. */
  now?: () => number;
  /** Source of jitter in [0, 1); default `Math.random`. */
  random?: () => number;
  /** `PROVIDER_HOSTS`: a provider on another host is never called. Default: any host. */
  providerHosts?: readonly HostPattern[];
}

const DEFAULT_RETRY = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 8000 };

/**
 * Body fields the adapter sets, which `params.extra` cannot override: the model, the conversation,
 * streaming with usage, and the settings that have their own params (one choice only: we read one).
 */
export const RESERVED_BODY_FIELDS: ReadonlySet<string> = new Set([
  "model",
  "messages",
  "stream",
  "stream_options",
  "temperature",
  "max_tokens",
  "n",
]);

/**
 * Delay before retry number `retry` (1 for the first retry): exponential, capped,
 * with up to 25% jitter taken off so simultaneous failures spread out, and never
 * shorter than what the provider asked for in `retry-after`.
 */
export function retryDelayMs(
  retry: number,
  retryAfterMs: number | undefined,
  policy: Required<RetryOptions>,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const backoff = Math.round(exponential * (1 - 0.25 * random()));
  return Math.max(retryAfterMs ?? 0, backoff);
}

/** Sleeps `ms`, waking early (resolving false) when the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The fetch handed to the SDK: no redirect is followed (Bun's fetch would resend the Authorization
 * header to wherever a 3xx points), and a request for any origin but the provider's is refused.
 */
function originBoundFetch(inner: typeof fetch, origin: string): typeof fetch {
  const prefix = `${origin}/`;
  const bound = (input: string | URL | Request, init?: RequestInit) => {
    const href = input instanceof Request ? input.url : String(input);
    // The SDK passes the absolute URL it built; a prefix test spares parsing it on every call.
    if (!href.startsWith(prefix) && new URL(href).origin !== origin) {
      throw new LlmError({
        code: "refused",
        message: "Not sent: the request was for another origin than the provider's base_url.",
        isRetryable: false,
      });
    }
    return inner(input, { ...init, redirect: "manual" });
  };
  return bound as typeof fetch;
}

/** Builds the request body: config params, the DeepSeek default, then `extra`. */
function buildBody(provider: ProviderConfig, request: ChatRequest): Record<string, unknown> {
  const params = provider.params ?? {};
  const extra = params.extra ?? {};
  const body: Record<string, unknown> = {
    model: provider.modelId,
    messages: request.messages.map((message) => ({ role: message.role, content: message.content })),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (typeof params.temperature === "number") body.temperature = params.temperature;
  const maxTokens = request.maxTokens ?? params.max_tokens;
  if (typeof maxTokens === "number") body.max_tokens = maxTokens;
  // DeepSeek thinks by default: slow, billed, and its reasoning is never shown in a debate.
  if (provider.type === "deepseek" && !("thinking" in extra)) body.thinking = { type: "disabled" };
  for (const [key, value] of Object.entries(extra)) {
    if (!RESERVED_BODY_FIELDS.has(key)) body[key] = value;
  }
  return body;
}

interface AttemptOutcome {
  text: string;
  rawUsage: unknown;
  model: string | undefined;
  finishReason: string | null;
}

/**
 * Creates a {@link ChatModel} for an OpenAI-protocol provider. Streams every call,
 * retries retryable failures with backoff honouring `retry-after`, stays inside the
 * caller's signal, and prices the call from the provider params.
 */
export function createOpenAiChatModel(
  provider: ProviderConfig,
  options: OpenAiChatModelOptions = {},
): ChatModel {
  const policy: Required<RetryOptions> = {
    maxAttempts: Math.max(1, Math.floor(options.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts)),
    baseDelayMs: Math.max(0, options.retry?.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs),
    maxDelayMs: Math.max(0, options.retry?.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs),
  };
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const hasKey = provider.apiKey.trim() !== "";
  const refusal = baseUrlRefusal(provider.baseUrl, options.providerHosts ?? []);
  if (refusal) {
    return createFailingChatModel(
      provider,
      new LlmError({ code: "refused", message: `Not called: ${refusal}.`, isRetryable: false }),
    );
  }
  const origin = new URL(provider.baseUrl.trim()).origin;

  const client = new OpenAI({
    // The SDK refuses to start without a key; keyless local servers get a placeholder
    // that the header override below keeps off the wire.
    apiKey: hasKey ? provider.apiKey : "no-key",
    baseURL: provider.baseUrl.trim(),
    maxRetries: 0,
    // Explicit nulls stop the SDK from picking up OPENAI_ORG_ID / OPENAI_PROJECT_ID /
    // OPENAI_ADMIN_KEY from the environment and sending them to third-party providers.
    organization: null,
    project: null,
    adminAPIKey: null,
    webhookSecret: null,
    // We log each call ourselves, scrubbed; the SDK's console logging would bypass that.
    logLevel: "off",
    ...(hasKey ? {} : { defaultHeaders: { authorization: null } }),
    fetch: originBoundFetch(options.fetch ?? fetch, origin),
  });

  async function attempt(request: ChatRequest): Promise<AttemptOutcome> {
    const body = buildBody(provider, request);
    // `thinking` and other `extra` fields are not in the SDK's types; the SDK sends the body as JSON as is.
    const stream = await client.chat.completions.create(
      body as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming,
      { signal: request.signal ?? null },
    );
    let text = "";
    let rawUsage: unknown;
    let model: string | undefined;
    let finishReason: string | null = null;
    for await (const chunk of stream) {
      if (chunk.usage) rawUsage = chunk.usage;
      if (typeof chunk.model === "string" && chunk.model) model = chunk.model;
      // The include_usage chunk has `choices: []`; some compatible servers omit it entirely.
      for (const choice of chunk.choices ?? []) {
        if (choice.index !== 0 && choice.index !== undefined) continue;
        // Only `content` is the answer: `reasoning_content` (DeepSeek thinking) is dropped here.
        const content = choice.delta?.content;
        if (typeof content === "string" && content.length > 0) {
          text += content;
          request.onDelta?.(content);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    }
    // The SDK ends the iteration quietly when the request is aborted mid-stream, so a
    // stream that stopped without a finish reason must be checked against the signal.
    // One that did finish is returned even if the signal fired since: it was billed.
    if (finishReason === null && request.signal?.aborted) throw abortedError(request.signal);
    return { text, rawUsage, model, finishReason };
  }

  async function complete(request: ChatRequest): Promise<ChatResult> {
    const signal = request.signal;
    let attempts = 0;
    for (;;) {
      if (signal?.aborted) throw withAttempts(abortedError(signal), attempts);
      attempts += 1;
      const startedAt = now();
      let error: LlmError;
      try {
        const outcome = await attempt(request);
        const latencyMs = Math.max(0, now() - startedAt);
        const usage: TokenUsage =
          normalizeUsage(outcome.rawUsage) ?? estimateUsage(request.messages, outcome.text);
        return {
          text: outcome.text,
          usage,
          costUsd: computeCostUsd(usage, provider.params ?? {}),
          latencyMs,
          model: outcome.model ?? provider.modelId,
          finishReason: outcome.finishReason,
          attempts,
        };
      } catch (thrown) {
        // Whatever the SDK made of it, an aborted caller signal means aborted (or timed out).
        if (signal?.aborted) throw withAttempts(abortedError(signal), attempts);
        error = classifyError(thrown, provider.apiKey);
      }

      if (!error.isRetryable || attempts >= policy.maxAttempts) throw withAttempts(error, attempts);
      const delayMs = retryDelayMs(attempts, error.retryAfterMs, policy, random);
      // A retry that cannot start before the deadline would only turn a provider error into a timeout.
      if (request.deadlineMs !== undefined && now() + delayMs >= request.deadlineMs) {
        throw withAttempts(error, attempts);
      }
      request.onRetry?.({ attempt: attempts + 1, delayMs, error });
      if (!(await sleep(delayMs, signal)) && signal) throw withAttempts(abortedError(signal), attempts);
    }
  }

  return { provider, complete };
}

function withAttempts(error: LlmError, attempts: number): LlmError {
  error.attempts = attempts;
  return error;
}
