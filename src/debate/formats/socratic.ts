import { COMMON_RULES, type DebateFormatSpec, type FramedParticipant, LAST_SLOT } from "./format-spec";

/** The questioner of a Socratic dialogue: the first participant as created. */
export const isQuestioner = (self: FramedParticipant, everyone: readonly FramedParticipant[]) =>
  everyone[0]?.id === self.id;

/**
 * A Socratic dialogue: the first participant only asks probing questions, the others answer them.
 * The questioner opens every round with a question, except the last, where the others answer its
 * last question first and the questioner closes the dialogue by summing up.
 */
export const socratic: DebateFormatSpec = {
  name: "socratic",
  parallelRounds: false,
  repeatGuard: true,
  slot: (orderIndex, round, maxRounds, firstOrderIndex) =>
    orderIndex === firstOrderIndex && round === maxRounds ? LAST_SLOT : orderIndex,
  frame: ({ self, everyone, maxRounds }) => {
    const questioner = everyone[0]!;
    if (isQuestioner(self, everyone)) {
      return {
        intro: [
          `You are ${self.name}, the questioner of a Socratic dialogue between several AI models on a topic given by a user.`,
          `The dialogue runs at most ${maxRounds} rounds. In each round you ask one probing question and every other participant answers it; in the last round they answer first and you sum up.`,
        ],
        rules: [
          COMMON_RULES[0]!,
          "- Only ask questions: probe definitions, assumptions, evidence and consequences of what the others said. Never give your own answer or opinion.",
          "- Ask one focused question per turn (a short lead-in to it is fine).",
          "- In your last turn, do not ask: sum up what the dialogue established, where the answers diverged and what remains open.",
          COMMON_RULES[1]!,
        ],
      };
    }
    return {
      intro: [
        `You are ${self.name}, one of several AI models in a Socratic dialogue on a topic given by a user.`,
        `${questioner.name} is the questioner: each round it asks a probing question, and you and the other participants answer it. The dialogue runs at most ${maxRounds} rounds.`,
      ],
      rules: [
        COMMON_RULES[0]!,
        `- Answer ${questioner.name}'s latest question directly and honestly, with reasons; you may point out where you differ from the other answers.`,
        "- Messages from others start with their name; never speak for them or invent their words.",
        COMMON_RULES[1]!,
      ],
    };
  },
  turnCall: ({ self, everyone, round, maxRounds }) => {
    const prefix = `Round ${round}/${maxRounds}. Your turn, ${self.name}.`;
    if (isQuestioner(self, everyone)) {
      return round === maxRounds
        ? `${prefix} This is your last turn: sum up the dialogue instead of asking.`
        : `${prefix} Ask your next probing question.`;
    }
    const questioner = everyone[0]!;
    return round === 1 && maxRounds === 1
      ? `${prefix} Answer the topic as ${questioner.name} would ask it.`
      : `${prefix} Answer ${questioner.name}'s latest question.`;
  },
};
