import type { ChatMessage } from "../llm/chat-model";
import { countTextTokens, decodeTokens, encodeText } from "../llm/tokenizer";
import { type DebateFormatSpec, formatOf } from "./formats";
import { othersList } from "./formats/format-spec";

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
  /** An interjection of the debate's user or the operator: shown as the moderator's question. */
  interjection?: boolean;
}

/** Rough per-message overhead of the chat format, in tokens. */
const MESSAGE_OVERHEAD = 4;

/**
 * The system prompt of one participant, framed by the session's format. It depends only on what is
 * fixed for the whole session (all participants as they were at creation, the round limit), so the
 * prompt prefix stays byte-stable from turn to turn and providers' prompt caching applies.
 */
export function buildSystemPrompt(
  self: PromptParticipant,
  everyone: readonly PromptParticipant[],
  maxRounds: number,
  format: DebateFormatSpec = formatOf("roundtable"),
): string {
  const others = othersList(self, everyone);
  const persona = self.personaTitle
    ? `Your persona: ${self.personaTitle}.\n${self.instructions}${self.style ? `\nStyle: ${self.style}` : ""}`
    : "Your persona: a thoughtful debater with your own view.";
  const { intro, rules } = format.frame({ self, everyone, maxRounds });
  return [...intro, persona, `Other participants:\n${others || "- (none)"}`, "Rules:", ...rules].join("\n\n");
}

/** How an interjection appears in the history. */
export const interjectionText = (content: string) => `Question from the moderator: ${content}`;

/** The chat messages of one turn: system, topic, optional summary, history, then the call to speak. */
export function buildPromptMessages(input: {
  system: string;
  topic: string;
  summary: string | null;
  omittedNote: string | null;
  turns: readonly PromptTurn[];
  selfId: number;
  /** The last message (the format's call to speak). */
  call: string;
}): ChatMessage[] {
  const messages: ChatMessage[] = [
    { role: "system", content: input.system },
    { role: "user", content: `Topic of the debate: ${input.topic}` },
  ];
  if (input.summary)
    messages.push({ role: "user", content: `Summary of the debate so far:\n${input.summary}` });
  if (input.omittedNote) messages.push({ role: "user", content: input.omittedNote });
  for (const turn of input.turns) messages.push(promptMessageOf(turn, input.selfId));
  const lastOwn = input.turns.findLastIndex((turn) => turn.participantId === input.selfId);
  const question = input.turns.slice(lastOwn + 1).findLast((turn) => turn.interjection);
  // A question asked since the speaker last spoke is named in the call, so it is not lost in the history.
  const call = question
    ? `${input.call} First address the moderator's question: "${question.content}"`
    : input.call;
  messages.push({ role: "user", content: call });
  return messages;
}

/** One history entry as a chat message: own turns as `assistant`, the others' under their name. */
export function promptMessageOf(turn: PromptTurn, selfId: number): ChatMessage {
  if (turn.interjection) return { role: "user", content: interjectionText(turn.content) };
  return turn.participantId === selfId
    ? { role: "assistant", content: turn.content }
    : { role: "user", content: `${turn.authorName}: ${turn.content}` };
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
