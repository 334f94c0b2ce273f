/**
 * Read-only reports for the operator: usage per provider, session counts, activity per day, and the Telegram users
 * behind sessions. Door-free queries; the admin renders them, the API may reuse them.
 */
import { and, count, eq, gte, inArray, isNotNull, sql } from "drizzle-orm";
import {
  messages,
  providers,
  type SessionStatus,
  sessionParticipants,
  sessions,
  type User,
  users,
} from "../db/schema";
import type { Db } from "../platform/db";

/** Tokens and cost of the LLM calls (turns and summaries) attributed to one provider. */
export interface ProviderUsage {
  /** null when the provider was deleted since (the name is the one copied into the session). */
  providerId: number | null;
  name: string;
  calls: number;
  tokensIn: number;
  tokensOut: number;
  cachedTokens: number;
  /** Decimal string, 8 places. */
  cost: string;
}

/** Usage per provider of the messages created since `since` (all time when omitted), most expensive first. */
export async function usageByProvider(db: Db, options: { since?: Date } = {}): Promise<ProviderUsage[]> {
  const name = sql<string>`coalesce(${providers.name}, ${sessionParticipants.displayName})`;
  const rows = await db
    .select({
      providerId: sessionParticipants.providerId,
      name,
      calls: sql<number>`count(*) filter (where ${messages.tokensIn} + ${messages.tokensOut} > 0)::int`,
      tokensIn: sql<number>`coalesce(sum(${messages.tokensIn}), 0)::bigint`,
      tokensOut: sql<number>`coalesce(sum(${messages.tokensOut}), 0)::bigint`,
      cachedTokens: sql<number>`coalesce(sum(${messages.cachedTokens}), 0)::bigint`,
      cost: sql<string>`coalesce(sum(${messages.cost}), 0)::numeric(18,8)::text`,
    })
    .from(messages)
    .innerJoin(sessionParticipants, eq(messages.participantId, sessionParticipants.id))
    .leftJoin(providers, eq(sessionParticipants.providerId, providers.id))
    .where(
      and(
        isNotNull(messages.participantId),
        options.since ? gte(messages.createdAt, options.since) : undefined,
      ),
    )
    .groupBy(sessionParticipants.providerId, name)
    .orderBy(sql`sum(${messages.cost}) desc`, name);
  return rows
    .map((row) => ({
      ...row,
      tokensIn: Number(row.tokensIn),
      tokensOut: Number(row.tokensOut),
      cachedTokens: Number(row.cachedTokens),
    }))
    .filter((row) => row.calls > 0 || row.tokensIn + row.tokensOut > 0);
}

/** How many sessions were created since `since`, in total and per status. */
export async function sessionCounts(
  db: Db,
  options: { since?: Date } = {},
): Promise<{ total: number; byStatus: Partial<Record<SessionStatus, number>> }> {
  const rows = await db
    .select({ status: sessions.status, n: count() })
    .from(sessions)
    .where(options.since ? gte(sessions.createdAt, options.since) : undefined)
    .groupBy(sessions.status);
  const byStatus: Partial<Record<SessionStatus, number>> = {};
  let total = 0;
  for (const row of rows) {
    byStatus[row.status] = row.n;
    total += row.n;
  }
  return { total, byStatus };
}

/** How many sessions there are of each status and stop reason (all time; one grouped count). */
export async function sessionsByOutcome(
  db: Db,
): Promise<{ status: SessionStatus; stopReason: string | null; count: number }[]> {
  return db
    .select({ status: sessions.status, stopReason: sessions.stopReason, count: count() })
    .from(sessions)
    .groupBy(sessions.status, sessions.stopReason);
}

/** One UTC day of activity: debates created and the cost of the LLM calls made that day. */
export interface DailyActivity {
  /** `YYYY-MM-DD` (UTC). */
  day: string;
  debates: number;
  /** Decimal string, 8 places. */
  cost: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The first moment of the UTC day `daysAgo` days before `now`'s. */
export function startOfUtcDay(now: Date, daysAgo = 0): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - daysAgo * DAY_MS);
}

/** The last `days` UTC days up to today, oldest first, every day present (zero when idle). */
export async function dailyActivity(db: Db, options: { days: number; now?: Date }): Promise<DailyActivity[]> {
  const since = startOfUtcDay(options.now ?? new Date(), options.days - 1);
  const dayOf = (column: typeof sessions.createdAt | typeof messages.createdAt) =>
    sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD')`;
  const [debates, costs] = await Promise.all([
    db
      .select({ day: dayOf(sessions.createdAt), n: count() })
      .from(sessions)
      .where(gte(sessions.createdAt, since))
      .groupBy(dayOf(sessions.createdAt)),
    db
      .select({
        day: dayOf(messages.createdAt),
        cost: sql<string>`coalesce(sum(${messages.cost}), 0)::numeric(18,8)::text`,
      })
      .from(messages)
      .where(gte(messages.createdAt, since))
      .groupBy(dayOf(messages.createdAt)),
  ]);
  const debatesByDay = new Map(debates.map((row) => [row.day, row.n]));
  const costByDay = new Map(costs.map((row) => [row.day, row.cost]));
  return Array.from({ length: options.days }, (_, index) => {
    const day = new Date(since.getTime() + index * DAY_MS).toISOString().slice(0, 10);
    return { day, debates: debatesByDay.get(day) ?? 0, cost: costByDay.get(day) ?? "0.00000000" };
  });
}

/** The users with these ids. */
export async function usersByIds(db: Db, ids: readonly number[]): Promise<Map<number, User>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await db.select().from(users).where(inArray(users.id, unique));
  return new Map(rows.map((row) => [row.id, row]));
}

/**
 * Finds a Telegram user by what an operator types: `@name` / `name` (username, any case) or a
 * numeric Telegram id. Returns null when nobody matches.
 */
export async function findUserByHandle(db: Db, handle: string): Promise<User | null> {
  const text = handle.trim().replace(/^@/, "");
  if (text === "") return null;
  if (/^-?\d{1,18}$/.test(text)) {
    const [row] = await db
      .select()
      .from(users)
      .where(eq(users.telegramId, Number(text)))
      .limit(1);
    if (row) return row;
  }
  const [row] = await db.select().from(users).where(sql`lower(${users.username}) = lower(${text})`).limit(1);
  return row ?? null;
}

/** The reports bound to one database: what the doors are given instead of the raw `db`. */
export interface ReportsService {
  usageByProvider(options?: { since?: Date }): Promise<ProviderUsage[]>;
  sessionCounts(options?: { since?: Date }): ReturnType<typeof sessionCounts>;
  sessionsByOutcome(): ReturnType<typeof sessionsByOutcome>;
  dailyActivity(options: { days: number; now?: Date }): Promise<DailyActivity[]>;
  usersByIds(ids: readonly number[]): Promise<Map<number, User>>;
  findUserByHandle(handle: string): Promise<User | null>;
}

export function createReports(db: Db): ReportsService {
  return {
    usageByProvider: (options) => usageByProvider(db, options),
    sessionCounts: (options) => sessionCounts(db, options),
    sessionsByOutcome: () => sessionsByOutcome(db),
    dailyActivity: (options) => dailyActivity(db, options),
    usersByIds: (ids) => usersByIds(db, ids),
    findUserByHandle: (handle) => findUserByHandle(db, handle),
  };
}
