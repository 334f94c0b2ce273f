import type { ChatMessage } from "../llm/chat-model";
import { countTextTokens, decodeTokens, encodeText } from "../llm/tokenizer";

/** A participant as the prompt sees it. */
export interface PromptParticipant {
  id: number;
  name: string;
  personaTitle: string | null;
  instructions: string;
  style: string;
}

/** A transcript entry fed to the models. */
export interface PromptTurn {
  turnIndex: number;
  participantId: number | null;
  authorName: string;
  content: string;
}

/** Rough per-message overhead of the chat format, in tokens. */
const MESSAGE_OVERHEAD = 4;

/**
 * The system prompt of one participant. It depends only on what is fixed for the whole session
 * (all participants as they were at creation, the round limit), so the prompt prefix stays
 * byte-stable from turn to turn and providers' prompt caching applies.
 */
export function buildSystemPrompt(
  self: PromptParticipant,
  everyone: readonly PromptParticipant[],
  maxRounds: number,
): string {
  const others = everyone
    .filter((participant) => participant.id !== self.id)
    .map(
      (participant) =>
        `- ${participant.name}${participant.personaTitle ? ` (${participant.personaTitle})` : ""}`,
    )
    .join("\n");
  const persona = self.personaTitle
    ? `Your persona: ${self.personaTitle}.\n${self.instructions}${self.style ? `\nStyle: ${self.style}` : ""}`
    : "Your persona: a thoughtful debater with your own view.";
  return [
    `You are ${self.name}, one of several AI models taking part in a moderated round-table debate on a topic given by a user.`,
    `The debate runs in turns, at most ${maxRounds} rounds; in each round every participant speaks once, in a fixed order.`,
    persona,
    `Other participants:\n${others || "- (none)"}`,
    "Rules:",
    "- Answer in the language of the topic.",
    "- Engage with what the others said: agree, disagree, build on it; do not repeat yourself or them.",
    "- Messages from others start with their name; never speak for them or invent their words.",
    "- Keep each turn under 200 words. Plain paragraphs; light Markdown (bold, lists) only when it helps.",
  ].join("\n\n");
}

/** The chat messages of one turn: system, topic, optional summary, history, then the call to speak. */
export function buildPromptMessages(input: {
  system: string;
  topic: string;
  summary: string | null;
  omittedNote: string | null;
  turns: readonly PromptTurn[];
  selfId: number;
  selfName: string;
  round: number;
  maxRounds: number;
}): ChatMessage[] {
  const messages: ChatMessage[] = [
    { role: "system", content: input.system },
    { role: "user", content: `Topic of the debate: ${input.topic}` },
  ];
  if (input.summary)
    messages.push({ role: "user", content: `Summary of the debate so far:\n${input.summary}` });
  if (input.omittedNote) messages.push({ role: "user", content: input.omittedNote });
  for (const turn of input.turns) {
    messages.push(
      turn.participantId === input.selfId
        ? { role: "assistant", content: turn.content }
        : { role: "user", content: `${turn.authorName}: ${turn.content}` },
    );
  }
  messages.push({ role: "user", content: turnCall(input.selfName, input.round, input.maxRounds) });
  return messages;
}

/** The last message: changes every turn, so it stays at the end, after the cacheable prefix. */
export function turnCall(name: string, round: number, maxRounds: number): string {
  return `Round ${round}/${maxRounds}. Your turn, ${name}.`;
}

/** Estimated prompt tokens of one message (content plus chat-format overhead). */
export function messageTokens(content: string): number {
  return countTextTokens(content) + MESSAGE_OVERHEAD;
}

/**
 * An upper bound of the prompt's {@link messageTokens} that needs no tokenizer: every token covers at least one
 * UTF-8 byte. A prompt whose bound is within the limit fits without counting a single token.
 */
export function promptTokensBound(messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, message) => sum + Buffer.byteLength(message.content) + MESSAGE_OVERHEAD, 0);
}

/** Cuts `text` to at most `maxTokens` tokens, marking the cut. */
export function truncateToTokens(text: string, maxTokens: number): string {
  if (maxTokens <= 0) return "";
  const tokens = encodeText(text);
  if (tokens.length <= maxTokens) return text;
  return `${decodeTokens(tokens.slice(0, Math.max(0, maxTokens - 2)))}…`;
}
