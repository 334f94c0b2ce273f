/**
 * The bot's users: who wrote to it, what they used today and in all, and what an operator decided
 * about them (blocked, allowed, their own daily limits). The bot door records them; the API and the
 * admin list and change them through the same methods, each change audited.
 */
import { type } from "arktype";
import { and, count, desc, eq, ilike, or, sql } from "drizzle-orm";
import { LRUCache } from "lru-cache";
import type { AuditLogService } from "../audit/audit-log";
import { describeIssues, type FieldIssue } from "../catalog/catalog-errors";
import { stringFormats } from "../catalog/string-formats";
import { type User, users } from "../db/schema";
import { NO_USAGE, type Usage, userLimits, usersUsage, usersUsageSince, utcDay } from "../debate/daily-usage";
import { type Clock, systemClock } from "../platform/clock";
import type { Db } from "../platform/db";
import type { SettingsService } from "../settings/settings-service";

/** A Telegram user as the bot sees it on an update. */
export interface TelegramProfile {
  id: number;
  username?: string;
  language_code?: string;
}

/** What the bot needs of a user on every message. */
export interface BotUser {
  /** Our `users.id`. */
  id: number;
  telegramId: number;
  blocked: boolean;
  allowed: boolean;
}

/** A user's day against their limits (0 = no limit). */
export interface UserDay {
  debates: number;
  /** USD, decimal string. */
  cost: string;
  debatesPerDay: number;
  costPerDayUsd: string;
  /** When the day's counts start again (the next UTC midnight). */
  resetsAt: Date;
}

/** Why a users request was refused. */
export class UserError extends Error {
  constructor(
    readonly code: "user_not_found" | "invalid_input",
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
    this.name = "UserError";
  }
}

const COST_MAX = 10_000;
/** The same range as USER_COST_PER_DAY_USD: a number, or a decimal string (exact). */
const costPerDay = type(`0 <= number <= ${COST_MAX}`)
  // Kept to 8 places: a positive amount below that would silently become 0 ("no limit").
  .narrow(
    (value, ctx) => value === 0 || value >= 0.00000001 || ctx.mustBe("0 (no limit) or at least 0.00000001"),
  )
  .or(
    type(/^\d{1,5}(\.\d{1,8})?$/)
      .narrow((value, ctx) => Number(value) <= COST_MAX || ctx.mustBe(`at most ${COST_MAX}`))
      .configure({ description: "a decimal string of US dollars" }),
  );

/** What an operator may change of a user; `null` limits fall back to the settings. */
export const userPatchSchema = type({
  "blocked?": "boolean",
  "allowed?": "boolean",
  /** Own USER_DEBATES_PER_DAY, 0 = no limit; null = the setting. */
  "debates_per_day?": type("0 <= number.integer <= 100000").or("null"),
  /** Own USER_COST_PER_DAY_USD, 0 = no limit; null = the setting. */
  "cost_per_day_usd?": costPerDay.or("null"),
  "+": "reject",
});
export type UserPatch = typeof userPatchSchema.infer;

const usageFields = {
  debates_today: "number.integer",
  /** USD, decimal string (8 places). */
  cost_today: "string",
  debates_total: "number.integer",
  cost_total: "string",
} as const;

/** A user as the API and the admin show them, with their usage (today = the current UTC day). */
export const userViewSchema = type({
  id: "number.integer",
  telegram_id: "number.integer",
  username: "string | null",
  language_code: "string | null",
  created_at: stringFormats.dateTime,
  last_seen_at: [stringFormats.dateTime, "|", "null"],
  ...usageFields,
  blocked: "boolean",
  allowed: "boolean",
  debates_per_day: "number.integer | null",
  cost_per_day_usd: "string | null",
});
export type UserView = typeof userViewSchema.infer;

export interface UserListOptions {
  blocked?: boolean;
  allowed?: boolean;
  /** Part of the username (any case, without `@`), or a Telegram id. */
  q?: string;
  limit: number;
  offset: number;
}

export interface UserService {
  /**
   * Records the user behind an update and returns what the bot needs. Writes at most once per user
   * every few minutes (or when their username or language changes): a message is not a write.
   */
  touch(profile: TelegramProfile): Promise<BotUser>;
  /** The user's current UTC day: debates and cost against their limits. */
  today(userId: number): Promise<UserDay>;
  list(options: UserListOptions): Promise<{ items: UserView[]; total: number }>;
  /** Throws `UserError("user_not_found")`. */
  get(telegramId: number): Promise<UserView>;
  /** Validates `patch` ({@link userPatchSchema}), writes and audits it. */
  update(telegramId: number, patch: unknown, actor: string): Promise<UserView>;
}

/** How long a recorded user is not written again; also how stale `blocked` may be on another instance. */
const TOUCH_INTERVAL_MS = 5 * 60_000;
/** Users remembered per instance (the oldest are forgotten first). */
const TOUCH_CACHE_SIZE = 10_000;

const notFound = (telegramId: number) => new UserError("user_not_found", `User ${telegramId} not found.`);

const botUser = (row: User): BotUser => ({
  id: row.id,
  telegramId: row.telegramId,
  blocked: row.blocked,
  allowed: row.allowed,
});

/** An amount as numeric(18,8) stores it exactly: a number to 8 places, a decimal string as it is. */
const exactCost = (value: number | string) => (typeof value === "number" ? value.toFixed(8) : value);

/** `%text%` for ILIKE, its own wildcards taken literally. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, "\\$&")}%`;

export function createUserService(deps: {
  db: Db;
  settings: SettingsService;
  audit: AuditLogService;
  clock?: Clock;
}): UserService {
  const { db, settings, audit } = deps;
  const clock = deps.clock ?? systemClock;
  const recent = new LRUCache<
    number,
    { user: BotUser; username: string | null; languageCode: string | null }
  >({
    max: TOUCH_CACHE_SIZE,
    ttl: TOUCH_INTERVAL_MS,
    perf: clock,
  });

  const toView = (row: User, usage: { today: Usage; total: Usage } | undefined): UserView => ({
    id: row.id,
    telegram_id: row.telegramId,
    username: row.username,
    language_code: row.languageCode,
    created_at: row.createdAt.toISOString(),
    last_seen_at: row.lastSeenAt?.toISOString() ?? null,
    debates_today: usage?.today.debates ?? 0,
    cost_today: usage?.today.cost ?? NO_USAGE.cost,
    debates_total: usage?.total.debates ?? 0,
    cost_total: usage?.total.cost ?? NO_USAGE.cost,
    blocked: row.blocked,
    allowed: row.allowed,
    debates_per_day: row.debatesPerDay,
    cost_per_day_usd: row.costPerDayUsd,
  });

  const views = async (rows: User[]) => {
    const usage = await usersUsage(
      db,
      rows.map((row) => row.id),
      utcDay(clock.now()).start,
    );
    return rows.map((row) => toView(row, usage.get(row.id)));
  };

  const find = async (telegramId: number) => {
    if (!Number.isSafeInteger(telegramId)) throw notFound(telegramId);
    const [row] = await db.select().from(users).where(eq(users.telegramId, telegramId));
    if (!row) throw notFound(telegramId);
    return row;
  };

  return {
    async touch(profile) {
      const username = profile.username ?? null;
      const languageCode = profile.language_code ?? null;
      const known = recent.get(profile.id);
      if (known && known.username === username && known.languageCode === languageCode) return known.user;
      const seenAt = new Date(clock.now());
      const [row] = await db
        .insert(users)
        .values({ telegramId: profile.id, username, languageCode, lastSeenAt: seenAt })
        .onConflictDoUpdate({ target: users.telegramId, set: { username, languageCode, lastSeenAt: seenAt } })
        .returning();
      const user = botUser(row!);
      recent.set(profile.id, { user, username, languageCode });
      return user;
    },

    async today(userId) {
      const { start, resetsAt } = utcDay(clock.now());
      const [[row], current, used] = await Promise.all([
        db.select().from(users).where(eq(users.id, userId)),
        settings.getAll(),
        usersUsageSince(db, [userId], start),
      ]);
      const usage = used.get(userId) ?? NO_USAGE;
      return { ...usage, ...userLimits(row, current), resetsAt };
    },

    async list({ blocked, allowed, q, limit, offset }) {
      const text = q?.trim().replace(/^@/, "") ?? "";
      const conditions = [
        blocked === undefined ? undefined : eq(users.blocked, blocked),
        allowed === undefined ? undefined : eq(users.allowed, allowed),
        text === ""
          ? undefined
          : /^\d{1,15}$/.test(text)
            ? or(eq(users.telegramId, Number(text)), ilike(users.username, containing(text)))
            : ilike(users.username, containing(text)),
      ].filter(Boolean);
      const where = conditions.length > 0 ? and(...conditions) : undefined;
      const [rows, [total]] = await Promise.all([
        db
          .select()
          .from(users)
          .where(where)
          .orderBy(sql`${users.lastSeenAt} desc nulls last`, desc(users.id))
          .limit(limit)
          .offset(offset),
        db.select({ n: count() }).from(users).where(where),
      ]);
      return { items: await views(rows), total: total?.n ?? 0 };
    },

    async get(telegramId) {
      const [view] = await views([await find(telegramId)]);
      return view!;
    },

    async update(telegramId, patch, actor) {
      const checked = userPatchSchema(patch);
      if (checked instanceof type.errors) {
        const issues = describeIssues(checked);
        throw new UserError(
          "invalid_input",
          `Invalid user change: ${issues[0]?.message ?? "invalid"}`,
          issues,
        );
      }
      const set: Partial<typeof users.$inferInsert> = {};
      if (checked.blocked !== undefined) set.blocked = checked.blocked;
      if (checked.allowed !== undefined) set.allowed = checked.allowed;
      if (checked.debates_per_day !== undefined) set.debatesPerDay = checked.debates_per_day;
      if (checked.cost_per_day_usd !== undefined) {
        set.costPerDayUsd = checked.cost_per_day_usd === null ? null : exactCost(checked.cost_per_day_usd);
      }
      const row = await db.transaction(async (tx) => {
        const [updated] =
          Object.keys(set).length === 0
            ? await tx.select().from(users).where(eq(users.telegramId, telegramId))
            : await tx.update(users).set(set).where(eq(users.telegramId, telegramId)).returning();
        if (!updated) throw notFound(telegramId);
        if (Object.keys(set).length > 0) {
          await audit.record(
            { actor, action: "user.update", target: `user:${telegramId}`, meta: { changes: checked } },
            tx as unknown as Db,
          );
        }
        return updated;
      });
      // Applies at this instance's next message of theirs (others re-read within TOUCH_INTERVAL_MS;
      // starting a debate checks the stored row in any case).
      recent.delete(telegramId);
      const [view] = await views([row]);
      return view!;
    },
  };
}
