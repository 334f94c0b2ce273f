/**
 * The debate formats a session can run in (`sessions.format`). Each one is a turn policy plus
 * prompt frames in `src/debate/formats/`; this module is only the name list, so the schema, the
 * doors and the validation share one source.
 */
export const DEBATE_FORMATS = ["roundtable", "pro_contra", "socratic", "delphi"] as const;

/** `roundtable` (today's, the default), `pro_contra`, `socratic`, `delphi`. */
export type DebateFormat = (typeof DEBATE_FORMATS)[number];

export const DEFAULT_DEBATE_FORMAT: DebateFormat = "roundtable";

export const isDebateFormat = (value: unknown): value is DebateFormat =>
  typeof value === "string" && (DEBATE_FORMATS as readonly string[]).includes(value);
