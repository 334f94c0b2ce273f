import type { ChatMessage } from "../llm/chat-model";
import { type PromptTurn, truncateToTokens } from "./prompt";

/** Share of the context the verbatim recent turns may take after a compression. */
const RECENT_SHARE = 0.5;

/**
 * Which turns stay verbatim and which go into the summary, when the prompt is over the limit.
 * Keeps the newest turns that fit in half of what the fixed part leaves (at least the newest one),
 * so a compression buys room for several turns and the prefix stays stable meanwhile.
 */
export function planCompression(input: {
  turns: readonly PromptTurn[];
  tokensOf: (turn: PromptTurn) => number;
  fixedTokens: number;
  limit: number;
}): { summarize: PromptTurn[]; keep: PromptTurn[] } {
  const budget = Math.max(0, (input.limit - input.fixedTokens) * RECENT_SHARE);
  let used = 0;
  let firstKept = input.turns.length;
  for (let index = input.turns.length - 1; index >= 0; index--) {
    const cost = input.tokensOf(input.turns[index]!);
    if (used + cost > budget && firstKept < input.turns.length) break;
    used += cost;
    firstKept = index;
    if (used > budget) break;
  }
  return { summarize: input.turns.slice(0, firstKept), keep: input.turns.slice(firstKept) };
}

/** The request that asks a model to fold old turns into the running summary. */
export function buildSummaryRequest(input: {
  topic: string;
  previousSummary: string | null;
  turns: readonly PromptTurn[];
  maxWords: number;
}): ChatMessage[] {
  const transcript = input.turns.map((turn) => `${turn.authorName}: ${turn.content}`).join("\n\n");
  return [
    {
      role: "system",
      content:
        "You summarise a multi-party debate for its participants. Keep each speaker's main positions, " +
        "arguments and points of disagreement, attributed by name. Write in the language of the debate. " +
        `No preamble; at most ${input.maxWords} words.`,
    },
    {
      role: "user",
      content: [
        `Topic: ${input.topic}`,
        input.previousSummary ? `Summary so far:\n${input.previousSummary}` : null,
        `New turns to fold in:\n${transcript}`,
      ]
        .filter(Boolean)
        .join("\n\n"),
    },
  ];
}

/**
 * Last line of defence: trims a prompt until its estimate is within `limit`. The first `leading`
 * messages are the system prompt, the topic and, when present, the summary or the note about
 * omitted turns; they stand for everything older, so the oldest turns go first, then the summary or
 * note, then long contents are shortened. The system prompt and the final call to speak stay whole.
 */
export function fitMessages(
  messages: ChatMessage[],
  limit: number,
  tokensOf: (message: ChatMessage) => number,
  leading = 2,
): ChatMessage[] {
  const result = [...messages];
  let total = result.reduce((sum, message) => sum + tokensOf(message), 0);
  const drop = (index: number) => {
    const [removed] = result.splice(index, 1);
    total -= tokensOf(removed!);
  };
  // The oldest turns (after the leading messages, before the call to speak).
  while (total > limit && result.length > leading + 1) drop(leading);
  // Then the summary or note.
  for (let extra = leading - 2; total > limit && extra > 0; extra--) drop(2);
  // Still over: shorten the remaining middle messages, then the topic.
  for (const index of [...Array(result.length).keys()].slice(1, -1).reverse()) {
    if (total <= limit) break;
    const message = result[index]!;
    const current = tokensOf(message);
    const allowed = Math.max(8, current - (total - limit));
    const content = truncateToTokens(message.content, allowed - 4);
    result[index] = { ...message, content };
    total += tokensOf(result[index]!) - current;
  }
  return result;
}
