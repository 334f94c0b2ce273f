import { and, eq, gte, inArray, sql } from "drizzle-orm";
import type { RuntimeSettings } from "../config";
import { messages, PUBLIC_SOURCES, sessions, type User, users } from "../db/schema";
import { compareCostUsd, ZERO_COST_USD } from "../llm/pricing";
import type { Db } from "../platform/db";
import { DebateError } from "./debate-errors";

/**
 * Today's usage of the public bot, read from what is stored (sessions and their messages' costs),
 * so it holds across restarts and instances. A debate and all it costs count on the UTC day it was
 * created: the number of debates and their cost are always about the same debates.
 */

const DAY_MS = 24 * 60 * 60_000;

/** The UTC day holding `now`: when it started and when its limits reset. */
export function utcDay(now: number): { start: Date; resetsAt: Date } {
  const start = Math.floor(now / DAY_MS) * DAY_MS;
  return { start: new Date(start), resetsAt: new Date(start + DAY_MS) };
}

/** The daily limits of the public bot, by the setting that sets each (per-user overrides included). */
export type DailyLimitName = "USER_DEBATES_PER_DAY" | "USER_COST_PER_DAY_USD" | "BOT_COST_PER_DAY_USD";

/** The settings the daily gate reads. */
export type DailyGateSettings = Pick<RuntimeSettings, DailyLimitName | "ACCESS_MODE">;

/** A user's own limits: their overrides over the settings; 0 = no limit. */
export interface UserLimits {
  debatesPerDay: number;
  /** Decimal string. */
  costPerDayUsd: string;
}

export function userLimits(
  user: Pick<User, "debatesPerDay" | "costPerDayUsd"> | undefined,
  settings: Pick<RuntimeSettings, "USER_DEBATES_PER_DAY" | "USER_COST_PER_DAY_USD">,
): UserLimits {
  return {
    debatesPerDay: user?.debatesPerDay ?? settings.USER_DEBATES_PER_DAY,
    costPerDayUsd: user?.costPerDayUsd ?? settings.USER_COST_PER_DAY_USD,
  };
}

/** A limit of "0" (or 0) is no limit. */
export const isLimited = (limit: number | string) => compareCostUsd(String(limit), "0") > 0;

/** Debates and what they cost. */
export interface Usage {
  debates: number;
  /** USD, decimal string with 8 places. */
  cost: string;
}

export const NO_USAGE: Usage = { debates: 0, cost: ZERO_COST_USD };

const costSum = (column: typeof messages.cost, where?: ReturnType<typeof sql>) =>
  where
    ? sql<string>`coalesce(sum(${column}) filter (where ${where}), 0)::numeric(18,8)::text`
    : sql<string>`coalesce(sum(${column}), 0)::numeric(18,8)::text`;

/** Usage of each of these users' debates created since `since`. */
export async function usersUsageSince(
  executor: Db,
  userIds: readonly number[],
  since: Date,
): Promise<Map<number, Usage>> {
  if (userIds.length === 0) return new Map();
  const rows = await executor
    .select({
      userId: sessions.userId,
      debates: sql<number>`count(distinct ${sessions.id})::int`,
      cost: costSum(messages.cost),
    })
    .from(sessions)
    .leftJoin(messages, eq(messages.sessionId, sessions.id))
    .where(and(inArray(sessions.userId, [...userIds]), gte(sessions.createdAt, since)))
    .groupBy(sessions.userId);
  return new Map(rows.map((row) => [row.userId!, { debates: row.debates, cost: row.cost }]));
}

/** Usage of each of these users' debates since `since` and in all. */
export async function usersUsage(
  executor: Db,
  userIds: readonly number[],
  since: Date,
): Promise<Map<number, { today: Usage; total: Usage }>> {
  if (userIds.length === 0) return new Map();
  const today = sql`${sessions.createdAt} >= ${since.toISOString()}::timestamptz`;
  const rows = await executor
    .select({
      userId: sessions.userId,
      debatesToday: sql<number>`count(distinct ${sessions.id}) filter (where ${today})::int`,
      costToday: costSum(messages.cost, today),
      debatesTotal: sql<number>`count(distinct ${sessions.id})::int`,
      costTotal: costSum(messages.cost),
    })
    .from(sessions)
    .leftJoin(messages, eq(messages.sessionId, sessions.id))
    .where(inArray(sessions.userId, [...userIds]))
    .groupBy(sessions.userId);
  return new Map(
    rows.map((row) => [
      row.userId!,
      {
        today: { debates: row.debatesToday, cost: row.costToday },
        total: { debates: row.debatesTotal, cost: row.costTotal },
      },
    ]),
  );
}

/** What every public debate created since `since` cost together (the bot's daily spend). */
export async function botCostSince(executor: Db, since: Date): Promise<string> {
  const [row] = await executor
    .select({ cost: costSum(messages.cost) })
    .from(messages)
    .innerJoin(sessions, eq(messages.sessionId, sessions.id))
    .where(and(inArray(sessions.source, [...PUBLIC_SOURCES]), gte(sessions.createdAt, since)));
  return row?.cost ?? ZERO_COST_USD;
}

/** What a public user asks for when they start a debate: who, and the settings in force now. */
export interface DailyGate {
  userId: number;
  /** Now, by the app's clock: it says which UTC day counts. */
  now: number;
  settings: DailyGateSettings;
}

/** "0.50000000" → "$0.50". */
function dollars(value: string): string {
  const [whole = "0", fraction = ""] = value.split(".");
  return `$${whole}.${fraction.replace(/0+$/, "").padEnd(2, "0")}`;
}

function quotaExceeded(limit: DailyLimitName, value: number | string, used: number | string, resetsAt: Date) {
  const what =
    limit === "USER_DEBATES_PER_DAY"
      ? `${value} debates per day`
      : limit === "USER_COST_PER_DAY_USD"
        ? `${dollars(String(value))} of debates per day`
        : `the bot's budget of ${dollars(String(value))} per day`;
  return new DebateError(
    "quota_exceeded",
    `Daily limit reached: ${what}. It resets at ${resetsAt.toISOString()}.`,
    {
      limit,
      value,
      used,
      resets_at: resetsAt.toISOString(),
    },
  );
}

/**
 * Refuses (with a {@link DebateError}) a debate this public user may not start now: blocked, not
 * on the allowlist, or over a daily limit (their debates, their cost, the bot's cost). Reads only;
 * the session store runs it under the user's lock in the transaction that inserts the session, so
 * two debates at the same instant cannot both take the last slot.
 */
export async function checkDailyGate(executor: Db, gate: DailyGate): Promise<void> {
  const [user] = await executor.select().from(users).where(eq(users.id, gate.userId));
  if (user?.blocked) {
    throw new DebateError("access_denied", "This user is blocked.", { reason: "blocked" });
  }
  if (gate.settings.ACCESS_MODE === "allowlist" && !user?.allowed) {
    throw new DebateError("access_denied", "Only allowed users may start debates (ACCESS_MODE=allowlist).", {
      reason: "not_allowed",
    });
  }
  const { start, resetsAt } = utcDay(gate.now);
  const limits = userLimits(user, gate.settings);
  const used = (await usersUsageSince(executor, [gate.userId], start)).get(gate.userId) ?? NO_USAGE;
  if (isLimited(limits.debatesPerDay) && used.debates >= limits.debatesPerDay) {
    throw quotaExceeded("USER_DEBATES_PER_DAY", limits.debatesPerDay, used.debates, resetsAt);
  }
  if (isLimited(limits.costPerDayUsd) && compareCostUsd(used.cost, limits.costPerDayUsd) >= 0) {
    throw quotaExceeded("USER_COST_PER_DAY_USD", limits.costPerDayUsd, used.cost, resetsAt);
  }
  const botLimit = gate.settings.BOT_COST_PER_DAY_USD;
  if (isLimited(botLimit)) {
    const spent = await botCostSince(executor, start);
    if (compareCostUsd(spent, botLimit) >= 0)
      throw quotaExceeded("BOT_COST_PER_DAY_USD", botLimit, spent, resetsAt);
  }
}

/** Arbitrary constant naming the per-user quota advisory locks ("quot"). */
export const USER_QUOTA_LOCK = 0x71756f74;
