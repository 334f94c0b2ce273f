import { compareCostUsd } from "../llm/pricing";
import type { DailyBudget } from "./daily-budget";
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
  /** The daily budgets of a public debate (its user's, the bot's), spend so far included. */
  dailyBudgets?: readonly DailyBudget[];
}

export type LimitStopReason = "session_timeout" | "token_limit" | "cost_limit" | "no_participants";

/** The `stop_detail` of a debate stopped by a daily budget: which one (the chat says so too). */
export const dailyBudgetStopDetail = (limit: DailyBudget["limit"]) => `daily budget reached: ${limit}`;

const exceededBudget = (s: DebateSnapshot) =>
  s.dailyBudgets?.find(
    (budget) =>
      compareCostUsd(budget.limitUsd, "0") > 0 && compareCostUsd(budget.spentUsd, budget.limitUsd) >= 0,
  );

/** Stop conditions as predicates over the debate so far; the first that holds ends the debate. */
export const stopConditions: {
  reason: LimitStopReason;
  holds: (snapshot: DebateSnapshot) => boolean;
  /** The `stop_detail` to record, when the reason alone does not say which limit it was. */
  detail?: (snapshot: DebateSnapshot) => string;
}[] = [
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
  {
    reason: "cost_limit",
    holds: (s) => exceededBudget(s) !== undefined,
    detail: (s) => dailyBudgetStopDetail(exceededBudget(s)!.limit),
  },
];

/** Why the debate must end now (and the detail to record), or null to go on. */
export function stopFor(snapshot: DebateSnapshot): { reason: LimitStopReason; detail?: string } | null {
  const condition = stopConditions.find((candidate) => candidate.holds(snapshot));
  if (!condition) return null;
  return condition.detail
    ? { reason: condition.reason, detail: condition.detail(snapshot) }
    : { reason: condition.reason };
}

/** The reason the debate must end now, or null to go on. */
export function shouldStop(snapshot: DebateSnapshot): LimitStopReason | null {
  return stopFor(snapshot)?.reason ?? null;
}
