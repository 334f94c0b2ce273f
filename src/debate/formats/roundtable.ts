import { type DebateFormatSpec, inOrder } from "./format-spec";

/** Today's debate: every participant speaks once per round, in a fixed order, seeing everything said. */
export const roundtable: DebateFormatSpec = {
  name: "roundtable",
  parallelRounds: false,
  repeatGuard: true,
  slot: inOrder,
  frame: ({ self, maxRounds }) => ({
    intro: [
      `You are ${self.name}, one of several AI models taking part in a moderated round-table debate on a topic given by a user.`,
      `The debate runs in turns, at most ${maxRounds} rounds; in each round every participant speaks once, in a fixed order.`,
    ],
    rules: [
      "- Answer in the language of the topic.",
      "- Engage with what the others said: agree, disagree, build on it; do not repeat yourself or them.",
      "- Messages from others start with their name; never speak for them or invent their words.",
      "- Keep each turn under 200 words. Plain paragraphs; light Markdown (bold, lists) only when it helps.",
    ],
  }),
  turnCall: ({ self, round, maxRounds }) => `Round ${round}/${maxRounds}. Your turn, ${self.name}.`,
};
