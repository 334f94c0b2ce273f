import { and, eq, inArray, lt, sql } from "drizzle-orm";
import {
  type Message,
  type Session,
  type SessionSource,
  type SessionStatus,
  type StopReason,
  sessionParticipants,
  sessions,
} from "../db/schema";
import { type Db, isUniqueViolation } from "../platform/db";
import type { Logger } from "../platform/logger";
import { checkDailyGate, type DailyGate, USER_QUOTA_LOCK } from "./daily-usage";
import { DebateError } from "./debate-errors";
import type { DebateEvent, DebateEventBus, SessionTotals } from "./debate-events";
import { type SessionDetail, type SessionReader, sumTotals } from "./session-reader";
import { createStepWriter, type StepWrite, type WrittenStep } from "./step-writer";
import type { SessionLimits } from "./stop-conditions";

/** A participant as a new session copies it (names stay readable if the provider is edited later). */
export interface NewParticipant {
  providerId: number;
  personalityId: number | null;
  displayName: string;
  personaTitle: string | null;
}

/** A validated new session: what the service resolved from a door's request. */
export interface NewSession {
  topic: string;
  maxRounds: number;
  participants: NewParticipant[];
  userId?: number | null;
  chatId?: number | null;
  source: SessionSource;
  language: "ru" | "en";
  /** A public user's debate: checked against access and the daily limits as it is inserted. */
  gate?: DailyGate;
}

/** How a session ends. */
export interface SessionOutcome {
  status: Exclude<SessionStatus, "created" | "running">;
  reason: StopReason;
  detail?: string | null;
}

/** The participant who spoke in a step (names the events of its rows). */
export interface Speaker {
  id: number;
  name: string;
}

/**
 * The one owner of a debate's life: the only code that writes `sessions`, `messages` and
 * `session_participants`, and the only one that emits debate events. Every state change goes
 * through here: create → start → steps → end, each guarded in Postgres (status checks, the unique
 * turn index, one open session per chat), each announced once it is written.
 */
export interface SessionStore {
  /**
   * Inserts a `created` session and its participants; `chat_busy` when the chat has one open,
   * `access_denied` / `quota_exceeded` when its gate refuses it.
   */
  create(input: NewSession): Promise<SessionDetail>;
  /** `created` → `running` with the limits captured now; `invalid_state` otherwise. */
  start(sessionId: string, limits: SessionLimits): Promise<Session>;
  /** Ends a session still open; null when it had already ended (nothing is written or sent then). */
  end(sessionId: string, outcome: SessionOutcome): Promise<Session | null>;
  /**
   * Writes a step (batched with other sessions' steps of the same event-loop turn), then announces
   * its rows; rejects with `SessionMovedOn` when the session is no longer running here. `after` is
   * the session as the step leaves it, with its totals: what a step that ends it announces (the run
   * holds every row of its session, so no read is needed).
   */
  commit(
    write: StepWrite,
    context: { speaker?: Speaker; after: { session: Session; totals: SessionTotals } },
  ): Promise<WrittenStep>;
  /** Live events of a turn in progress (nothing is written): its start and its text so far. */
  turnStarted(event: Omit<Extract<DebateEvent, { type: "turn-start" }>, "type">): Promise<void>;
  turnDelta(event: Omit<Extract<DebateEvent, { type: "turn-delta" }>, "type">): Promise<void>;
}

/** A `created` session older than this no longer keeps its chat busy (a crash between create and start). */
export const STALE_CREATED_MS = 5 * 60_000;

/** The `session-end` event of a session that has ended: the one builder of it. */
export function sessionEndEvent(session: Session, totals: SessionTotals): DebateEvent {
  return {
    type: "session-end",
    sessionId: session.id,
    status: session.status,
    stopReason: session.stopReason,
    rounds: session.currentRound,
    totals,
  };
}

/** The events announcing the rows of a step, in order. Flagged answers are kept quiet. */
function stepEvents(sessionId: string, write: StepWrite, rows: Message[], speaker?: Speaker): DebateEvent[] {
  const excluded = write.step.participants?.find((change) => change.set.status === "excluded");
  return rows.flatMap((row): DebateEvent[] => {
    if (row.authorType === "model") {
      if (row.flagged || !speaker) return [];
      return [
        {
          type: "turn-end",
          sessionId,
          round: row.round,
          turnIndex: row.turnIndex,
          messageId: row.id,
          participantId: speaker.id,
          name: speaker.name,
          content: row.content,
          tokensIn: row.tokensIn,
          tokensOut: row.tokensOut,
          cachedTokens: row.cachedTokens,
          cost: row.cost,
        },
      ];
    }
    if (row.authorType === "system" && excluded && speaker) {
      return [
        {
          type: "participant-excluded",
          sessionId,
          participantId: speaker.id,
          name: speaker.name,
          reason: String(excluded.set.exclusionReason),
          messageId: row.id,
        },
      ];
    }
    if (row.authorType === "system" || row.authorType === "summary") {
      return [{ type: "message-created", sessionId, messageId: row.id, authorType: row.authorType }];
    }
    return [];
  });
}

export function createSessionStore(deps: {
  db: Db;
  reader: SessionReader;
  events: DebateEventBus;
  logger: Logger;
  now?: () => number;
}): SessionStore {
  const { db, reader, events, logger } = deps;
  const now = deps.now ?? Date.now;
  const writeStep = createStepWriter(db);

  // Events are hints (observers read the truth back from Postgres): a publish that fails while
  // Redis is away is logged once per outage, and the debate goes on.
  let publishFailing = false;
  const publish = (event: DebateEvent) =>
    events.publish(event).then(
      () => {
        publishFailing = false;
      },
      (error: unknown) => {
        if (!publishFailing) logger.warn("event publish failed", { error, type: event.type });
        publishFailing = true;
      },
    );

  const announceEnd = async (session: Session, totals?: SessionTotals) => {
    await publish(sessionEndEvent(session, totals ?? (await reader.totals(session.id))));
    logger.info("session ended", {
      session: session.id,
      status: session.status,
      reason: session.stopReason,
      rounds: session.currentRound,
    });
  };

  const endRows = (where: ReturnType<typeof and>, outcome: SessionOutcome) =>
    db
      .update(sessions)
      .set({
        status: outcome.status,
        stopReason: outcome.reason,
        stopDetail: outcome.detail ?? null,
        finishedAt: sql`now()`,
      })
      .where(and(where, inArray(sessions.status, ["created", "running"])))
      .returning();

  return {
    async create(input) {
      // A session left `created` by a crash before it started must not keep its chat busy forever.
      const stale =
        input.chatId == null
          ? []
          : await endRows(
              and(
                eq(sessions.chatId, input.chatId),
                eq(sessions.status, "created"),
                lt(sessions.createdAt, new Date(now() - STALE_CREATED_MS)),
              ),
              { status: "failed", reason: "error", detail: "never started" },
            );
      for (const session of stale) await announceEnd(session);
      let created: { session: Session; participants: SessionDetail["participants"] };
      try {
        created = await db.transaction(async (tx) => {
          if (input.gate) {
            // One user's starts queue on this lock until each commits: the count in the gate sees
            // every debate of theirs committed before, so two at once cannot both take the last slot.
            await tx.execute(
              sql`select pg_advisory_xact_lock(${USER_QUOTA_LOCK}::int, ${input.gate.userId}::int)`,
            );
            await checkDailyGate(tx as unknown as Db, input.gate);
          }
          const [session] = await tx
            .insert(sessions)
            .values({
              topic: input.topic,
              maxRounds: input.maxRounds,
              userId: input.userId ?? null,
              chatId: input.chatId ?? null,
              source: input.source,
              language: input.language,
              // The app's clock, not the database's: the UTC day a debate counts on is the one the
              // gate checked.
              createdAt: new Date(now()),
            })
            .returning();
          const participants = await tx
            .insert(sessionParticipants)
            .values(
              input.participants.map((participant, index) => ({
                ...participant,
                sessionId: session!.id,
                orderIndex: index,
              })),
            )
            .returning();
          return { session: session!, participants };
        });
      } catch (error) {
        // The partial unique index on open sessions per chat: two topics at once cannot both open one.
        if (input.chatId != null && isUniqueViolation(error)) {
          const open = await reader.openForChat(input.chatId);
          throw new DebateError("chat_busy", "This chat already has a debate running.", {
            sessionId: open?.id,
          });
        }
        throw error;
      }
      logger.info("session created", {
        session: created.session.id,
        participants: created.participants.length,
      });
      return { ...created, messages: [], totals: sumTotals([]) };
    },

    async start(sessionId, limits) {
      const participants = await reader.participants(sessionId);
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
        const session = await reader.session(sessionId);
        throw new DebateError(
          "invalid_state",
          `Session is ${session.status}; only a created session can start.`,
          { status: session.status },
        );
      }
      await publish({
        type: "session-start",
        sessionId,
        maxRounds: started.maxRounds,
        participants: participants.map((participant) => ({
          id: participant.id,
          name: participant.displayName,
          persona: participant.personaTitle,
        })),
      });
      logger.info("session started", { session: sessionId, maxRounds: started.maxRounds });
      return started;
    },

    async end(sessionId, outcome) {
      const [ended] = await endRows(eq(sessions.id, sessionId), outcome);
      if (!ended) return null;
      // Whoever runs the turn aborts it now; the guarded writes keep anything late out.
      // If Redis is away the turn in flight is not aborted, but its write finds the session ended.
      await events
        .sendControl({ type: "stop", sessionId })
        .catch((error: unknown) => logger.warn("stop command not sent", { session: sessionId, error }));
      await announceEnd(ended);
      return ended;
    },

    async commit(write, { speaker, after }) {
      const written = await writeStep(write);
      for (const event of stepEvents(write.sessionId, write, written.messages, speaker)) await publish(event);
      if (write.step.end) {
        await announceEnd({ ...after.session, finishedAt: written.finishedAt }, after.totals);
      }
      return written;
    },

    turnStarted: (event) => publish({ type: "turn-start", ...event }),
    turnDelta: (event) => publish({ type: "turn-delta", ...event }),
  };
}
