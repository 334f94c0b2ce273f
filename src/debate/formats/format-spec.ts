import type { DebateFormat } from "../debate-formats";

/** A participant as the prompt frames see it. */
export interface FramedParticipant {
  id: number;
  name: string;
  personaTitle: string | null;
}

/** Where a turn stands: what the frames of its prompt depend on. */
export interface TurnFrameContext {
  self: FramedParticipant;
  /** Every participant as created (excluded ones too), in speaking order: fixed for the session. */
  everyone: readonly FramedParticipant[];
  round: number;
  maxRounds: number;
}

/**
 * One debate format: a turn policy (who speaks when, whether a round runs as one parallel batch)
 * plus prompt frames (how the system prompt describes the debate and the participant's role, how
 * the history is shown, what the call to speak says). The policy (`debate-policy.ts`) and the turn
 * prompt (`turn-prompt.ts`) only ever ask the format; no format is a branch of the runner.
 */
export interface DebateFormatSpec {
  name: DebateFormat;
  /**
   * The calls of a round run at once, each seeing only the rounds before (Delphi): the round is one
   * step. Otherwise participants speak one after the other, each seeing every turn so far.
   */
  parallelRounds: boolean;
  /** Whether an answer that nearly repeats a recent turn counts against its author (loop guard). */
  repeatGuard: boolean;
  /**
   * The speaking slot of a participant in a round: the round's speakers go in ascending slot order.
   * `firstOrderIndex` is the lowest order index of the session (the first participant as created).
   */
  slot(orderIndex: number, round: number, maxRounds: number, firstOrderIndex: number): number;
  /** The system prompt's description of the debate and of this participant's role (byte-stable). */
  frame(context: Omit<TurnFrameContext, "round">): { intro: string[]; rules: string[] };
  /** The last message of the prompt: the call to speak, which changes every turn. */
  turnCall(context: TurnFrameContext): string;
  /**
   * How earlier turns are shown, when not verbatim under the speakers' names (Delphi: the previous
   * round only, under anonymous labels). Absent: the whole history, own turns as `assistant`.
   */
  history?: "previous-round-anonymous";
}

/** "Expert A", "Expert B", … by position among the participants: stable for the whole session. */
export function expertLabel(position: number): string {
  let label = "";
  let n = position;
  do {
    label = String.fromCharCode(65 + (n % 26)) + label;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return `Expert ${label}`;
}

/** The common rules of every format (language, length, no speaking for others). */
export const COMMON_RULES = [
  "- Answer in the language of the topic.",
  "- Keep each turn under 200 words. Plain paragraphs; light Markdown (bold, lists) only when it helps.",
];

export const othersList = (self: FramedParticipant, everyone: readonly FramedParticipant[]) =>
  everyone
    .filter((participant) => participant.id !== self.id)
    .map(
      (participant) =>
        `- ${participant.name}${participant.personaTitle ? ` (${participant.personaTitle})` : ""}`,
    )
    .join("\n");

/** A slot after every participant's order index (the cursor column is a 32-bit integer). */
export const LAST_SLOT = 100_000;

/** Slots in order index order: the participants speak as they were ordered, every round. */
export const inOrder = (orderIndex: number) => orderIndex;
