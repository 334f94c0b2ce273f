import { compareCostUsd } from "../llm/pricing";
import type { SessionTotals } from "./debate-events";

/** Limits captured when a session starts. */
export interface SessionLimits {
  turnTimeoutSec: number;
  sessionTimeoutSec: number;
  tokenLimit: number;
  /** Decimal string. */
  costLimitUsd: string;
  contextTokenLimit: number;
}

/** What the stop predicates look at. */
export interface DebateSnapshot {
  now: number;
  startedAt: number;
  limits: SessionLimits;
  totals: SessionTotals;
  activeParticipants: number;
}

export type LimitStopReason = "session_timeout" | "token_limit" | "cost_limit" | "no_participants";

/** Stop conditions as predicates over the debate so far; the first that holds ends the debate. */
export const stopConditions: { reason: LimitStopReason; holds: (snapshot: DebateSnapshot) => boolean }[] = [
  { reason: "no_participants", holds: (s) => s.activeParticipants < 2 },
  { reason: "session_timeout", holds: (s) => s.now - s.startedAt >= s.limits.sessionTimeoutSec * 1000 },
  { reason: "token_limit", holds: (s) => s.totals.tokensIn + s.totals.tokensOut >= s.limits.tokenLimit },
  // A cost limit of 0 means "no cost limit" (e.g. free local models).
  {
    reason: "cost_limit",
    holds: (s) =>
      compareCostUsd(s.limits.costLimitUsd, "0") > 0 &&
      compareCostUsd(s.totals.cost, s.limits.costLimitUsd) >= 0,
  },
];

/** The reason the debate must end now, or null to go on. */
export function shouldStop(snapshot: DebateSnapshot): LimitStopReason | null {
  return stopConditions.find((condition) => condition.holds(snapshot))?.reason ?? null;
}
