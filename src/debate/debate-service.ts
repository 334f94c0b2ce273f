import { and, asc, count, desc, eq, inArray, sql } from "drizzle-orm";
import {
  type Message,
  messages,
  personalities,
  providers,
  type Session,
  type SessionParticipant,
  type SessionStatus,
  type StopReason,
  sessionParticipants,
  sessions,
} from "../db/schema";
import { addCostUsd, ZERO_COST_USD } from "../llm/pricing";
import type { Db } from "../platform/db";
import type { Logger } from "../platform/logger";
import type { SettingsService } from "../settings/settings-service";
import { DebateError } from "./debate-errors";
import type { DebateEventBus, SessionTotals } from "./debate-events";
import type { SessionLimits } from "./stop-conditions";

/** A participant requested for a new session; the personality defaults to the provider's. */
export interface ParticipantRequest {
  providerId: number;
  personalityId?: number | null;
}

export interface CreateSessionInput {
  topic: string;
  maxRounds?: number;
  participants?: ParticipantRequest[];
  userId?: number | null;
  chatId?: number | null;
  source?: "telegram" | "api" | "admin";
  language?: "ru" | "en";
}

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

const ENDED: SessionStatus[] = ["finished", "stopped", "failed"];

export const TOPIC_MAX_LENGTH = 1000;

/**
 * Validates a topic the way every door must: 1–1000 characters after trimming. NUL characters
 * are dropped first: Postgres text cannot hold them, and the insert would fail as a server error.
 */
export function normalizeTopic(topic: string): string {
  const trimmed = topic.replaceAll("\u0000", "").trim();
  if (trimmed.length === 0 || trimmed.length > TOPIC_MAX_LENGTH) {
    throw new DebateError(
      "invalid_topic",
      `The topic must be 1 to ${TOPIC_MAX_LENGTH} characters long (got ${trimmed.length}).`,
    );
  }
  return trimmed;
}

/** A malformed id is simply not found: never a database error leaking to a door. */
function assertSessionId(sessionId: string) {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(sessionId)) {
    throw new DebateError("session_not_found", `Session ${sessionId} not found.`);
  }
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

/** Starts a session's turns somewhere (the scheduler); injected so the service stays testable. */
export interface DebateWaker {
  wake(sessionId: string): Promise<void>;
}

export interface DebateService {
  createSession(input: CreateSessionInput): Promise<SessionDetail>;
  startSession(sessionId: string): Promise<Session>;
  /** Stops a created or running session; a session already ended is returned unchanged. */
  stopSession(
    sessionId: string,
    reason: Extract<StopReason, "user" | "admin" | "error">,
    detail?: string,
  ): Promise<Session>;
  getSession(sessionId: string): Promise<SessionDetail>;
  listSessions(options: {
    status?: SessionStatus;
    userId?: number;
    limit: number;
    offset: number;
  }): Promise<{ items: SessionListItem[]; total: number }>;
  /** The chat's session that is created or running, if any (one per chat). */
  activeSessionForChat(chatId: number): Promise<Session | null>;
}

/** Finalises a session if it is still open; returns the row when this call ended it. */
export async function endSession(
  db: Db,
  sessionId: string,
  outcome: {
    status: Exclude<SessionStatus, "created" | "running">;
    reason: StopReason;
    detail?: string | null;
    currentRound?: number;
  },
): Promise<Session | null> {
  const [row] = await db
    .update(sessions)
    .set({
      status: outcome.status,
      stopReason: outcome.reason,
      stopDetail: outcome.detail ?? null,
      finishedAt: sql`now()`,
      ...(outcome.currentRound === undefined ? {} : { currentRound: outcome.currentRound }),
    })
    .where(and(eq(sessions.id, sessionId), inArray(sessions.status, ["created", "running"])))
    .returning();
  return row ?? null;
}

export function createDebateService(deps: {
  db: Db;
  settings: SettingsService;
  events: DebateEventBus;
  waker: DebateWaker;
  logger: Logger;
}): DebateService {
  const { db, settings, events, waker, logger } = deps;

  const loadSession = async (sessionId: string): Promise<Session> => {
    assertSessionId(sessionId);
    const [row] = await db.select().from(sessions).where(eq(sessions.id, sessionId));
    if (!row) throw new DebateError("session_not_found", `Session ${sessionId} not found.`);
    return row;
  };

  const publishEnd = async (session: Session) => {
    const rows = await db.select().from(messages).where(eq(messages.sessionId, session.id));
    await events.publish({
      type: "session-end",
      sessionId: session.id,
      status: session.status,
      stopReason: session.stopReason,
      rounds: session.currentRound,
      totals: sumTotals(rows),
    });
  };

  return {
    async createSession(input) {
      const topic = normalizeTopic(input.topic);
      const current = await settings.getAll();
      const maxRounds = input.maxRounds ?? current.MAX_ROUNDS;
      if (!Number.isInteger(maxRounds) || maxRounds < 1 || maxRounds > 50) {
        throw new DebateError("invalid_state", "max_rounds must be an integer from 1 to 50.");
      }
      const chosen = await resolveParticipants(db, input.participants);
      if (chosen.length < 2) {
        throw new DebateError(
          "not_enough_participants",
          `A debate needs at least two enabled providers (found ${chosen.length}).`,
        );
      }
      if (input.chatId != null) {
        const busy = await this.activeSessionForChat(input.chatId);
        if (busy)
          throw new DebateError("chat_busy", "This chat already has a debate running.", {
            sessionId: busy.id,
          });
      }
      const created = await db.transaction(async (tx) => {
        const [session] = await tx
          .insert(sessions)
          .values({
            topic,
            maxRounds,
            userId: input.userId ?? null,
            chatId: input.chatId ?? null,
            source: input.source ?? "api",
            language: input.language ?? "ru",
            closingDeliveryStatus: input.chatId == null ? "skipped" : "pending",
          })
          .returning();
        const participants = await tx
          .insert(sessionParticipants)
          .values(
            chosen.map((choice, index) => ({
              sessionId: session!.id,
              providerId: choice.providerId,
              personalityId: choice.personalityId,
              displayName: choice.displayName,
              personaTitle: choice.personaTitle,
              orderIndex: index,
            })),
          )
          .returning();
        return { session: session!, participants };
      });
      logger.info("session created", {
        session: created.session.id,
        participants: created.participants.length,
      });
      return { ...created, messages: [], totals: sumTotals([]) };
    },

    async startSession(sessionId) {
      assertSessionId(sessionId);
      const [current, participants] = await Promise.all([
        settings.getAll(),
        db
          .select()
          .from(sessionParticipants)
          .where(eq(sessionParticipants.sessionId, sessionId))
          .orderBy(asc(sessionParticipants.orderIndex)),
      ]);
      const limits: SessionLimits = {
        turnTimeoutSec: current.TURN_TIMEOUT_SEC,
        sessionTimeoutSec: current.SESSION_TIMEOUT_SEC,
        tokenLimit: current.SESSION_TOKEN_LIMIT,
        costLimitUsd: current.SESSION_COST_LIMIT_USD,
        contextTokenLimit: current.CONTEXT_TOKEN_LIMIT,
      };
      const first = participants.find((participant) => participant.status === "active");
      const [started] = await db
        .update(sessions)
        .set({
          status: "running",
          startedAt: sql`now()`,
          currentRound: 1,
          nextOrderIndex: first?.orderIndex ?? 0,
          limits: limits as unknown as Record<string, unknown>,
        })
        .where(and(eq(sessions.id, sessionId), eq(sessions.status, "created")))
        .returning();
      if (!started) {
        // Not a created session: say what it is (or that there is none).
        const session = await loadSession(sessionId);
        throw new DebateError(
          "invalid_state",
          `Session is ${session.status}; only a created session can start.`,
          { status: session.status },
        );
      }
      await events.publish({
        type: "session-start",
        sessionId,
        maxRounds: started.maxRounds,
        participants: participants.map((participant) => ({
          id: participant.id,
          name: participant.displayName,
          persona: participant.personaTitle,
        })),
      });
      await waker.wake(sessionId);
      logger.info("session started", { session: sessionId, maxRounds: started.maxRounds });
      return started;
    },

    async stopSession(sessionId, reason, detail) {
      const session = await loadSession(sessionId);
      if (ENDED.includes(session.status)) return session;
      const ended = await endSession(db, sessionId, {
        status: reason === "error" ? "failed" : "stopped",
        reason,
        detail: detail ?? null,
      });
      if (!ended) return loadSession(sessionId);
      // Whoever runs the turn aborts it now; the conditional writes keep anything late out.
      await events.sendControl({ type: "stop", sessionId });
      await publishEnd(ended);
      logger.info("session stopped", { session: sessionId, reason });
      return ended;
    },

    async getSession(sessionId) {
      const session = await loadSession(sessionId);
      const [participants, rows] = await Promise.all([
        db
          .select()
          .from(sessionParticipants)
          .where(eq(sessionParticipants.sessionId, sessionId))
          .orderBy(asc(sessionParticipants.orderIndex)),
        db.select().from(messages).where(eq(messages.sessionId, sessionId)).orderBy(asc(messages.turnIndex)),
      ]);
      return { session, participants, messages: rows, totals: sumTotals(rows) };
    },

    async listSessions({ status, userId, limit, offset }) {
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
              .select({
                sessionId: messages.sessionId,
                tokensIn: sql<number>`coalesce(sum(${messages.tokensIn}), 0)::int`,
                tokensOut: sql<number>`coalesce(sum(${messages.tokensOut}), 0)::int`,
                cachedTokens: sql<number>`coalesce(sum(${messages.cachedTokens}), 0)::int`,
                cost: sql<string>`coalesce(sum(${messages.cost}), 0)::numeric(18,8)::text`,
              })
              .from(messages)
              .where(inArray(messages.sessionId, ids))
              .groupBy(messages.sessionId);
      const bySession = new Map(sums.map((row) => [row.sessionId, row]));
      return {
        items: rows.map((row) => {
          const sum = bySession.get(row.id);
          return {
            ...row,
            totals: sum
              ? {
                  tokensIn: sum.tokensIn,
                  tokensOut: sum.tokensOut,
                  cachedTokens: sum.cachedTokens,
                  cost: sum.cost,
                }
              : sumTotals([]),
          };
        }),
        total: total?.n ?? 0,
      };
    },

    async activeSessionForChat(chatId) {
      const [row] = await db
        .select()
        .from(sessions)
        .where(and(eq(sessions.chatId, chatId), inArray(sessions.status, ["created", "running"])))
        .orderBy(desc(sessions.createdAt))
        .limit(1);
      return row ?? null;
    },
  };
}

/** Resolves the participants: explicit ones, or every enabled provider in admin order. */
async function resolveParticipants(db: Db, requested: ParticipantRequest[] | undefined) {
  const providerRows = requested?.length
    ? await db
        .select()
        .from(providers)
        .where(
          inArray(
            providers.id,
            requested.map((item) => item.providerId),
          ),
        )
    : await db
        .select()
        .from(providers)
        .where(eq(providers.enabled, true))
        .orderBy(asc(providers.orderIndex), asc(providers.id));
  const personaRows = await db.select().from(personalities);
  const personaById = new Map(personaRows.map((row) => [row.id, row]));
  const providerById = new Map(providerRows.map((row) => [row.id, row]));
  const list = requested?.length
    ? requested
    : providerRows.map((row) => ({
        providerId: row.id,
        personalityId: undefined as number | null | undefined,
      }));
  return list.map((item) => {
    const provider = providerById.get(item.providerId);
    if (!provider) throw new DebateError("provider_not_found", `Provider ${item.providerId} not found.`);
    if (!provider.enabled)
      throw new DebateError("provider_not_found", `Provider ${provider.name} is disabled.`);
    const personalityId =
      item.personalityId === undefined ? provider.defaultPersonalityId : item.personalityId;
    const persona = personalityId == null ? undefined : personaById.get(personalityId);
    if (personalityId != null && !persona) {
      throw new DebateError("personality_not_found", `Personality ${personalityId} not found.`);
    }
    return {
      providerId: provider.id,
      personalityId: persona?.id ?? null,
      displayName: provider.name,
      personaTitle: persona?.title ?? null,
    };
  });
}
