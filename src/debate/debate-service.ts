import { asc, eq, inArray } from "drizzle-orm";
import { ROUNDS_RANGE } from "../config";
import {
  type Message,
  personalities,
  providers,
  type Session,
  type SessionParticipant,
  type SessionSource,
  type SessionStatus,
  type StopReason,
} from "../db/schema";
import type { Db } from "../platform/db";
import type { SettingsService } from "../settings/settings-service";
import { DebateError } from "./debate-errors";
import type { SessionTotals } from "./debate-events";
import type { SessionDetail, SessionListItem, SessionReader } from "./session-reader";
import type { NewParticipant, SessionStore } from "./session-store";
import type { SessionLimits } from "./stop-conditions";

export type { SessionDetail, SessionListItem } from "./session-reader";

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
  source?: SessionSource;
  language?: "ru" | "en";
}

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

/** Starts a session's turns somewhere (the scheduler); injected so the service stays testable. */
export interface DebateWaker {
  wake(sessionId: string): Promise<void>;
}

/** The debate core as the doors use it: commands that go through the lifecycle owner, and reads. */
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
  /** The session row alone (no messages). */
  getSessionRow(sessionId: string): Promise<Session>;
  /** The session's messages after `afterTurnIndex` (all when omitted), in turn order. */
  listMessages(sessionId: string, options?: { afterTurnIndex?: number }): Promise<Message[]>;
  /** Tokens and cost of the whole session. */
  getTotals(sessionId: string): Promise<SessionTotals>;
  getParticipants(sessionId: string): Promise<SessionParticipant[]>;
  /** Sessions bound to a chat that are open or were created since `since`. */
  listChatSessions(options: { since: Date }): Promise<{ id: string; chatId: number }[]>;
  listSessions(options: {
    status?: SessionStatus;
    userId?: number;
    limit: number;
    offset: number;
  }): Promise<{ items: SessionListItem[]; total: number }>;
  /** The chat's session that is created or running, if any (one per chat). */
  activeSessionForChat(chatId: number): Promise<Session | null>;
}

/**
 * The doors' entry to the core: validates what a door asks (topic, rounds, participants), reads the
 * runtime settings, and hands the change to the session store; starting wakes the scheduler.
 */
export function createDebateService(deps: {
  db: Db;
  store: SessionStore;
  reader: SessionReader;
  settings: SettingsService;
  waker: DebateWaker;
}): DebateService {
  const { db, store, reader, settings, waker } = deps;
  return {
    async createSession(input) {
      const topic = normalizeTopic(input.topic);
      const current = await settings.getAll();
      const maxRounds = input.maxRounds ?? current.MAX_ROUNDS;
      if (!Number.isInteger(maxRounds) || maxRounds < ROUNDS_RANGE.min || maxRounds > ROUNDS_RANGE.max) {
        throw new DebateError(
          "invalid_state",
          `max_rounds must be an integer from ${ROUNDS_RANGE.min} to ${ROUNDS_RANGE.max}.`,
        );
      }
      const chosen = await resolveParticipants(db, input.participants);
      if (chosen.length < 2) {
        throw new DebateError(
          "not_enough_participants",
          `A debate needs at least two enabled providers (found ${chosen.length}).`,
        );
      }
      return store.create({
        topic,
        maxRounds,
        participants: chosen,
        userId: input.userId,
        chatId: input.chatId,
        source: input.source ?? "api",
        language: input.language ?? "ru",
      });
    },

    async startSession(sessionId) {
      const current = await settings.getAll();
      const limits: SessionLimits = {
        turnTimeoutSec: current.TURN_TIMEOUT_SEC,
        sessionTimeoutSec: current.SESSION_TIMEOUT_SEC,
        tokenLimit: current.SESSION_TOKEN_LIMIT,
        costLimitUsd: current.SESSION_COST_LIMIT_USD,
        contextTokenLimit: current.CONTEXT_TOKEN_LIMIT,
      };
      const started = await store.start(sessionId, limits);
      await waker.wake(sessionId);
      return started;
    },

    async stopSession(sessionId, reason, detail) {
      const session = await reader.session(sessionId);
      if (session.status !== "created" && session.status !== "running") return session;
      const ended = await store.end(sessionId, {
        status: reason === "error" ? "failed" : "stopped",
        reason,
        detail: detail ?? null,
      });
      return ended ?? reader.session(sessionId);
    },

    getSession: (sessionId) => reader.detail(sessionId),
    getSessionRow: (sessionId) => reader.session(sessionId),
    listMessages: (sessionId, options) => reader.messages(sessionId, options),
    getTotals: (sessionId) => reader.totals(sessionId),
    getParticipants: (sessionId) => reader.participants(sessionId),
    listChatSessions: ({ since }) => reader.chatSessions(since),
    listSessions: (options) => reader.list(options),
    activeSessionForChat: (chatId) => reader.openForChat(chatId),
  };
}

/** Resolves the participants: explicit ones, or every enabled provider in admin order. */
async function resolveParticipants(
  db: Db,
  requested: ParticipantRequest[] | undefined,
): Promise<NewParticipant[]> {
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
