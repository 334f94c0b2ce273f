import { type DebateFormat, isDebateFormat } from "../debate-formats";
import { delphi } from "./delphi";
import type { DebateFormatSpec } from "./format-spec";
import { proContra } from "./pro-contra";
import { roundtable } from "./roundtable";
import { socratic } from "./socratic";

export type { DebateFormatSpec, FramedParticipant, TurnFrameContext } from "./format-spec";
export { expertLabel } from "./format-spec";

const FORMATS: Record<DebateFormat, DebateFormatSpec> = {
  roundtable,
  pro_contra: proContra,
  socratic,
  delphi,
};

/** The spec of a session's format (an unknown value, e.g. an old row, runs as a round table). */
export function formatOf(format: string | null | undefined): DebateFormatSpec {
  return isDebateFormat(format) ? FORMATS[format] : roundtable;
}
