import type { Message, SessionParticipant, SessionStatus, StopReason } from "../db/schema";
import { ZERO_COST_USD } from "../llm/pricing";
import { type Db, preparedRows } from "../platform/db";

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
      | "deliveryStatus"
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
}

/** The session changed under us (stopped, or another holder wrote this turn). */
export class SessionMovedOn extends Error {}

/**
 * One statement, so one round trip and no BEGIN/COMMIT: a statement is atomic on its own. The
 * session update comes first and takes the row lock; when the session is no longer running it
 * matches nothing, and the insert and participant update, which select from it, do nothing either.
 * Absent cursor and end fields (null) keep the current values; the update still locks the row.
 * Messages and participant changes travel as JSON (`$7`, `$8`), so one statement text serves every
 * step and stays prepared; `::text::jsonb` keeps postgres.js from JSON-encoding the string again.
 */
const WRITE_STEP = `
with s as (
  update sessions set
    current_round = coalesce($2::int, current_round),
    next_order_index = coalesce($3::int, next_order_index),
    status = coalesce($4::text::session_status, status),
    stop_reason = coalesce($5::text::stop_reason, stop_reason),
    stop_detail = case when $4::text is null then stop_detail else $6::text end,
    finished_at = case when $4::text is null then finished_at else now() end
  where id = $1::uuid and status = 'running'
  returning finished_at
), m as (
  insert into messages (session_id, turn_index, round, author_type, author_name, participant_id, content,
    tokens_in, tokens_out, cached_tokens, cost, latency_ms, estimated, flagged, summary_until, delivery_status)
  select $1::uuid, x.turn_index, x.round, x.author_type, x.author_name, x.participant_id, x.content,
    x.tokens_in, x.tokens_out, x.cached_tokens, x.cost, x.latency_ms, x.estimated, x.flagged, x.summary_until,
    x.delivery_status
  from s, jsonb_to_recordset($7::text::jsonb) as x(turn_index int, round int, author_type author_type,
    author_name text, participant_id int, content text, tokens_in int, tokens_out int, cached_tokens int,
    cost numeric, latency_ms int, estimated boolean, flagged text, summary_until int,
    delivery_status delivery_status)
  returning id, turn_index, created_at
), p as (
  update session_participants sp set
    status = coalesce(x.status, sp.status),
    exclusion_reason = coalesce(x.exclusion_reason, sp.exclusion_reason),
    consecutive_timeouts = coalesce(x.consecutive_timeouts, sp.consecutive_timeouts),
    loop_strikes = coalesce(x.loop_strikes, sp.loop_strikes)
  from s, jsonb_to_recordset($8::text::jsonb) as x(id int, status participant_status, exclusion_reason text,
    consecutive_timeouts int, loop_strikes int)
  where sp.id = x.id and sp.session_id = $1::uuid
)
select s.finished_at, m.id, m.turn_index, m.created_at from s left join m on true`;

interface WrittenRow {
  finished_at: Date | string | null;
  id: number | string | bigint | null;
  turn_index: number | null;
  created_at: Date | string | null;
}

const asDate = (value: Date | string) => (value instanceof Date ? value : new Date(value));

function isUniqueViolation(error: unknown): boolean {
  const code =
    (error as { code?: string; cause?: { code?: string } }).code ??
    (error as { cause?: { code?: string } }).cause?.code;
  return code === "23505";
}

/**
 * Writes `step` for `sessionId` in one statement, numbering its messages from `firstIndex`.
 * Returns the new message rows as stored and the session's `finishedAt` (set when the step ends it).
 * Throws {@link SessionMovedOn} when the session is no longer running or the turn index is taken.
 */
export async function writeStep(
  db: Db,
  sessionId: string,
  firstIndex: number,
  step: Step,
): Promise<{ messages: Message[]; finishedAt: Date | null }> {
  const drafts = step.messages.map(
    (message, offset): Omit<Message, "id" | "createdAt"> => ({
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
      deliveryStatus: "pending",
      telegramMessageIds: null,
      deliveredAt: null,
      ...message,
    }),
  );
  const messagesJson = JSON.stringify(
    drafts.map((draft) => ({
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
      delivery_status: draft.deliveryStatus,
    })),
  );
  const participantsJson = JSON.stringify(
    (step.participants ?? []).map(({ id, set }) => ({
      id,
      status: set.status,
      exclusion_reason: set.exclusionReason,
      consecutive_timeouts: set.consecutiveTimeouts,
      loop_strikes: set.loopStrikes,
    })),
  );
  let rows: WrittenRow[];
  try {
    rows = await preparedRows<WrittenRow>(db, WRITE_STEP, [
      sessionId,
      step.cursor?.currentRound ?? null,
      step.cursor?.nextOrderIndex ?? null,
      step.end?.status ?? null,
      step.end?.reason ?? null,
      step.end?.detail ?? null,
      messagesJson,
      participantsJson,
    ]);
  } catch (error) {
    if (isUniqueViolation(error)) throw new SessionMovedOn();
    throw error;
  }
  const [first] = rows;
  if (!first) throw new SessionMovedOn();
  const stored = new Map(rows.map((row) => [row.turn_index, row]));
  const messages = drafts.map((draft): Message => {
    const row = stored.get(draft.turnIndex);
    if (!row?.id || !row.created_at) throw new Error(`message ${draft.turnIndex} was not written`);
    return { ...draft, id: Number(row.id), createdAt: asDate(row.created_at) };
  });
  return { messages, finishedAt: first.finished_at === null ? null : asDate(first.finished_at) };
}
