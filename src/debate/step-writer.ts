import { and, asc, eq, gte } from "drizzle-orm";
import {
  type Message,
  messages,
  type SessionParticipant,
  type SessionStatus,
  type StopReason,
} from "../db/schema";
import { ZERO_COST_USD } from "../llm/pricing";
import { createBatcher } from "../platform/batcher";
import { type Db, databaseErrorCode, isUniqueViolation, preparedRows } from "../platform/db";

/** The columns a step fills in a new message row; the rest take their defaults. */
export type NewStepMessage = Pick<
  Message,
  "round" | "authorType" | "authorName" | "participantId" | "content"
> &
  Partial<
    Pick<
      Message,
      | "tokensIn"
      | "tokensOut"
      | "cachedTokens"
      | "cost"
      | "latencyMs"
      | "estimated"
      | "flagged"
      | "summaryUntil"
    >
  >;

/** What a participant row may change in a step. */
export type ParticipantChange = Partial<
  Pick<SessionParticipant, "status" | "exclusionReason" | "consecutiveTimeouts" | "loopStrikes">
>;

/** Everything one step of a debate writes, atomically, guarded by the session still running. */
export interface Step {
  messages: NewStepMessage[];
  participants?: { id: number; set: ParticipantChange }[];
  cursor?: { currentRound: number; nextOrderIndex: number };
  end?: { status: Exclude<SessionStatus, "created" | "running">; reason: StopReason; detail?: string | null };
  /**
   * The step of a verdict (or of the note that none could be written): clears a pending request. It
   * may write to an ended session that has one pending, and only then (or to a running one).
   */
  verdictDone?: boolean;
}

/** The session changed under us (stopped, or another holder wrote this turn). */
export class SessionMovedOn extends Error {}

/**
 * Interjections were stored at the turn indices a step meant to take (the user spoke while the
 * turn was being written): the run takes them in and writes the step again after them.
 */
export class InterjectionsAhead extends Error {
  constructor(readonly rows: Message[]) {
    super(`${rows.length} interjection(s) ahead of the step`);
  }
}

/**
 * One statement writes the steps of several sessions (one round trip, no BEGIN/COMMIT: a statement
 * is atomic on its own). Each session's update comes first and takes its row lock; a session no
 * longer running (nor waiting for a requested verdict, for a verdict's step) matches nothing, and its messages and participant changes, which join on the
 * updated rows, are not written either. Absent cursor and end fields (null) keep the current values;
 * the update still locks the row. Steps travel as one JSON parameter, so the statement text never
 * changes and stays prepared; `::text::jsonb` keeps postgres.js from JSON-encoding the string again.
 */
const WRITE_STEPS = `
with x as (
  select * from jsonb_to_recordset($1::text::jsonb) as x(session_id uuid, current_round int,
    next_order_index int, status session_status, stop_reason stop_reason, stop_detail text,
    verdict_done boolean, messages jsonb, participants jsonb)
), s as (
  update sessions t set
    current_round = coalesce(x.current_round, t.current_round),
    next_order_index = coalesce(x.next_order_index, t.next_order_index),
    status = coalesce(x.status, t.status),
    stop_reason = coalesce(x.stop_reason, t.stop_reason),
    stop_detail = case when x.status is null then t.stop_detail else x.stop_detail end,
    finished_at = case when x.status is null then t.finished_at else now() end,
    verdict_requested_at = case when x.verdict_done then null else t.verdict_requested_at end
  from x
  where t.id = x.session_id
    and (t.status = 'running' or (x.verdict_done and t.verdict_requested_at is not null))
  returning t.id, t.finished_at
), m as (
  insert into messages (session_id, turn_index, round, author_type, author_name, participant_id, content,
    tokens_in, tokens_out, cached_tokens, cost, latency_ms, estimated, flagged, summary_until)
  select s.id, y.turn_index, y.round, y.author_type, y.author_name, y.participant_id, y.content,
    y.tokens_in, y.tokens_out, y.cached_tokens, y.cost, y.latency_ms, y.estimated, y.flagged, y.summary_until
  from s join x on x.session_id = s.id,
    jsonb_to_recordset(x.messages) as y(turn_index int, round int, author_type author_type,
      author_name text, participant_id int, content text, tokens_in int, tokens_out int, cached_tokens int,
      cost numeric, latency_ms int, estimated boolean, flagged text, summary_until int)
  returning session_id, id, turn_index, created_at
), p as (
  update session_participants sp set
    status = coalesce(y.status, sp.status),
    exclusion_reason = coalesce(y.exclusion_reason, sp.exclusion_reason),
    consecutive_timeouts = coalesce(y.consecutive_timeouts, sp.consecutive_timeouts),
    loop_strikes = coalesce(y.loop_strikes, sp.loop_strikes)
  from s join x on x.session_id = s.id,
    jsonb_to_recordset(x.participants) as y(id int, status participant_status, exclusion_reason text,
      consecutive_timeouts int, loop_strikes int)
  where sp.id = y.id and sp.session_id = s.id
)
select s.id as session_id, s.finished_at, m.id, m.turn_index, m.created_at
from s left join m on m.session_id = s.id`;

/** A message row as a step will store it, but for what the database assigns. */
export type MessageDraft = Omit<Message, "id" | "createdAt">;

/** One session's step and its message rows (made by {@link draftMessages}). */
export interface StepWrite {
  sessionId: string;
  step: Step;
  drafts: MessageDraft[];
}

/** What a step wrote: the new message rows as stored, and `finishedAt` when the step ended the session. */
export interface WrittenStep {
  messages: Message[];
  finishedAt: Date | null;
}

interface WrittenRow {
  session_id: string;
  finished_at: Date | string | null;
  id: number | string | bigint | null;
  turn_index: number | null;
  created_at: Date | string | null;
}

const asDate = (value: Date | string) => (value instanceof Date ? value : new Date(value));

/** Postgres aborted the statement to break a lock cycle with another instance's statement. */
const isDeadlock = (error: unknown) => databaseErrorCode(error) === "40P01";

/** The message rows of `step` as they will be stored, numbered from `firstIndex`. */
export function draftMessages(sessionId: string, firstIndex: number, step: Step): MessageDraft[] {
  return step.messages.map((message, offset) => ({
    sessionId,
    turnIndex: firstIndex + offset,
    tokensIn: 0,
    tokensOut: 0,
    cachedTokens: 0,
    cost: ZERO_COST_USD,
    latencyMs: null,
    estimated: false,
    flagged: null,
    summaryUntil: null,
    ...message,
  }));
}

/** Writes the steps of distinct sessions in one statement; a session no longer running gets {@link SessionMovedOn}. */
async function writeSteps(db: Db, writes: StepWrite[]): Promise<(WrittenStep | SessionMovedOn)[]> {
  const payload = writes.map(({ sessionId, step, drafts }) => ({
    session_id: sessionId,
    current_round: step.cursor?.currentRound ?? null,
    next_order_index: step.cursor?.nextOrderIndex ?? null,
    status: step.end?.status ?? null,
    stop_reason: step.end?.reason ?? null,
    stop_detail: step.end?.detail ?? null,
    verdict_done: step.verdictDone ?? false,
    messages: drafts.map((draft) => ({
      turn_index: draft.turnIndex,
      round: draft.round,
      author_type: draft.authorType,
      author_name: draft.authorName,
      participant_id: draft.participantId,
      content: draft.content,
      tokens_in: draft.tokensIn,
      tokens_out: draft.tokensOut,
      cached_tokens: draft.cachedTokens,
      cost: draft.cost,
      latency_ms: draft.latencyMs,
      estimated: draft.estimated,
      flagged: draft.flagged,
      summary_until: draft.summaryUntil,
    })),
    participants: (step.participants ?? []).map(({ id, set }) => ({
      id,
      status: set.status,
      exclusion_reason: set.exclusionReason,
      consecutive_timeouts: set.consecutiveTimeouts,
      loop_strikes: set.loopStrikes,
    })),
  }));
  const rows = await preparedRows<WrittenRow>(db, WRITE_STEPS, [JSON.stringify(payload)]);
  const bySession = Map.groupBy(rows, (row) => row.session_id);
  return writes.map(({ sessionId, drafts }) => {
    const sessionRows = bySession.get(sessionId);
    if (!sessionRows) return new SessionMovedOn();
    const stored = new Map(sessionRows.map((row) => [row.turn_index, row]));
    const messages = drafts.map((draft): Message => {
      const row = stored.get(draft.turnIndex);
      if (!row?.id || !row.created_at) throw new Error(`message ${draft.turnIndex} was not written`);
      return { ...draft, id: Number(row.id), createdAt: asDate(row.created_at) };
    });
    const finishedAt = sessionRows[0]!.finished_at;
    return { messages, finishedAt: finishedAt === null ? null : asDate(finishedAt) };
  });
}

/**
 * One step alone. A taken turn index means another holder wrote this turn — unless interjections
 * took it: those the run has not seen are handed back ({@link InterjectionsAhead}). Only this rare
 * path reads: an ordinary write is the one statement.
 */
async function writeOne(db: Db, write: StepWrite): Promise<WrittenStep | Error> {
  try {
    const [outcome] = await writeSteps(db, [write]);
    return outcome!;
  } catch (error) {
    if (!isUniqueViolation(error)) return error as Error;
    const first = write.drafts[0]?.turnIndex;
    if (first === undefined) return new SessionMovedOn();
    const ahead = await db
      .select()
      .from(messages)
      .where(
        and(
          eq(messages.sessionId, write.sessionId),
          eq(messages.authorType, "user"),
          gte(messages.turnIndex, first),
        ),
      )
      .orderBy(asc(messages.turnIndex));
    return ahead.length > 0 ? new InterjectionsAhead(ahead) : new SessionMovedOn();
  }
}

/**
 * The writer of debate steps: steps written in the same event-loop turn by different debates go
 * out as one statement. Each step is atomic on its own and guarded by its session still running and
 * the unique turn index. When the shared statement fails on a conflict (one session's turn index taken
 * by another holder, or a deadlock with another instance), every step of that batch is written again
 * alone, so each gets its own outcome; any other failure rejects the whole batch. Rejects with
 * {@link SessionMovedOn} when the session has moved on, {@link InterjectionsAhead} when
 * interjections took the step's turn indices.
 */
export function createStepWriter(db: Db): (write: StepWrite) => Promise<WrittenStep> {
  return createBatcher<StepWrite, WrittenStep>(async (writes) => {
    const distinct = new Set(writes.map((write) => write.sessionId)).size === writes.length;
    if (writes.length > 1 && distinct) {
      try {
        return await writeSteps(db, writes);
      } catch (error) {
        // Anything else (a lost connection) may have committed: the runs crash and reload instead.
        if (!isUniqueViolation(error) && !isDeadlock(error)) throw error;
        // One step's conflict must not fail the others: each is written again alone.
      }
    }
    return Promise.all(writes.map((write) => writeOne(db, write)));
  });
}
