import { asc, inArray } from "drizzle-orm";
import { CONTINUE_ROUNDS_RANGE, ROUNDS_RANGE, type RuntimeSettings } from "../config";
import {
  isPublicSource,
  type Message,
  type Provider,
  personalities,
  providers,
  type Session,
  type SessionParticipant,
  type SessionSource,
  type SessionStatus,
  type StopReason,
} from "../db/schema";
import type { ProviderParams } from "../llm/chat-model";
import { countTextTokens } from "../llm/tokenizer";
import { type Clock, systemClock } from "../platform/clock";
import type { Db } from "../platform/db";
import type { SecretBox } from "../platform/secret-box";
import type { SettingsService } from "../settings/settings-service";
import { type CostEstimate, estimateDebateCost } from "./cost-estimate";
import { checkDailyGate, type DailyGate } from "./daily-usage";
import { DebateError } from "./debate-errors";
import type { SessionTotals } from "./debate-events";
import { DEBATE_FORMATS, DEFAULT_DEBATE_FORMAT, type DebateFormat, isDebateFormat } from "./debate-formats";
import { debateTexts, languageOfTopic } from "./debate-texts";
import { type ProviderProblem, providerProblem } from "./model-factory";
import { exportSession, type SessionExport } from "./session-export";
import type { SessionDetail, SessionListItem, SessionReader } from "./session-reader";
import { type NewParticipant, type SessionStore, STALE_CREATED_MS } from "./session-store";
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
  /** The language of the session's system texts; default: the topic's (Cyrillic → ru, else en). */
  language?: "ru" | "en";
  /** Default `roundtable`. */
  format?: DebateFormat;
  /** Whether a moderator writes a verdict after the last round; default true. */
  verdict?: boolean;
}

/** An interjection in a running debate: the debate's user (bot) or the operator (admin, API). */
export interface InterjectionInput {
  content: string;
  by: "user" | "operator";
  userId?: number | null;
}

export const TOPIC_MAX_LENGTH = 1000;
/** An interjection is as long as a topic may be. */
export const INTERJECTION_MAX_LENGTH = TOPIC_MAX_LENGTH;
/** One interjection per this many seconds per session (counted from the stored ones). */
export const INTERJECTION_INTERVAL_SEC = 10;

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

/** An interjection's text as stored: NUL dropped, trimmed, 1–1000 characters (`invalid_content`). */
export function normalizeInterjection(content: string): string {
  const trimmed = content.replaceAll("\u0000", "").trim();
  if (trimmed.length === 0 || trimmed.length > INTERJECTION_MAX_LENGTH) {
    throw new DebateError(
      "invalid_content",
      `An interjection must be 1 to ${INTERJECTION_MAX_LENGTH} characters long (got ${trimmed.length}).`,
    );
  }
  return trimmed;
}

/** Checks the optional fields of a new session a door passed through (format, verdict, language). */
function sessionOptions(input: CreateSessionInput): {
  format: DebateFormat;
  verdict: boolean;
  language: "ru" | "en";
} {
  const format = input.format ?? DEFAULT_DEBATE_FORMAT;
  if (!isDebateFormat(format)) {
    throw new DebateError("invalid_input", `format must be one of ${DEBATE_FORMATS.join(", ")}.`, {
      field: "format",
    });
  }
  if (input.verdict !== undefined && typeof input.verdict !== "boolean") {
    throw new DebateError("invalid_input", "verdict must be true or false.", { field: "verdict" });
  }
  if (input.language !== undefined && input.language !== "ru" && input.language !== "en") {
    throw new DebateError("invalid_input", "language must be ru or en.", { field: "language" });
  }
  return { format, verdict: input.verdict ?? true, language: input.language ?? languageOfTopic(input.topic) };
}

/** A provider as the preflight sees it: what keeps it out of new debates, if anything. */
export interface ProviderReadiness {
  id: number;
  name: string;
  /** null: it can take part. */
  problem: ProviderProblem | null;
}

/** Whether debates can start at all: at least two providers that can answer. */
export interface Preflight {
  ready: boolean;
  /** Every provider in speaking order. */
  providers: ProviderReadiness[];
  /** What is missing, in words an operator can act on; null when ready. */
  problem: string | null;
}

const PROBLEM_WORDS: Record<ProviderProblem, string> = {
  disabled: "is disabled",
  no_api_key: "has no API key",
  key_unreadable: "has an API key SECRETS_KEY cannot decrypt (enter it again or run `bun run rekey`)",
};

/** The preflight of these provider rows (in speaking order). */
function preflightOf(rows: readonly Provider[], secretBox: SecretBox): Preflight {
  const list = rows.map((row) => ({ id: row.id, name: row.name, problem: providerProblem(row, secretBox) }));
  const ready = list.filter((provider) => provider.problem === null);
  if (ready.length >= 2) return { ready: true, providers: list, problem: null };
  const names = ready.map((provider) => provider.name).join(", ");
  const missing = list
    .filter((provider) => provider.problem !== null)
    .map((provider) => `${provider.name} ${PROBLEM_WORDS[provider.problem!]}`);
  const problem = [
    `A debate needs at least two enabled providers with an API key; ${
      ready.length === 0 ? "none is ready" : `only ${names} is ready`
    }.`,
    missing.length > 0 ? `${missing.join("; ")}.` : "Add providers under Providers.",
  ].join(" ");
  return { ready: false, providers: list, problem };
}

const notEnough = (preflight: Preflight) =>
  new DebateError("not_enough_participants", preflight.problem ?? "Not enough participants.", {
    providers: preflight.providers.map((provider) => ({
      id: provider.id,
      name: provider.name,
      problem: provider.problem,
    })),
  });

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
  /** The chat's session that is created or running, if any (one per chat); a stale `created` one is ended first. */
  activeSessionForChat(chatId: number): Promise<Session | null>;
  /** Whether debates can start: at least two enabled providers with a usable API key. */
  preflight(): Promise<Preflight>;
  /**
   * Throws what `createSession` would refuse a public user now (`not_enough_participants`,
   * `access_denied`, `quota_exceeded`) without creating anything: a door asks before it asks for a
   * topic. Creating checks again, atomically.
   */
  checkAdmission(input: { userId: number }): Promise<void>;
  /** The expected cost range of a created session, from its participants' prices and the limits. */
  estimateCost(detail: SessionDetail): Promise<CostEstimate>;
  /**
   * An interjection in a running debate, stored as `author_type = 'user'` at the next turn index;
   * the next speakers see it as the moderator's question. `invalid_state` unless running,
   * `rate_limited` when too frequent, `invalid_content` when empty or too long.
   */
  interject(sessionId: string, input: InterjectionInput): Promise<Message>;
  /**
   * A finished or stopped debate goes on for `rounds` (1–10) more, same participants and format;
   * `invalid_state` while created or running, `invalid_input` for a bad count.
   */
  continueSession(sessionId: string, rounds: number): Promise<Session>;
  /**
   * Schedules the moderator's verdict of an ended debate; it arrives as a `message-created` event
   * with `authorType: "verdict"`. `invalid_state` while running or when one exists.
   */
  requestVerdict(sessionId: string): Promise<Session>;
  /** The session as a Markdown document or as JSON, ready to download. */
  exportSession(sessionId: string, format: "md" | "json"): Promise<SessionExport>;
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
  secretBox: SecretBox;
  /** Which UTC day the daily limits count (tests inject a manual clock). */
  clock?: Clock;
}): DebateService {
  const { db, store, reader, settings, waker, secretBox } = deps;
  const clock = deps.clock ?? systemClock;
  const providersInOrder = () =>
    db.select().from(providers).orderBy(asc(providers.orderIndex), asc(providers.id));
  const gateFor = (userId: number, current: RuntimeSettings): DailyGate => ({
    userId,
    now: clock.now(),
    settings: current,
  });
  const limitsOf = (current: RuntimeSettings): SessionLimits => ({
    turnTimeoutSec: current.TURN_TIMEOUT_SEC,
    sessionTimeoutSec: current.SESSION_TIMEOUT_SEC,
    tokenLimit: current.SESSION_TOKEN_LIMIT,
    costLimitUsd: current.SESSION_COST_LIMIT_USD,
    contextTokenLimit: current.CONTEXT_TOKEN_LIMIT,
  });
  return {
    async createSession(input) {
      const topic = normalizeTopic(input.topic);
      const options = sessionOptions({ ...input, topic });
      const current = await settings.getAll();
      const maxRounds = input.maxRounds ?? current.MAX_ROUNDS;
      if (!Number.isInteger(maxRounds) || maxRounds < ROUNDS_RANGE.min || maxRounds > ROUNDS_RANGE.max) {
        throw new DebateError(
          "invalid_state",
          `max_rounds must be an integer from ${ROUNDS_RANGE.min} to ${ROUNDS_RANGE.max}.`,
        );
      }
      const chosen = await resolveParticipants(db, await providersInOrder(), secretBox, input.participants);
      const source = input.source ?? "api";
      return store.create({
        topic,
        maxRounds,
        participants: chosen,
        userId: input.userId,
        chatId: input.chatId,
        source,
        ...options,
        // Quotas and access apply to the public's users; the API and the admin are the operator's own.
        gate: isPublicSource(source) && input.userId != null ? gateFor(input.userId, current) : undefined,
      });
    },

    async startSession(sessionId) {
      const started = await store.start(sessionId, limitsOf(await settings.getAll()));
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
    async activeSessionForChat(chatId) {
      const open = await reader.openForChat(chatId);
      if (open?.status !== "created" || open.createdAt.getTime() > clock.now() - STALE_CREATED_MS)
        return open;
      // Left `created` by a crash before it started: ended, so the chat is free again.
      await store.freeStale(chatId);
      return reader.openForChat(chatId);
    },

    async interject(sessionId, input) {
      const content = normalizeInterjection(input.content);
      const session = await reader.session(sessionId);
      return store.interject(sessionId, {
        content,
        authorName: debateTexts(session.language).interjectionAuthor(input.by),
        minIntervalMs: INTERJECTION_INTERVAL_SEC * 1000,
      });
    },

    async continueSession(sessionId, rounds) {
      if (
        !Number.isInteger(rounds) ||
        rounds < CONTINUE_ROUNDS_RANGE.min ||
        rounds > CONTINUE_ROUNDS_RANGE.max
      ) {
        throw new DebateError(
          "invalid_input",
          `rounds must be an integer from ${CONTINUE_ROUNDS_RANGE.min} to ${CONTINUE_ROUNDS_RANGE.max}.`,
          { field: "rounds" },
        );
      }
      const [session, participants] = await Promise.all([
        reader.session(sessionId),
        reader.participants(sessionId),
      ]);
      if (session.status !== "finished" && session.status !== "stopped") {
        throw new DebateError(
          "invalid_state",
          `Session is ${session.status}; only a finished or stopped debate can continue.`,
          { status: session.status },
        );
      }
      if (participants.filter((participant) => participant.status === "active").length < 2) {
        throw new DebateError(
          "not_enough_participants",
          "Fewer than two of the debate's participants are left; start a new debate instead.",
        );
      }
      const resumed = await store.resume(sessionId, { rounds, limits: limitsOf(await settings.getAll()) });
      await waker.wake(sessionId);
      return resumed;
    },

    async requestVerdict(sessionId) {
      const requested = await store.requestVerdict(sessionId);
      await waker.wake(sessionId);
      return requested;
    },

    async exportSession(sessionId, format) {
      if (format !== "md" && format !== "json") {
        throw new DebateError("invalid_input", "format must be md or json.", { field: "format" });
      }
      return exportSession(await reader.detail(sessionId), format);
    },

    async preflight() {
      return preflightOf(await providersInOrder(), secretBox);
    },

    async checkAdmission({ userId }) {
      const [rows, current] = await Promise.all([providersInOrder(), settings.getAll()]);
      const preflight = preflightOf(rows, secretBox);
      if (!preflight.ready) throw notEnough(preflight);
      await checkDailyGate(db, gateFor(userId, current));
    },

    async estimateCost(detail) {
      const ids = detail.participants.flatMap((participant) =>
        participant.providerId === null ? [] : [participant.providerId],
      );
      const [rows, current] = await Promise.all([
        ids.length === 0 ? [] : db.select().from(providers).where(inArray(providers.id, ids)),
        settings.getAll(),
      ]);
      const paramsOf = new Map(rows.map((row) => [row.id, row.params as ProviderParams]));
      return estimateDebateCost({
        participants: detail.participants.map((participant) =>
          participant.providerId === null ? {} : (paramsOf.get(participant.providerId) ?? {}),
        ),
        rounds: detail.session.maxRounds,
        contextTokenLimit: current.CONTEXT_TOKEN_LIMIT,
        topicTokens: countTextTokens(detail.session.topic),
      });
    },
  };
}

/**
 * Resolves the participants: explicit ones (each enabled, with a usable key), or every provider
 * that can take part, in admin order. Fewer than two is `not_enough_participants`, naming why.
 */
async function resolveParticipants(
  db: Db,
  providerRows: readonly Provider[],
  secretBox: SecretBox,
  requested: ParticipantRequest[] | undefined,
): Promise<NewParticipant[]> {
  const personaRows = await db.select().from(personalities);
  const personaById = new Map(personaRows.map((row) => [row.id, row]));
  const providerById = new Map(providerRows.map((row) => [row.id, row]));
  const preflight = preflightOf(providerRows, secretBox);
  const problemOf = new Map(preflight.providers.map((provider) => [provider.id, provider.problem]));
  const list = requested?.length
    ? requested
    : providerRows
        .filter((row) => problemOf.get(row.id) === null)
        .map((row) => ({ providerId: row.id, personalityId: undefined as number | null | undefined }));
  const chosen = list.map((item) => {
    const provider = providerById.get(item.providerId);
    if (!provider) throw new DebateError("provider_not_found", `Provider ${item.providerId} not found.`);
    if (!provider.enabled)
      throw new DebateError("provider_not_found", `Provider ${provider.name} is disabled.`);
    const problem = problemOf.get(provider.id);
    if (problem) {
      throw new DebateError(
        "not_enough_participants",
        `Provider ${provider.name} ${PROBLEM_WORDS[problem]}.`,
        {
          providers: [{ id: provider.id, name: provider.name, problem }],
        },
      );
    }
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
  if (chosen.length < 2) {
    throw requested?.length
      ? new DebateError(
          "not_enough_participants",
          `A debate needs at least two participants (got ${chosen.length}).`,
        )
      : notEnough(preflight);
  }
  return chosen;
}
