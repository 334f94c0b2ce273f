import { CallbackData } from "gramio";

/**
 * What inline buttons carry, packed by GramIO's CallbackData: a short schema id, then the values
 * (enums as indexes), well under Telegram's 64 bytes. Fields are positional: only append new ones
 * (optional) so buttons already in chats keep parsing.
 */

/** The buttons under a debate's closing line. */
export const END_ACTIONS = ["more", "verdict", "export", "new"] as const;
export type EndAction = (typeof END_ACTIONS)[number];

/** A closing line's button names its session: one of an older debate is told apart from the current. */
export const endButton = new CallbackData("end").string("session").enum("action", END_ACTIONS);

/** The buttons of the setup card shown after the topic. */
export const SETUP_ACTIONS = ["start", "options", "format", "rounds", "participant", "verdict"] as const;
export type SetupAction = (typeof SETUP_ACTIONS)[number];

/**
 * `value`: the format's index in DEBATE_FORMATS, the rounds, or the provider id; 0 when the action
 * takes none (a default, not a bare optional: the library logs every optional field it finds absent).
 */
export const setupButton = new CallbackData("setup")
  .string("setup")
  .enum("action", SETUP_ACTIONS)
  .number("value", { optional: true, default: 0 });
