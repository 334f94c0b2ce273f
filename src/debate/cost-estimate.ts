import type { ProviderParams } from "../llm/chat-model";
import { addCostUsd, computeCostUsd, ZERO_COST_USD } from "../llm/pricing";

/** The expected cost of a debate, USD decimal strings: short answers with prompt caching, long ones without. */
export interface CostEstimate {
  lowUsd: string;
  highUsd: string;
}

/** Tokens of a system prompt: the debate frame, a persona and the rules (see `prompt.ts`). */
const SYSTEM_PROMPT_TOKENS = 320;
/** Chat-format overhead and the speaker's name prefix of one history message. */
const MESSAGE_OVERHEAD_TOKENS = 8;
/** A short answer: the prompt asks for under 200 words, and many turns are shorter. */
const SHORT_ANSWER_TOKENS = 150;
/** A provider without `max_tokens` is assumed to write this much at most. */
const DEFAULT_MAX_ANSWER_TOKENS = 1000;

/**
 * What a debate of `rounds` rounds between these participants (their provider parameters, in
 * speaking order) may cost, from their prices per 1M tokens. Each turn's prompt is the system
 * prompt, the topic and the history so far, capped at the context limit (older turns are folded
 * into a summary beyond it). Low: every answer short and the speaker's previous prompt served from
 * the provider's prompt cache. High: every answer as long as `max_tokens` allows, nothing cached.
 * Summaries are left out: they are rare and small next to the turns.
 */
export function estimateDebateCost(input: {
  participants: readonly ProviderParams[];
  rounds: number;
  contextTokenLimit: number;
  topicTokens: number;
}): CostEstimate {
  const { participants, rounds, contextTokenLimit } = input;
  const base = SYSTEM_PROMPT_TOKENS + input.topicTokens + 2 * MESSAGE_OVERHEAD_TOKENS;
  let low = ZERO_COST_USD;
  let high = ZERO_COST_USD;
  let historyLow = 0;
  let historyHigh = 0;
  const previousPrompt = new Map<number, number>();
  for (let turn = 0; turn < rounds * participants.length; turn++) {
    const speaker = turn % participants.length;
    const params = participants[speaker]!;
    const maxAnswer = params.max_tokens ?? DEFAULT_MAX_ANSWER_TOKENS;
    const shortAnswer = Math.min(maxAnswer, SHORT_ANSWER_TOKENS);
    const promptLow = Math.min(contextTokenLimit, base + historyLow);
    const promptHigh = Math.min(contextTokenLimit, base + historyHigh);
    const cached = Math.min(previousPrompt.get(speaker) ?? 0, promptLow);
    low = addCostUsd(
      low,
      computeCostUsd({ input: promptLow, cachedInput: cached, output: shortAnswer }, params),
    );
    high = addCostUsd(high, computeCostUsd({ input: promptHigh, cachedInput: 0, output: maxAnswer }, params));
    previousPrompt.set(speaker, promptLow);
    historyLow += shortAnswer + MESSAGE_OVERHEAD_TOKENS;
    historyHigh += maxAnswer + MESSAGE_OVERHEAD_TOKENS;
  }
  return { lowUsd: low, highUsd: high };
}
