/**
 * Usage normalisation: providers report tokens in different shapes; the core only
 * ever sees {@link TokenUsage}. Pure functions, the provider's raw value is kept.
 */

import type { ChatMessage, TokenUsage } from "./chat-model";
import { countTextTokens } from "./tokenizer";

/**
 * Per-message framing overhead in the chat format (role markers and separators),
 * and the tokens that prime the assistant's reply, after OpenAI's token counting
 * guide. Only used for estimates, so approximate is fine.
 */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_REPLY = 3;

function toCount(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
}

/**
 * Normalises a provider usage object into {@link TokenUsage}.
 *
 * - OpenAI: `prompt_tokens` (cached included), `completion_tokens`,
 *   `prompt_tokens_details.cached_tokens`.
 * - DeepSeek: `prompt_tokens` = `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens`,
 *   `completion_tokens` (reasoning included).
 *
 * `input` is the total prompt tokens including cached ones. Returns `null` when the
 * value carries no token counts at all (the caller then estimates).
 */
export function normalizeUsage(raw: unknown): TokenUsage | null {
  if (typeof raw !== "object" || raw === null) return null;
  const usage = raw as Record<string, unknown>;
  const details = usage.prompt_tokens_details;
  const cachedDetail =
    typeof details === "object" && details !== null
      ? toCount((details as Record<string, unknown>).cached_tokens)
      : undefined;
  const cacheHit = toCount(usage.prompt_cache_hit_tokens);
  const cacheMiss = toCount(usage.prompt_cache_miss_tokens);
  const promptTokens = toCount(usage.prompt_tokens);
  const completionTokens = toCount(usage.completion_tokens);

  const input =
    promptTokens ??
    (cacheHit !== undefined || cacheMiss !== undefined ? (cacheHit ?? 0) + (cacheMiss ?? 0) : undefined);
  if (input === undefined && completionTokens === undefined) return null;

  const inputTokens = input ?? 0;
  // DeepSeek's own field wins when both are present: it is what DeepSeek bills.
  const cached = Math.min(cacheHit ?? cachedDetail ?? 0, inputTokens);
  return { input: inputTokens, cachedInput: cached, output: completionTokens ?? 0, estimated: false, raw };
}

/** Estimates the prompt tokens of a message list, chat framing included. */
export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  let total = TOKENS_PER_REPLY;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + countTextTokens(message.role) + countTextTokens(message.content);
  }
  return total;
}

/**
 * Estimates usage with gpt-tokenizer when the provider reported none. Nothing is
 * assumed cached; `estimated` is set so reports can tell estimates from facts.
 */
export function estimateUsage(messages: readonly ChatMessage[], text: string): TokenUsage {
  return {
    input: estimatePromptTokens(messages),
    cachedInput: 0,
    output: countTextTokens(text),
    estimated: true,
  };
}
