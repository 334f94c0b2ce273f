import { COMMON_RULES, type DebateFormatSpec, type FramedParticipant, inOrder } from "./format-spec";

export type Side = "for" | "against";

/** Sides alternate in speaking order: the first participant argues for, the second against, … */
export function sideOf(self: FramedParticipant, everyone: readonly FramedParticipant[]): Side {
  const position = Math.max(
    0,
    everyone.findIndex((participant) => participant.id === self.id),
  );
  return position % 2 === 0 ? "for" : "against";
}

const SIDE_WORDS: Record<Side, string> = { for: "FOR", against: "AGAINST" };

/** The stage of a round: openings first, closings last, rebuttals between. */
export function stageOf(round: number, maxRounds: number): "opening" | "rebuttal" | "closing" {
  if (round === 1) return "opening";
  return round === maxRounds ? "closing" : "rebuttal";
}

const STAGE_CALLS = {
  opening: "Give your opening statement: state your side's case and its strongest arguments.",
  rebuttal: "Rebut the other side's latest arguments and reinforce your own.",
  closing: "Give your closing statement: sum up why your side has the better case. No new arguments.",
};

/** An adversarial debate: participants take sides, alternating for and against the motion. */
export const proContra: DebateFormatSpec = {
  name: "pro_contra",
  parallelRounds: false,
  repeatGuard: true,
  slot: inOrder,
  frame: ({ self, everyone, maxRounds }) => {
    const side = sideOf(self, everyone);
    const sides = everyone
      .map((participant) => `- ${participant.name}: ${SIDE_WORDS[sideOf(participant, everyone)]}`)
      .join("\n");
    return {
      intro: [
        `You are ${self.name}, one of several AI models in a moderated pro/contra debate on a motion (the topic) given by a user.`,
        `The debate runs at most ${maxRounds} rounds; every participant speaks once per round. The first round is opening statements, the last round closing statements, the rounds between rebuttals.`,
        `You argue ${SIDE_WORDS[side]} the motion, whatever your own view. Sides:\n${sides}`,
      ],
      rules: [
        ...COMMON_RULES.slice(0, 1),
        `- Defend your side (${SIDE_WORDS[side]}); answer the strongest points of the other side directly.`,
        "- Messages from others start with their name; never speak for them or invent their words.",
        ...COMMON_RULES.slice(1),
      ],
    };
  },
  turnCall: ({ self, everyone, round, maxRounds }) =>
    `Round ${round}/${maxRounds} (${stageOf(round, maxRounds)}). Your turn, ${self.name}, arguing ${
      SIDE_WORDS[sideOf(self, everyone)]
    } the motion. ${STAGE_CALLS[stageOf(round, maxRounds)]}`,
};
