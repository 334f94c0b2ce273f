import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { messages, sessions } from "../../db/schema";

/**
 * The bot's own record of what it posted where: one row per transcript message of a chat's session
 * (`turn`) and one for the session's closing line (`closing`). Written only by `src/bot/delivery/`;
 * the core's tables know nothing of Telegram.
 *
 * The closing row is created when the bot opens a session for a chat and stays `pending` until the
 * closing line is posted: pending closing rows are the bot's list of open work (the sweep).
 */
export const deliveryStatus = pgEnum("delivery_status", ["pending", "sent", "skipped", "failed"]);
export const deliveryKind = pgEnum("delivery_kind", ["turn", "closing"]);

export const deliveries = pgTable(
  "deliveries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    chatId: bigint("chat_id", { mode: "number" }).notNull(),
    kind: deliveryKind("kind").notNull(),
    /** The transcript message (turns only). */
    messageId: bigint("message_id", { mode: "number" }).references(() => messages.id, {
      onDelete: "cascade",
    }),
    /** The message's turn index: the bot's cursor through a session (turns only). */
    turnIndex: integer("turn_index"),
    status: deliveryStatus("status").notNull().default("pending"),
    /** Telegram ids of the chunks posted so far: a restart resumes after them. */
    telegramMessageIds: jsonb("telegram_message_ids").$type<number[]>(),
    attempts: integer("attempts").notNull().default(0),
    /** Why the last attempt failed (Telegram's description; never a secret). */
    lastError: text("last_error"),
    /**
     * On the closing row: which pass posts this session now, and until when. The lease lives in
     * Postgres, beside what it guards, so it holds when Redis is lost (no second poster appears).
     */
    leaseToken: text("lease_token"),
    leaseUntil: timestamp("lease_until", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
  },
  (table) => [
    uniqueIndex("deliveries_message_unique").on(table.messageId),
    uniqueIndex("deliveries_closing_unique").on(table.sessionId).where(sql`${table.kind} = 'closing'`),
    index("deliveries_session_turn_idx").on(table.sessionId, table.turnIndex),
    index("deliveries_open_idx")
      .on(table.chatId, table.createdAt)
      .where(sql`${table.kind} = 'closing' and ${table.status} = 'pending'`),
    // The chat's newest debate (is a button of an older one?): read on every button press.
    index("deliveries_chat_closing_idx")
      .on(table.chatId, table.createdAt)
      .where(sql`${table.kind} = 'closing'`),
    // The queue's depth (GET /metrics) is counted on every scrape: only pending rows are read.
    index("deliveries_pending_idx").on(table.kind).where(sql`${table.status} = 'pending'`),
  ],
);

export type Delivery = typeof deliveries.$inferSelect;
export type DeliveryStatus = (typeof deliveryStatus.enumValues)[number];
export type DeliveryKind = (typeof deliveryKind.enumValues)[number];
