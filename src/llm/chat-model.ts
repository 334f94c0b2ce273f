/**
 * The provider-neutral chat model interface the debate core talks to.
 *
 * One small interface, one adapter per provider family (see `openai-chat-model.ts`,
 * which serves OpenAI, DeepSeek and any OpenAI-compatible endpoint). Nothing here
 * knows about the database or the doors.
 */

import type { LlmError } from "./llm-errors";

/** Provider families. All three speak the OpenAI chat completions protocol. */
export type ProviderType = "openai" | "deepseek" | "openai_compatible";

/** Provider params stored as jsonb; every field optional. Prices are USD per 1M tokens. */
export interface ProviderParams {
  temperature?: number;
  max_tokens?: number;
  /** USD per 1M uncached input (prompt) tokens. */
  price_input_per_1m?: number;
  /** USD per 1M cached input tokens; defaults to `price_input_per_1m` when absent. */
  price_cached_input_per_1m?: number;
  /** USD per 1M output (completion) tokens, reasoning tokens included. */
  price_output_per_1m?: number;
  /**
   * Extra body fields merged into every chat completion request (e.g. `top_p`,
   * DeepSeek's `thinking`). They cannot replace `model`, `messages` or `stream`.
   */
  extra?: Record<string, unknown>;
}

/** A configured provider: endpoint, decrypted credentials and the model to call. */
export interface ProviderConfig {
  id: number;
  name: string;
  type: ProviderType;
  /** Base URL including the version segment, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** Decrypted API key. Never log it; errors produced by this layer are scrubbed of it. */
  apiKey: string;
  modelId: string;
  params: ProviderParams;
}

/** One chat message. Reasoning content is never part of a message. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/**
 * Token usage of one call, normalised across providers.
 * `input` is the total prompt tokens INCLUDING the cached ones; `cachedInput` is the
 * cached part of it. `estimated` is true when the provider reported nothing and the
 * numbers come from gpt-tokenizer. `raw` keeps the provider's own usage object.
 */
export interface TokenUsage {
  input: number;
  cachedInput: number;
  output: number;
  estimated: boolean;
  raw?: unknown;
}

/** Information passed to {@link ChatRequest.onRetry} before a retry attempt starts. */
export interface ChatRetryInfo {
  /** The attempt about to start (2 for the first retry). */
  attempt: number;
  /** How long the model waits before that attempt. */
  delayMs: number;
  /** The (retryable) error that ended the previous attempt. */
  error: LlmError;
}

/** One completion request. */
export interface ChatRequest {
  messages: ChatMessage[];
  /**
   * Aborts the call, including an in-flight stream and any backoff sleep. When it
   * aborts, `complete()` rejects with `LlmError` code `"timeout"` if the reason is a
   * `TimeoutError` (e.g. `AbortSignal.timeout`), `"aborted"` otherwise.
   */
  signal?: AbortSignal;
  /** Called with each streamed text fragment, in order. Reasoning content is never passed. */
  onDelta?: (text: string) => void;
  /**
   * Called before a retry. Deltas already passed on by the failed attempt are void:
   * a consumer that renders `onDelta` output should reset its buffer here.
   */
  onRetry?: (info: ChatRetryInfo) => void;
  /** Overrides `params.max_tokens` for this call. */
  maxTokens?: number;
  /**
   * Absolute deadline (same clock as the model's `now`, `Date.now()` by default).
   * A retry whose backoff would end past it is not attempted; the last error is
   * thrown instead, so the caller learns why the provider failed rather than a bare
   * timeout. The signal still enforces the deadline on the request itself.
   */
  deadlineMs?: number;
}

/** The outcome of a successful call. */
export interface ChatResult {
  /** The assembled answer (content only, never reasoning content). */
  text: string;
  usage: TokenUsage;
  /** Cost in USD as a decimal string with exactly 8 decimal places (numeric(18,8)). */
  costUsd: string;
  /** Wall time of the successful attempt, in ms. */
  latencyMs: number;
  /** Model name reported by the provider (falls back to the configured model id). */
  model: string;
  finishReason: string | null;
  /** How many attempts were made, the successful one included. */
  attempts: number;
}

/** A chat model bound to one provider configuration. */
export interface ChatModel {
  readonly provider: ProviderConfig;
  /** Streams one completion; rejects with `LlmError` only. */
  complete(request: ChatRequest): Promise<ChatResult>;
}

/**
 * A model whose every call fails with `error` before anything is sent: a provider that must not be
 * called (an unreadable key, a host not allowed). The engine treats it like any non-retryable failure.
 */
export function createFailingChatModel(provider: ProviderConfig, error: LlmError): ChatModel {
  return {
    provider,
    async complete() {
      throw error;
    },
  };
}
