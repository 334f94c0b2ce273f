import { and, eq, inArray, lt, max, sql } from "drizzle-orm";
import {
  type Message,
  messages,
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
import type { DebateFormat } from "./debate-formats";
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
  format: DebateFormat;
  verdict: boolean;
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
  /** Ends the chat's session left `created` past STALE_CREATED_MS (a crash before it started): it frees the chat. */
  freeStale(chatId: number): Promise<void>;
  /** `created` → `running` with the limits captured now; `invalid_state` otherwise. */
  start(sessionId: string, limits: SessionLimits): Promise<Session>;
  /** Ends a session still open; null when it had already ended (nothing is written or sent then). */
  end(sessionId: string, outcome: SessionOutcome): Promise<Session | null>;
  /**
   * Stores an interjection (`author_type = 'user'`) at the next free turn index of a running
   * session, under the session's row lock (which every step's write takes too, so the two never
   * race for an index unseen); `invalid_state` unless running, `rate_limited` when the session's
   * last interjection is younger than `minIntervalMs`. Announced as a `message-created` event, which
   * the run picks up for the next speaker's prompt.
   */
  interject(
    sessionId: string,
    input: { content: string; authorName: string; minIntervalMs: number },
  ): Promise<Message>;
  /**
   * A finished or stopped session goes on: `running` again with `rounds` more, the limits captured
   * now and its wall clock restarted; `invalid_state` otherwise, `chat_busy` when its chat has
   * another debate open.
   */
  resume(sessionId: string, input: { rounds: number; limits: SessionLimits }): Promise<Session>;
  /**
   * Asks for the verdict of an ended session that has none covering its last turn; `invalid_state`
   * otherwise. The session stays ended; the scheduler runs it once more for the verdict alone.
   */
  requestVerdict(sessionId: string): Promise<Session>;
  /**
   * Writes a step (batched with other sessions' steps of the same event-loop turn), then announces
   * its rows, named after their `speakers`; rejects with `SessionMovedOn` when the session is no
   * longer running here, `InterjectionsAhead` when interjections took the step's turn indices. `after` is
   * the session as the step leaves it, with its totals: what a step that ends it announces (the run
   * holds every row of its session, so no read is needed).
   */
  commit(
    write: StepWrite,
    context: { speakers?: readonly Speaker[]; after: { session: Session; totals: SessionTotals } },
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
function stepEvents(
  sessionId: string,
  write: StepWrite,
  rows: Message[],
  speakers: readonly Speaker[] = [],
): DebateEvent[] {
  const excluded = new Map(
    (write.step.participants ?? [])
      .filter((change) => change.set.status === "excluded")
      .map((change) => [change.id, change]),
  );
  return rows.flatMap((row): DebateEvent[] => {
    const speaker = speakers.find((candidate) => candidate.id === row.participantId);
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
          authorType: "model",
          content: row.content,
          tokensIn: row.tokensIn,
          tokensOut: row.tokensOut,
          cachedTokens: row.cachedTokens,
          cost: row.cost,
        },
      ];
    }
    const exclusion = speaker && excluded.get(speaker.id);
    if (row.authorType === "system" && speaker && exclusion) {
      return [
        {
          type: "participant-excluded",
          sessionId,
          participantId: speaker.id,
          name: speaker.name,
          reason: String(exclusion.set.exclusionReason),
          messageId: row.id,
        },
      ];
    }
    return [messageCreated(row)];
  });
}

/** The `message-created` event of a row other than a turn. */
function messageCreated(row: Message): DebateEvent {
  return {
    type: "message-created",
    sessionId: row.sessionId,
    messageId: row.id,
    authorType: row.authorType as Exclude<Message["authorType"], "model">,
    turnIndex: row.turnIndex,
    round: row.round,
    authorName: row.authorName,
    content: row.content,
  };
}

/** What a door is told when a session is in a state the command does not apply to. */
const refuseState = (session: Session, message: string) =>
  new DebateError("invalid_state", message, { status: session.status });

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

  // A session left `created` by a crash before it started must not keep its chat busy forever.
  const freeStale = async (chatId: number) => {
    const stale = await endRows(
      and(
        eq(sessions.chatId, chatId),
        eq(sessions.status, "created"),
        lt(sessions.createdAt, new Date(now() - STALE_CREATED_MS)),
      ),
      { status: "failed", reason: "error", detail: "never started" },
    );
    for (const session of stale) await announceEnd(session);
  };

  return {
    freeStale,
    async create(input) {
      if (input.chatId != null) await freeStale(input.chatId);
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
              format: input.format,
              verdict: input.verdict,
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

    async interject(sessionId, { content, authorName, minIntervalMs }) {
      const row = await db.transaction(async (tx) => {
        // The row lock every step's write takes first: the index read below cannot go stale.
        const [session] = await tx.select().from(sessions).where(eq(sessions.id, sessionId)).for("update");
        if (!session) throw new DebateError("session_not_found", `Session ${sessionId} not found.`);
        if (session.status !== "running") {
          throw refuseState(
            session,
            `Session is ${session.status}; only a running debate takes interjections.`,
          );
        }
        const [stats] = await tx
          .select({
            lastIndex: max(messages.turnIndex),
            lastAt: sql<
              Date | string | null
            >`max(${messages.createdAt}) filter (where ${messages.authorType} = 'user')`,
          })
          .from(messages)
          .where(eq(messages.sessionId, sessionId));
        const lastAt = stats?.lastAt ? new Date(stats.lastAt).getTime() : null;
        if (lastAt !== null && now() - lastAt < minIntervalMs) {
          const retryAfterSec = Math.ceil((minIntervalMs - (now() - lastAt)) / 1000);
          throw new DebateError(
            "rate_limited",
            `One interjection per ${Math.round(minIntervalMs / 1000)} s; try again in ${retryAfterSec} s.`,
            { retry_after_sec: retryAfterSec },
          );
        }
        const [inserted] = await tx
          .insert(messages)
          .values({
            sessionId,
            turnIndex: (stats?.lastIndex ?? -1) + 1,
            round: Math.max(1, session.currentRound),
            authorType: "user",
            authorName,
            participantId: null,
            content,
            // The app's clock: the rate limit counts in the time the app (and its tests) runs on.
            createdAt: new Date(now()),
          })
          .returning();
        return inserted!;
      });
      await publish(messageCreated(row));
      logger.info("interjection stored", { session: sessionId, turnIndex: row.turnIndex });
      return row;
    },

    async resume(sessionId, { rounds, limits }) {
      let resumed: Session | undefined;
      try {
        [resumed] = await db
          .update(sessions)
          .set({
            status: "running",
            stopReason: null,
            stopDetail: null,
            finishedAt: null,
            maxRounds: sql`${sessions.maxRounds} + ${rounds}`,
            resumedAt: sql`now()`,
            limits: limits as unknown as Record<string, unknown>,
          })
          .where(
            and(
              eq(sessions.id, sessionId),
              inArray(sessions.status, ["finished", "stopped"]),
              sql`${sessions.verdictRequestedAt} is null`,
            ),
          )
          .returning();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const session = await reader.session(sessionId);
        const open = session.chatId === null ? null : await reader.openForChat(session.chatId);
        throw new DebateError("chat_busy", "This chat already has a debate running.", {
          sessionId: open?.id,
        });
      }
      if (!resumed) {
        const session = await reader.session(sessionId);
        throw refuseState(
          session,
          session.verdictRequestedAt
            ? "The session's verdict is being written; continue it once the verdict is in."
            : `Session is ${session.status}; only a finished or stopped debate can continue.`,
        );
      }
      const participants = await reader.participants(sessionId);
      await publish({
        type: "session-start",
        sessionId,
        maxRounds: resumed.maxRounds,
        participants: participants
          .filter((participant) => participant.status === "active")
          .map((participant) => ({
            id: participant.id,
            name: participant.displayName,
            persona: participant.personaTitle,
          })),
        continued: true,
      });
      logger.info("session continued", { session: sessionId, rounds, maxRounds: resumed.maxRounds });
      return resumed;
    },

    async requestVerdict(sessionId) {
      const lastTurn = sql`(select max(m.turn_index) from ${messages} m where m.session_id = ${sessions.id} and m.author_type = 'model')`;
      const [requested] = await db
        .update(sessions)
        .set({ verdictRequestedAt: sql`now()` })
        .where(
          and(
            eq(sessions.id, sessionId),
            inArray(sessions.status, ["finished", "stopped", "failed"]),
            sql`${sessions.verdictRequestedAt} is null`,
            // Something to judge, and no verdict after it yet.
            sql`${lastTurn} is not null`,
            sql`not exists (select 1 from ${messages} v where v.session_id = ${sessions.id}
              and v.author_type = 'verdict' and v.turn_index > ${lastTurn})`,
          ),
        )
        .returning();
      if (requested) {
        logger.info("verdict requested", { session: sessionId });
        return requested;
      }
      const session = await reader.session(sessionId);
      const rows = await reader.messages(sessionId);
      throw refuseState(
        session,
        session.status === "created" || session.status === "running"
          ? `Session is ${session.status}; a verdict is asked for once the debate has ended.`
          : session.verdictRequestedAt
            ? "The session's verdict is already being written."
            : !rows.some((row) => row.authorType === "model")
              ? "The session has no turns to judge."
              : "The session already has a verdict.",
      );
    },

    async commit(write, { speakers, after }) {
      const written = await writeStep(write);
      for (const event of stepEvents(write.sessionId, write, written.messages, speakers))
        await publish(event);
      if (write.step.end) {
        await announceEnd({ ...after.session, finishedAt: written.finishedAt }, after.totals);
      }
      return written;
    },

    turnStarted: (event) => publish({ type: "turn-start", ...event }),
    turnDelta: (event) => publish({ type: "turn-delta", ...event }),
  };
}
