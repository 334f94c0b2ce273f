import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  serial,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { DEBATE_FORMATS } from "../debate/debate-formats";

/** Drizzle schema of the core's tables: the single source of their types (SPEC §7). */

/** The door a session was created through. */
export type SessionSource = "telegram" | "api" | "admin";

/**
 * Doors open to the public, whose users' debates count against the daily limits and budgets. The
 * API and the admin are the operator's own doors: never limited.
 */
export const PUBLIC_SOURCES: readonly SessionSource[] = ["telegram"];
export const isPublicSource = (source: SessionSource) => PUBLIC_SOURCES.includes(source);

export const sessionStatus = pgEnum("session_status", [
  "created",
  "running",
  "finished",
  "stopped",
  "failed",
]);
export const stopReason = pgEnum("stop_reason", [
  "user",
  "admin",
  "max_rounds",
  "turn_timeout",
  "session_timeout",
  "token_limit",
  "cost_limit",
  "no_participants",
  "error",
]);
export const participantStatus = pgEnum("participant_status", ["active", "excluded"]);
/** `user`: an interjection of the debate's user or the operator; `verdict`: the moderator's synthesis. */
export const authorType = pgEnum("author_type", ["model", "system", "summary", "user", "verdict"]);
export const debateFormat = pgEnum("debate_format", DEBATE_FORMATS);
export const providerType = pgEnum("provider_type", ["openai", "deepseek", "openai_compatible"]);

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true }).notNull().defaultNow();
/** Money in USD, exact: 8 decimal places cover sub-cent per-token prices. */
const money = (name: string) => numeric(name, { precision: 18, scale: 8 }).notNull().default("0");

export const users = pgTable(
  "users",
  {
    id: serial("id").primaryKey(),
    telegramId: bigint("telegram_id", { mode: "number" }).notNull().unique(),
    username: text("username"),
    languageCode: text("language_code"),
    createdAt: createdAt(),
    /** When the bot last recorded a message from them (refreshed at most every few minutes). */
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    /** Blocked by an operator: never starts a debate. */
    blocked: boolean("blocked").notNull().default(false),
    /** Allowed by an operator: may start debates when ACCESS_MODE is `allowlist`. */
    allowed: boolean("allowed").notNull().default(false),
    /** Own USER_DEBATES_PER_DAY (0 = no limit); null = the setting. */
    debatesPerDay: integer("debates_per_day"),
    /** Own USER_COST_PER_DAY_USD (0 = no limit); null = the setting. */
    costPerDayUsd: numeric("cost_per_day_usd", { precision: 18, scale: 8 }),
  },
  (table) => [
    check("users_debates_per_day_nonnegative", sql`${table.debatesPerDay} >= 0`),
    check("users_cost_per_day_nonnegative", sql`${table.costPerDayUsd} >= 0`),
  ],
);

export const personalities = pgTable("personalities", {
  id: serial("id").primaryKey(),
  title: text("title").notNull().unique(),
  instructions: text("instructions").notNull(),
  style: text("style").notNull().default(""),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const providers = pgTable(
  "providers",
  {
    id: serial("id").primaryKey(),
    name: text("name").notNull().unique(),
    type: providerType("type").notNull(),
    baseUrl: text("base_url").notNull(),
    /** Fernet token; never leaves the server in any response. */
    apiKeyEncrypted: text("api_key_encrypted"),
    modelId: text("model_id").notNull(),
    params: jsonb("params").$type<Record<string, unknown>>().notNull().default({}),
    enabled: boolean("enabled").notNull().default(true),
    orderIndex: integer("order_index").notNull().default(0),
    /** The personality this provider speaks with when a session names none. */
    defaultPersonalityId: integer("default_personality_id").references(() => personalities.id, {
      onDelete: "set null",
    }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [index("providers_order_idx").on(table.orderIndex)],
);

export const sessions = pgTable(
  "sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: integer("user_id").references(() => users.id, { onDelete: "set null" }),
    chatId: bigint("chat_id", { mode: "number" }),
    topic: text("topic").notNull(),
    status: sessionStatus("status").notNull().default("created"),
    stopReason: stopReason("stop_reason"),
    /** Human detail of the stop (e.g. the provider error); never a secret. */
    stopDetail: text("stop_detail"),
    /** Which door created the session ({@link SessionSource}). */
    source: text("source").$type<SessionSource>().notNull().default("api"),
    /** Language of bot texts for this session's chat (ru or en). */
    language: text("language").notNull().default("ru"),
    /** The debate format: its turn policy and prompt frames (src/debate/formats). */
    format: debateFormat("format").notNull().default("roundtable"),
    /** Whether a moderator writes a verdict after the last round. */
    verdict: boolean("verdict").notNull().default(true),
    /**
     * A verdict asked for after the session ended (`requestVerdict`): the session stays ended and is
     * run once more, for the verdict alone; cleared by the step that writes it (or says it failed).
     */
    verdictRequestedAt: timestamp("verdict_requested_at", { withTimezone: true }),
    /** When a continued session went back to running: its wall-clock limit counts from here. */
    resumedAt: timestamp("resumed_at", { withTimezone: true }),
    maxRounds: integer("max_rounds").notNull(),
    currentRound: integer("current_round").notNull().default(0),
    /** The order_index of the participant who speaks next within `current_round`. */
    nextOrderIndex: integer("next_order_index").notNull().default(0),
    /** Runtime limits captured at start so a settings change does not alter a running debate. */
    limits: jsonb("limits").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (table) => [
    check("sessions_topic_length", sql`char_length(${table.topic}) between 1 and 1000`),
    check("sessions_max_rounds_positive", sql`${table.maxRounds} > 0`),
    check("sessions_current_round_nonnegative", sql`${table.currentRound} >= 0`),
    check(
      "sessions_stop_reason_when_ended",
      sql`(${table.status} in ('created', 'running')) = (${table.stopReason} is null)`,
    ),
    index("sessions_status_idx").on(table.status, table.createdAt),
    // What the scheduler resumes besides running sessions: ended ones waiting for a requested verdict.
    index("sessions_verdict_requested_idx")
      .on(table.verdictRequestedAt)
      .where(sql`${table.verdictRequestedAt} is not null`),
    index("sessions_chat_idx").on(table.chatId, table.status),
    // One open debate per chat, whatever door or instance tries to open a second one.
    uniqueIndex("sessions_one_open_per_chat")
      .on(table.chatId)
      .where(sql`${table.status} in ('created', 'running') and ${table.chatId} is not null`),
    // A user's sessions of a day (quotas, usage) and every session of a day (the bot's budget).
    index("sessions_user_created_idx").on(table.userId, table.createdAt),
    index("sessions_created_idx").on(table.createdAt),
  ],
);

export const sessionParticipants = pgTable(
  "session_participants",
  {
    id: serial("id").primaryKey(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    providerId: integer("provider_id").references(() => providers.id, { onDelete: "set null" }),
    personalityId: integer("personality_id").references(() => personalities.id, { onDelete: "set null" }),
    /** Display name and persona copied at creation: history stays readable if a provider is edited. */
    displayName: text("display_name").notNull(),
    personaTitle: text("persona_title"),
    orderIndex: integer("order_index").notNull(),
    status: participantStatus("status").notNull().default("active"),
    exclusionReason: text("exclusion_reason"),
    /** Consecutive turn timeouts (two in a row exclude). */
    consecutiveTimeouts: integer("consecutive_timeouts").notNull().default(0),
    /** Empty or repeated answers (two exclude). */
    loopStrikes: integer("loop_strikes").notNull().default(0),
  },
  (table) => [unique("session_participants_order_unique").on(table.sessionId, table.orderIndex)],
);

export const messages = pgTable(
  "messages",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    /** Position of the message in the session; unique, the final guard against a duplicate turn. */
    turnIndex: integer("turn_index").notNull(),
    round: integer("round").notNull(),
    authorType: authorType("author_type").notNull(),
    authorName: text("author_name").notNull(),
    participantId: integer("participant_id").references(() => sessionParticipants.id, {
      onDelete: "set null",
    }),
    content: text("content").notNull(),
    tokensIn: integer("tokens_in").notNull().default(0),
    tokensOut: integer("tokens_out").notNull().default(0),
    cachedTokens: integer("cached_tokens").notNull().default(0),
    cost: money("cost"),
    latencyMs: integer("latency_ms"),
    estimated: boolean("estimated").notNull().default(false),
    /** Loop guard verdict (`empty`, `repeat`): kept for accounting, neither posted nor fed to models. */
    flagged: text("flagged"),
    /** For summaries: the last turn_index the summary covers. */
    summaryUntil: integer("summary_until"),
    createdAt: createdAt(),
  },
  (table) => [
    unique("messages_session_turn_unique").on(table.sessionId, table.turnIndex),
    check(
      "messages_tokens_nonnegative",
      sql`${table.tokensIn} >= 0 and ${table.tokensOut} >= 0 and ${table.cachedTokens} >= 0`,
    ),
    check("messages_cost_nonnegative", sql`${table.cost} >= 0`),
  ],
);

export const settings = pgTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: updatedAt(),
});

export const auditLogs = pgTable(
  "audit_logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    target: text("target"),
    meta: jsonb("meta").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (table) => [index("audit_logs_created_idx").on(table.createdAt)],
);

export type User = typeof users.$inferSelect;
export type Personality = typeof personalities.$inferSelect;
export type Provider = typeof providers.$inferSelect;
export type Session = typeof sessions.$inferSelect;
export type SessionParticipant = typeof sessionParticipants.$inferSelect;
export type Message = typeof messages.$inferSelect;
export type AuditLog = typeof auditLogs.$inferSelect;
export type SessionStatus = (typeof sessionStatus.enumValues)[number];
export type StopReason = (typeof stopReason.enumValues)[number];
export type AuthorType = (typeof authorType.enumValues)[number];
