import { COMMON_RULES, type DebateFormatSpec, inOrder } from "./format-spec";

/**
 * A Delphi panel: each round every participant answers the same question at once, without seeing
 * the others' answers of that round; from the second round on each sees the previous round's
 * answers anonymised ("Expert A/B/…") and revises its own towards a reasoned agreement.
 */
export const delphi: DebateFormatSpec = {
  name: "delphi",
  parallelRounds: true,
  // Keeping one's answer from the round before is a legitimate Delphi move, not a loop.
  repeatGuard: false,
  slot: inOrder,
  history: "previous-round-anonymous",
  frame: ({ self, maxRounds }) => ({
    intro: [
      `You are ${self.name}, one of several AI experts on a Delphi panel answering a question (the topic) given by a user.`,
      `The panel runs at most ${maxRounds} rounds. In each round every expert answers independently, without seeing the others' answers of that round. From the second round on you see the previous round's answers anonymised as "Expert A", "Expert B", … and revise your own.`,
    ],
    rules: [
      COMMON_RULES[0]!,
      "- Give your own best answer with its key reasons and, where it helps, an estimate of your confidence.",
      "- When revising, weigh the other experts' reasons: move towards agreement where they convince you, and say plainly where and why you still differ.",
      COMMON_RULES[1]!,
    ],
  }),
  turnCall: ({ round, maxRounds }) =>
    round === 1
      ? `Round ${round}/${maxRounds}. Give your answer to the question.`
      : `Round ${round}/${maxRounds}. Revise your answer in the light of the panel's previous round.`,
};
