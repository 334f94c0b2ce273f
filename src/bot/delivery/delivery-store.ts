import { and, asc, count, desc, eq, inArray, isNull, lt, max, ne, or, sql } from "drizzle-orm";
import type { Db } from "../../platform/db";
import { type Delivery, type DeliveryKind, type DeliveryStatus, deliveries } from "./delivery-table";

/** A message of a session as the outbox records it. */
export interface TurnDelivery {
  sessionId: string;
  chatId: number;
  messageId: number;
  turnIndex: number;
}

/**
 * The bot's record of what it posted where (the `deliveries` table), and the only code that writes
 * it. A chat session is "open" while its closing row is pending: that is the outbox's work list.
 */
export interface DeliveryStore {
  /** Starts tracking a chat's session (idempotent). */
  open(sessionId: string, chatId: number): Promise<void>;
  /** Of these sessions, the ones already tracked. */
  tracked(sessionIds: readonly string[]): Promise<Set<string>>;
  /** The chat a tracked session is delivered to, or null when the session is not a chat's. */
  chatOf(sessionId: string): Promise<number | null>;
  /**
   * Takes (or renews) the right to post a session for `ttlMs`: true when `token` holds it now. Only
   * one pass at a time posts a session, across instances, whatever happens to Redis.
   */
  claim(sessionId: string, token: string, ttlMs: number): Promise<boolean>;
  /** Gives the session up (the next pass need not wait for the lease to lapse). */
  release(sessionId: string, token: string): Promise<void>;
  /** Chats with something still to post. */
  openChats(): Promise<number[]>;
  /** A chat's open sessions, oldest first. */
  openSessions(chatId: number): Promise<string[]>;
  /** The chat's newest session (the one its buttons may act on), or null before any. */
  lastSession(chatId: number): Promise<string | null>;
  /** The highest turn index settled (sent, skipped or failed) of a session; -1 before any. */
  settledThrough(sessionId: string): Promise<number>;
  /** Records a message to post (or to skip); returns its row, the existing one if recorded before. */
  recordTurn(turn: TurnDelivery, status: "pending" | "skipped"): Promise<Delivery>;
  /** Remembers the chunks posted so far, so a restart resumes after them. */
  saveChunks(id: number, telegramMessageIds: number[]): Promise<void>;
  settle(
    id: number,
    outcome: { status: DeliveryStatus; telegramMessageIds?: number[]; error?: string },
  ): Promise<void>;
  /** A session whose closing line was sent has more to post: open again (a chat given up stays so). */
  reopen(sessionId: string): Promise<void>;
  /** The closing line is out (or given up): the session is closed for the bot. */
  closeSession(sessionId: string, status: "sent" | "failed"): Promise<void>;
  /** The chat cannot receive messages any more: every pending row of it fails. Returns its open sessions. */
  abandonChat(chatId: number, error: string): Promise<string[]>;
  /** Pending rows by kind (turns to post, sessions whose closing line is still to come): the queue's depth. */
  pendingCounts(): Promise<Record<DeliveryKind, number>>;
}

const closingOf = (sessionId: string) =>
  and(eq(deliveries.sessionId, sessionId), eq(deliveries.kind, "closing"));

export function createDeliveryStore(db: Db): DeliveryStore {
  return {
    async open(sessionId, chatId) {
      await db.insert(deliveries).values({ sessionId, chatId, kind: "closing" }).onConflictDoNothing();
    },

    async tracked(sessionIds) {
      if (sessionIds.length === 0) return new Set();
      const rows = await db
        .select({ sessionId: deliveries.sessionId })
        .from(deliveries)
        .where(and(inArray(deliveries.sessionId, [...sessionIds]), eq(deliveries.kind, "closing")));
      return new Set(rows.map((row) => row.sessionId));
    },

    async chatOf(sessionId) {
      const [row] = await db
        .select({ chatId: deliveries.chatId })
        .from(deliveries)
        .where(closingOf(sessionId));
      return row?.chatId ?? null;
    },

    async claim(sessionId, token, ttlMs) {
      const rows = await db
        .update(deliveries)
        .set({ leaseToken: token, leaseUntil: sql`now() + ${ttlMs} * interval '1 millisecond'` })
        .where(
          and(
            closingOf(sessionId),
            eq(deliveries.status, "pending"),
            or(
              isNull(deliveries.leaseUntil),
              lt(deliveries.leaseUntil, sql`now()`),
              eq(deliveries.leaseToken, token),
            ),
          ),
        )
        .returning({ id: deliveries.id });
      return rows.length > 0;
    },

    async release(sessionId, token) {
      await db
        .update(deliveries)
        .set({ leaseToken: null, leaseUntil: null })
        .where(and(closingOf(sessionId), eq(deliveries.leaseToken, token)));
    },

    async openChats() {
      const rows = await db
        .selectDistinct({ chatId: deliveries.chatId })
        .from(deliveries)
        .where(and(eq(deliveries.kind, "closing"), eq(deliveries.status, "pending")));
      return rows.map((row) => row.chatId);
    },

    async openSessions(chatId) {
      const rows = await db
        .select({ sessionId: deliveries.sessionId })
        .from(deliveries)
        .where(
          and(
            eq(deliveries.chatId, chatId),
            eq(deliveries.kind, "closing"),
            eq(deliveries.status, "pending"),
          ),
        )
        .orderBy(asc(deliveries.createdAt), asc(deliveries.id));
      return rows.map((row) => row.sessionId);
    },

    async lastSession(chatId) {
      const [row] = await db
        .select({ sessionId: deliveries.sessionId })
        .from(deliveries)
        .where(and(eq(deliveries.chatId, chatId), eq(deliveries.kind, "closing")))
        .orderBy(desc(deliveries.createdAt), desc(deliveries.id))
        .limit(1);
      return row?.sessionId ?? null;
    },

    async settledThrough(sessionId) {
      const [row] = await db
        .select({ turnIndex: max(deliveries.turnIndex) })
        .from(deliveries)
        .where(
          and(
            eq(deliveries.sessionId, sessionId),
            eq(deliveries.kind, "turn"),
            ne(deliveries.status, "pending"),
          ),
        );
      return row?.turnIndex ?? -1;
    },

    async recordTurn(turn, status) {
      const [inserted] = await db
        .insert(deliveries)
        .values({ ...turn, kind: "turn", status, deliveredAt: status === "skipped" ? new Date() : null })
        .onConflictDoNothing()
        .returning();
      if (inserted) return inserted;
      const [existing] = await db.select().from(deliveries).where(eq(deliveries.messageId, turn.messageId));
      return existing!;
    },

    async saveChunks(id, telegramMessageIds) {
      await db.update(deliveries).set({ telegramMessageIds }).where(eq(deliveries.id, id));
    },

    async settle(id, outcome) {
      await db
        .update(deliveries)
        .set({
          status: outcome.status,
          ...(outcome.telegramMessageIds ? { telegramMessageIds: outcome.telegramMessageIds } : {}),
          lastError: outcome.error ?? null,
          attempts: sql`${deliveries.attempts} + 1`,
          deliveredAt: new Date(),
        })
        .where(eq(deliveries.id, id));
    },

    async reopen(sessionId) {
      await db
        .update(deliveries)
        .set({ status: "pending", deliveredAt: null })
        .where(and(closingOf(sessionId), eq(deliveries.status, "sent")));
    },

    async closeSession(sessionId, status) {
      await db
        .update(deliveries)
        .set({ status, deliveredAt: new Date(), attempts: sql`${deliveries.attempts} + 1` })
        .where(and(closingOf(sessionId), eq(deliveries.status, "pending")));
    },

    async abandonChat(chatId, error) {
      const open = await db
        .update(deliveries)
        .set({ status: "failed", lastError: error, deliveredAt: new Date() })
        .where(and(eq(deliveries.chatId, chatId), eq(deliveries.status, "pending")))
        .returning({ sessionId: deliveries.sessionId, kind: deliveries.kind });
      return [...new Set(open.filter((row) => row.kind === "closing").map((row) => row.sessionId))];
    },

    async pendingCounts() {
      const rows = await db
        .select({ kind: deliveries.kind, count: count() })
        .from(deliveries)
        .where(eq(deliveries.status, "pending"))
        .groupBy(deliveries.kind);
      const counts: Record<DeliveryKind, number> = { turn: 0, closing: 0 };
      for (const row of rows) counts[row.kind] = row.count;
      return counts;
    },
  };
}
