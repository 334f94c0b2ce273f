import { and, asc, count, desc, eq, gt, gte, inArray, isNotNull, or, sql } from "drizzle-orm";
import {
  type Message,
  messages,
  type Personality,
  personalities,
  type Session,
  type SessionParticipant,
  type SessionStatus,
  sessionParticipants,
  sessions,
} from "../db/schema";
import { addCostUsd, ZERO_COST_USD } from "../llm/pricing";
import { createBatcher } from "../platform/batcher";
import type { Db } from "../platform/db";
import { DebateError } from "./debate-errors";
import type { SessionTotals } from "./debate-events";

/** A session with everything needed to show it. */
export interface SessionDetail {
  session: Session;
  participants: SessionParticipant[];
  messages: Message[];
  totals: SessionTotals;
}

export interface SessionListItem extends Session {
  totals: SessionTotals;
}

/** What a run of the turn runner starts from. */
export interface RunRows {
  session: Session | undefined;
  participants: SessionParticipant[];
  messages: Message[];
  /** Personas of the participants (and of other sessions loaded in the same batch). */
  personas: Personality[];
}

export function sumTotals(
  rows: readonly Pick<Message, "tokensIn" | "tokensOut" | "cachedTokens" | "cost">[],
): SessionTotals {
  let totals: SessionTotals = { tokensIn: 0, tokensOut: 0, cachedTokens: 0, cost: ZERO_COST_USD };
  for (const row of rows) {
    totals = {
      tokensIn: totals.tokensIn + row.tokensIn,
      tokensOut: totals.tokensOut + row.tokensOut,
      cachedTokens: totals.cachedTokens + row.cachedTokens,
      cost: addCostUsd(totals.cost, row.cost),
    };
  }
  return totals;
}

/** A malformed id is simply not found: never a database error leaking to a door. */
export function assertSessionId(sessionId: string) {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(sessionId)) {
    throw new DebateError("session_not_found", `Session ${sessionId} not found.`);
  }
}

/** Reads of the core's tables; the lifecycle owner (session store) is the only writer. */
export interface SessionReader {
  /** Throws `session_not_found`. */
  session(sessionId: string): Promise<Session>;
  detail(sessionId: string): Promise<SessionDetail>;
  /** The session's messages after `afterTurnIndex` (all when omitted), in turn order. */
  messages(sessionId: string, options?: { afterTurnIndex?: number }): Promise<Message[]>;
  participants(sessionId: string): Promise<SessionParticipant[]>;
  /** Tokens and cost of every message of the session, summed in the database. */
  totals(sessionId: string): Promise<SessionTotals>;
  list(options: {
    status?: SessionStatus;
    userId?: number;
    limit: number;
    offset: number;
  }): Promise<{ items: SessionListItem[]; total: number }>;
  /** The chat's session that is created or running, if any (one per chat). */
  openForChat(chatId: number): Promise<Session | null>;
  /** Sessions bound to a chat that are open or were created since `since`. */
  chatSessions(since: Date): Promise<{ id: string; chatId: number }[]>;
  /** Ids of every running session and of every ended one waiting for its verdict (what a scheduler resumes). */
  runningIds(): Promise<string[]>;
  /** What a run starts from; runs starting in the same event-loop turn share four queries. */
  run(sessionId: string): Promise<RunRows>;
}

const totalsColumns = {
  tokensIn: sql<number>`coalesce(sum(${messages.tokensIn}), 0)::int`,
  tokensOut: sql<number>`coalesce(sum(${messages.tokensOut}), 0)::int`,
  cachedTokens: sql<number>`coalesce(sum(${messages.cachedTokens}), 0)::int`,
  cost: sql<string>`coalesce(sum(${messages.cost}), 0)::numeric(18,8)::text`,
};

export function createSessionReader(db: Db): SessionReader {
  // Runs start in bursts (a wave of starts, or a restart resuming every debate): the runs starting
  // in the same event-loop turn load together, four prepared queries for all of them.
  const idsParam = sql.placeholder("ids");
  const runQueries = {
    sessions: db
      .select()
      .from(sessions)
      .where(sql`${sessions.id} = any(${idsParam})`)
      .prepare("run_sessions"),
    participants: db
      .select()
      .from(sessionParticipants)
      .where(sql`${sessionParticipants.sessionId} = any(${idsParam})`)
      .orderBy(asc(sessionParticipants.orderIndex))
      .prepare("run_participants"),
    messages: db
      .select()
      .from(messages)
      .where(sql`${messages.sessionId} = any(${idsParam})`)
      .orderBy(asc(messages.turnIndex))
      .prepare("run_messages"),
    personas: db
      .select()
      .from(personalities)
      .where(
        inArray(
          personalities.id,
          db
            .select({ id: sessionParticipants.personalityId })
            .from(sessionParticipants)
            .where(sql`${sessionParticipants.sessionId} = any(${idsParam})`),
        ),
      )
      .prepare("run_personas"),
  };
  const loadRuns = createBatcher(async (sessionIds: string[]): Promise<RunRows[]> => {
    const ids = [...new Set(sessionIds)];
    const [sessionRows, participantRows, messageRows, personaRows] = await Promise.all([
      runQueries.sessions.execute({ ids }),
      runQueries.participants.execute({ ids }),
      runQueries.messages.execute({ ids }),
      runQueries.personas.execute({ ids }),
    ]);
    const participantsOf = Map.groupBy(participantRows, (row) => row.sessionId);
    const messagesOf = Map.groupBy(messageRows, (row) => row.sessionId);
    return sessionIds.map((id) => ({
      session: sessionRows.find((row) => row.id === id),
      participants: participantsOf.get(id) ?? [],
      messages: messagesOf.get(id) ?? [],
      personas: personaRows,
    }));
  });

  const participantsOf = (sessionId: string) =>
    db
      .select()
      .from(sessionParticipants)
      .where(eq(sessionParticipants.sessionId, sessionId))
      .orderBy(asc(sessionParticipants.orderIndex));

  const reader: SessionReader = {
    async session(sessionId) {
      assertSessionId(sessionId);
      const [row] = await db.select().from(sessions).where(eq(sessions.id, sessionId));
      if (!row) throw new DebateError("session_not_found", `Session ${sessionId} not found.`);
      return row;
    },

    async detail(sessionId) {
      const session = await reader.session(sessionId);
      const [participants, rows] = await Promise.all([participantsOf(sessionId), reader.messages(sessionId)]);
      return { session, participants, messages: rows, totals: sumTotals(rows) };
    },

    messages(sessionId, options = {}) {
      assertSessionId(sessionId);
      return db
        .select()
        .from(messages)
        .where(
          and(
            eq(messages.sessionId, sessionId),
            options.afterTurnIndex === undefined ? undefined : gt(messages.turnIndex, options.afterTurnIndex),
          ),
        )
        .orderBy(asc(messages.turnIndex));
    },

    participants(sessionId) {
      assertSessionId(sessionId);
      return participantsOf(sessionId);
    },

    async totals(sessionId) {
      assertSessionId(sessionId);
      const [row] = await db.select(totalsColumns).from(messages).where(eq(messages.sessionId, sessionId));
      return row ?? sumTotals([]);
    },

    async list({ status, userId, limit, offset }) {
      const conditions = [
        status ? eq(sessions.status, status) : undefined,
        userId === undefined ? undefined : eq(sessions.userId, userId),
      ].filter(Boolean);
      const where = conditions.length > 0 ? and(...conditions) : undefined;
      const [rows, [total]] = await Promise.all([
        db
          .select()
          .from(sessions)
          .where(where)
          .orderBy(desc(sessions.createdAt), desc(sessions.id))
          .limit(limit)
          .offset(offset),
        db.select({ n: count() }).from(sessions).where(where),
      ]);
      const ids = rows.map((row) => row.id);
      const sums =
        ids.length === 0
          ? []
          : await db
              .select({ sessionId: messages.sessionId, ...totalsColumns })
              .from(messages)
              .where(inArray(messages.sessionId, ids))
              .groupBy(messages.sessionId);
      const bySession = new Map(sums.map(({ sessionId, ...sum }) => [sessionId, sum]));
      return {
        items: rows.map((row) => ({ ...row, totals: bySession.get(row.id) ?? sumTotals([]) })),
        total: total?.n ?? 0,
      };
    },

    async openForChat(chatId) {
      const [row] = await db
        .select()
        .from(sessions)
        .where(and(eq(sessions.chatId, chatId), inArray(sessions.status, ["created", "running"])))
        .orderBy(desc(sessions.createdAt))
        .limit(1);
      return row ?? null;
    },

    async chatSessions(since) {
      const rows = await db
        .select({ id: sessions.id, chatId: sessions.chatId })
        .from(sessions)
        .where(
          and(
            isNotNull(sessions.chatId),
            or(inArray(sessions.status, ["created", "running"]), gte(sessions.createdAt, since)),
          ),
        );
      return rows.map((row) => ({ id: row.id, chatId: row.chatId! }));
    },

    async runningIds() {
      const rows = await db
        .select({ id: sessions.id })
        .from(sessions)
        .where(or(eq(sessions.status, "running"), isNotNull(sessions.verdictRequestedAt)));
      return rows.map((row) => row.id);
    },

    run: loadRuns,
  };
  return reader;
}
