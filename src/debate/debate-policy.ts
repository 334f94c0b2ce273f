import type { Session, SessionParticipant, StopReason } from "../db/schema";
import type { DailyBudget } from "./daily-budget";
import type { SessionTotals } from "./debate-events";
import { type DebateTexts, debateTexts } from "./debate-texts";
import { type LoopVerdict, MAX_LOOP_STRIKES } from "./loop-guard";
import { sumTotals } from "./session-reader";
import type { MessageDraft, NewStepMessage, ParticipantChange, Step } from "./step-writer";
import { type SessionLimits, stopFor } from "./stop-conditions";

/**
 * The debate's rules as pure functions: `state + outcome → step`. Who speaks next, what a turn's
 * outcome writes (the answer, a notice, an exclusion), and when the debate ends. No I/O, no clock
 * of its own: the turn runner feeds it what happened and writes what it returns.
 */

/** Exclusion reason of a participant whose turns timed out twice in a row. */
export const TIMED_OUT_TWICE = "timed out twice in a row";
/** Consecutive failed turns (timeouts or exhausted retries) after which a participant is excluded. */
export const MAX_CONSECUTIVE_FAILURES = 2;

/** What the policy looks at: the session as it stands, with every message so far. */
export interface DebateState {
  session: Session;
  limits: SessionLimits;
  participants: SessionParticipant[];
  /** Every message so far, including those of steps whose write has not landed yet. */
  messages: MessageDraft[];
  /** Tokens and cost of `messages`. */
  totals: SessionTotals;
  /** The daily budgets of a public debate, this run's spend included (none for the operator's doors). */
  dailyBudgets?: readonly DailyBudget[];
}

/** What to do next: a participant speaks in `round`, or the debate ends with `step`. */
export type TurnPlan =
  | { kind: "speak"; speaker: SessionParticipant; round: number }
  | { kind: "end"; step: Step };

/** A model's answer, accounted and judged by the loop guard. */
export interface AnswerOutcome {
  kind: "answer";
  message: Omit<NewStepMessage, "round" | "authorType" | "authorName" | "participantId">;
  verdict: LoopVerdict;
}

/** A failed call, classified. `publicCause` is the short, secret-free cause shown in the chat. */
export interface FailureOutcome {
  kind: "failure";
  /** Timed out (or aborted by the turn deadline), as opposed to failing. */
  timedOut: boolean;
  /** Asking again may help (5xx, 429, network, timeout); a bad key or model will not. */
  retryable: boolean;
  /** The session's wall-clock limit has passed. */
  sessionTimedOut: boolean;
  /** What the transcript and the chat say the cause was (never a provider's body text). */
  publicCause: string;
  /** The cause for the operator (scrubbed of anything secret). */
  detail: string;
}

/** The participant's provider is gone (deleted or disabled). */
export interface MissingProviderOutcome {
  kind: "provider-missing";
}

export type TurnOutcome = AnswerOutcome | FailureOutcome | MissingProviderOutcome;

export const activeParticipants = (state: Pick<DebateState, "participants">) =>
  state.participants.filter((participant) => participant.status === "active");

/**
 * Why a debate ran out of participants: `turn_timeout` when the last one excluded had timed out
 * twice in a row. Read from the participants and messages, so a run resumed after a crash between
 * that exclusion and the end says the same.
 */
export function noParticipantsReason(state: Pick<DebateState, "participants" | "messages">): StopReason {
  const excluded = new Map(
    state.participants.filter((participant) => participant.status === "excluded").map((p) => [p.id, p]),
  );
  // An excluded participant's exclusion notice is its last message.
  const last = state.messages.findLast(
    (message) => message.participantId !== null && excluded.has(message.participantId),
  );
  const reason = last ? excluded.get(last.participantId!)?.exclusionReason : null;
  return reason === TIMED_OUT_TWICE ? "turn_timeout" : "no_participants";
}

/** Who speaks next, or how the debate ends now (a limit, too few participants, the last round done). */
export function planTurn(state: DebateState, now: number): TurnPlan {
  const stillActive = activeParticipants(state);
  const stop = stopFor({
    now,
    startedAt: state.session.startedAt?.getTime() ?? now,
    limits: state.limits,
    totals: state.totals,
    activeParticipants: stillActive.length,
    dailyBudgets: state.dailyBudgets,
  });
  if (stop) {
    const reason = stop.reason === "no_participants" ? noParticipantsReason(state) : stop.reason;
    return {
      kind: "end",
      step: {
        messages: [],
        end: { status: "stopped", reason, ...(stop.detail ? { detail: stop.detail } : {}) },
      },
    };
  }
  let round = state.session.currentRound;
  let speaker = stillActive.find((participant) => participant.orderIndex >= state.session.nextOrderIndex);
  if (!speaker) {
    // The scheduled speaker was excluded at the end of a round: the next round starts.
    speaker = stillActive[0]!;
    round += 1;
  }
  if (round > state.session.maxRounds) {
    return {
      kind: "end",
      step: {
        messages: [],
        cursor: { currentRound: state.session.maxRounds, nextOrderIndex: 0 },
        end: { status: "finished", reason: "max_rounds" },
      },
    };
  }
  return { kind: "speak", speaker, round };
}

/** What a turn of `speaker` in `round` writes, given its outcome. */
export function stepAfterTurn(
  state: DebateState,
  speaker: SessionParticipant,
  round: number,
  outcome: TurnOutcome,
): Step {
  const turn = { state, speaker, round, texts: debateTexts(state.session.language) };
  switch (outcome.kind) {
    case "provider-missing":
      return exclude(turn, "provider removed", turn.texts.excludedMissing(speaker.displayName));
    case "failure":
      return afterFailure(turn, outcome);
    case "answer":
      return afterAnswer(turn, outcome);
  }
}

interface Turn {
  state: DebateState;
  speaker: SessionParticipant;
  round: number;
  texts: DebateTexts;
}

const notice = (turn: Turn, content: string): NewStepMessage => ({
  round: turn.round,
  authorType: "system",
  authorName: "system",
  participantId: turn.speaker.id,
  content,
});

function afterFailure(turn: Turn, failure: FailureOutcome): Step {
  const { speaker, texts } = turn;
  if (failure.sessionTimedOut) return { messages: [], end: { status: "stopped", reason: "session_timeout" } };
  if (!failure.retryable) {
    // A bad key or an unknown model will not get better by asking again.
    return exclude(turn, failure.detail, texts.excludedProvider(speaker.displayName, failure.publicCause));
  }
  const failures = speaker.consecutiveTimeouts + 1;
  if (failures >= MAX_CONSECUTIVE_FAILURES) {
    return failure.timedOut
      ? exclude(turn, TIMED_OUT_TWICE, texts.excludedTimeouts(speaker.displayName), [], {
          consecutiveTimeouts: failures,
        })
      : exclude(
          turn,
          `failed twice in a row: ${failure.detail}`,
          texts.excludedFailures(speaker.displayName, failure.publicCause),
          [],
          { consecutiveTimeouts: failures },
        );
  }
  const content = failure.timedOut
    ? texts.turnTimeout(speaker.displayName)
    : texts.turnFailed(speaker.displayName, failure.publicCause);
  return advance(turn, {
    messages: [notice(turn, content)],
    participants: [{ id: speaker.id, set: { consecutiveTimeouts: failures } }],
  });
}

function afterAnswer(turn: Turn, answer: AnswerOutcome): Step {
  const { speaker, texts } = turn;
  const ok = answer.verdict === "ok";
  const message: NewStepMessage = {
    round: turn.round,
    authorType: "model",
    authorName: speaker.displayName,
    participantId: speaker.id,
    ...answer.message,
    flagged: ok ? null : answer.verdict,
  };
  const strikes = speaker.loopStrikes + (ok ? 0 : 1);
  if (strikes >= MAX_LOOP_STRIKES) {
    return exclude(turn, `${answer.verdict} answers`, texts.excludedLoop(speaker.displayName), [message], {
      loopStrikes: strikes,
      consecutiveTimeouts: 0,
    });
  }
  return advance(turn, {
    // A held-back answer is not silent: the chat gets one short line saying so.
    messages: ok
      ? [message]
      : [message, notice(turn, texts.heldBack(speaker.displayName, answer.verdict as "empty" | "repeat"))],
    // Nothing to write for the participant on an ordinary good turn: one round trip fewer.
    participants:
      strikes === speaker.loopStrikes && speaker.consecutiveTimeouts === 0
        ? []
        : [{ id: speaker.id, set: { loopStrikes: strikes, consecutiveTimeouts: 0 } }],
  });
}

/** A step that excludes the speaker (with a notice) and moves on. */
function exclude(
  turn: Turn,
  reason: string,
  content: string,
  before: NewStepMessage[] = [],
  set: ParticipantChange = {},
): Step {
  return advance(
    turn,
    {
      messages: [...before, notice(turn, content)],
      participants: [{ id: turn.speaker.id, set: { ...set, status: "excluded", exclusionReason: reason } }],
    },
    turn.speaker.id,
  );
}

/** Moves the cursor past the speaker (who may just be excluded), ending the debate after the last round. */
function advance(turn: Turn, step: Step, excludedId?: number): Step {
  const stillActive = activeParticipants(turn.state).filter((participant) => participant.id !== excludedId);
  const next = stillActive.find((participant) => participant.orderIndex > turn.speaker.orderIndex);
  const cursor = next
    ? { currentRound: turn.round, nextOrderIndex: next.orderIndex }
    : { currentRound: turn.round + 1, nextOrderIndex: stillActive[0]?.orderIndex ?? 0 };
  if (cursor.currentRound > turn.state.session.maxRounds) {
    return { ...step, end: { status: "finished", reason: "max_rounds" } };
  }
  return { ...step, cursor };
}

/** Moves `state` past `step`, whose rows are `drafts`: what the next decision sees. No I/O. */
export function applyStep(state: DebateState, step: Step, drafts: MessageDraft[]): void {
  state.session = {
    ...state.session,
    ...step.cursor,
    ...(step.end
      ? { status: step.end.status, stopReason: step.end.reason, stopDetail: step.end.detail ?? null }
      : {}),
  };
  state.messages.push(...drafts);
  state.totals = sumTotals([state.totals, ...drafts]);
  for (const change of step.participants ?? []) {
    const index = state.participants.findIndex((participant) => participant.id === change.id);
    if (index >= 0) state.participants[index] = { ...state.participants[index]!, ...change.set };
  }
}
