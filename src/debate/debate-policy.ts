import type { Session, SessionParticipant, StopReason } from "../db/schema";
import type { DailyBudget } from "./daily-budget";
import type { SessionTotals } from "./debate-events";
import { type DebateTexts, debateTexts } from "./debate-texts";
import { formatOf } from "./formats";
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

/**
 * What to do next: a participant speaks in `round`; every active participant answers `round` at
 * once (a parallel format); the moderator writes the verdict; or the debate ends with `step`.
 */
export type TurnPlan =
  | { kind: "speak"; speaker: SessionParticipant; round: number }
  | { kind: "round"; speakers: SessionParticipant[]; round: number }
  | { kind: "verdict"; round: number }
  | { kind: "end"; step: Step };

/** The cursor's `next_order_index` once a round is over: past every speaking slot. */
export const END_OF_ROUND = 1_000_000;

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

/** The participants active in `state`, in their speaking order of `round` (the format's slots). */
function speakingOrder(
  state: Pick<DebateState, "session" | "participants">,
  round: number,
  without?: Set<number>,
) {
  const format = formatOf(state.session.format);
  const first = Math.min(...state.participants.map((participant) => participant.orderIndex));
  return activeParticipants(state)
    .filter((participant) => !without?.has(participant.id))
    .map((participant) => ({
      participant,
      slot: format.slot(participant.orderIndex, round, state.session.maxRounds, first),
    }))
    .sort((a, b) => a.slot - b.slot);
}

/** Whether the moderator's verdict is due: asked for after the end, or the last round is over and none covers it. */
export function verdictDue(state: Pick<DebateState, "session" | "messages">): boolean {
  if (state.session.status !== "running") return state.session.verdictRequestedAt != null;
  return state.session.verdict === true && !hasCurrentVerdict(state);
}

/** Whether a verdict can be asked for once the debate has ended: a turn to judge, and no verdict after it. */
export function verdictOffered(messages: DebateState["messages"]): boolean {
  return messages.some((message) => message.authorType === "model") && !hasCurrentVerdict({ messages });
}

/** A verdict written after the last turn (a continued debate's older verdict does not count). */
export function hasCurrentVerdict(state: Pick<DebateState, "messages">): boolean {
  const verdict = state.messages.findLast((message) => message.authorType === "verdict");
  if (!verdict) return false;
  const lastTurn = state.messages.findLast((message) => message.authorType === "model");
  return !lastTurn || lastTurn.turnIndex < verdict.turnIndex;
}

/** The limits that cost money (tokens, cost, daily budgets): what a verdict, one more call, must respect. */
const MONEY_LIMITS = new Set(["token_limit", "cost_limit"]);

/** When the debate's current run began (its start, or its last continue): its timeout counts from it. */
export const runStartedAt = (session: Session, now: number) =>
  (session.resumedAt ?? session.startedAt)?.getTime() ?? now;

/** Who speaks next, or how the debate ends now (a limit, too few participants, the last round done). */
export function planTurn(state: DebateState, now: number): TurnPlan {
  const { session } = state;
  const stop = stopFor({
    now,
    startedAt: runStartedAt(session, now),
    limits: state.limits,
    totals: state.totals,
    activeParticipants: activeParticipants(state).length,
    dailyBudgets: state.dailyBudgets,
  });
  if (session.status !== "running") {
    // Ended, run again for a requested verdict only.
    return stop && MONEY_LIMITS.has(stop.reason)
      ? { kind: "end", step: verdictStep(state, { kind: "over-limit" }) }
      : { kind: "verdict", round: session.currentRound };
  }
  let round = session.currentRound;
  let next = speakingOrder(state, round).find(({ slot }) => slot >= session.nextOrderIndex);
  if (!next) {
    // The round is over (or its last speaker was excluded): the next one starts.
    round += 1;
    next = speakingOrder(state, round)[0];
  }
  if (round > session.maxRounds || !next) {
    // Every round is done: the verdict, unless a limit leaves no room for one more call.
    if (round > session.maxRounds && verdictDue(state)) {
      return stop && MONEY_LIMITS.has(stop.reason)
        ? { kind: "end", step: verdictStep(state, { kind: "over-limit" }) }
        : { kind: "verdict", round: session.maxRounds };
    }
    if (round > session.maxRounds) {
      return {
        kind: "end",
        step: {
          messages: [],
          cursor: { currentRound: session.maxRounds, nextOrderIndex: END_OF_ROUND },
          end: { status: "finished", reason: "max_rounds" },
        },
      };
    }
  }
  if (stop || !next) {
    const reason = !stop || stop.reason === "no_participants" ? noParticipantsReason(state) : stop.reason;
    return {
      kind: "end",
      step: {
        messages: [],
        end: { status: "stopped", reason, ...(stop?.detail ? { detail: stop.detail } : {}) },
      },
    };
  }
  if (formatOf(session.format).parallelRounds) {
    return {
      kind: "round",
      round,
      speakers: speakingOrder(state, round).map(({ participant }) => participant),
    };
  }
  return { kind: "speak", speaker: next.participant, round };
}

/** What a turn of `speaker` in `round` writes, given its outcome. */
export function stepAfterTurn(
  state: DebateState,
  speaker: SessionParticipant,
  round: number,
  outcome: TurnOutcome,
): Step {
  const step = turnStep(turnOf(state, speaker, round), outcome);
  return step.end ? step : advance(state, speaker, round, step);
}

/**
 * What a round of a parallel format writes: every speaker's answer (or notice, or exclusion) in
 * speaking order, then the cursor moves to the next round (or the debate ends after the last).
 */
export function stepAfterRound(
  state: DebateState,
  round: number,
  outcomes: readonly { speaker: SessionParticipant; outcome: TurnOutcome }[],
): Step {
  const steps = outcomes.map(({ speaker, outcome }) => turnStep(turnOf(state, speaker, round), outcome));
  const merged: Step = {
    messages: steps.flatMap((step) => step.messages),
    participants: steps.flatMap((step) => step.participants ?? []),
  };
  const end = steps.find((step) => step.end)?.end;
  if (end) return { ...merged, end };
  return roundOver(state, round, merged, excludedBy(merged));
}

const turnOf = (state: DebateState, speaker: SessionParticipant, round: number): Turn => ({
  state,
  speaker,
  round,
  texts: debateTexts(state.session.language),
});

/** What a turn's outcome writes for its speaker (the answer, a notice, an exclusion), before the cursor moves. */
function turnStep(turn: Turn, outcome: TurnOutcome): Step {
  switch (outcome.kind) {
    case "provider-missing":
      return exclude(turn, "provider removed", turn.texts.excludedMissing(turn.speaker.displayName));
    case "failure":
      return afterFailure(turn, outcome);
    case "answer":
      return afterAnswer(turn, outcome);
  }
}

/** What the moderator's call came to. */
export type VerdictOutcome =
  | { kind: "answer"; moderator: string; message: AnswerOutcome["message"] }
  | { kind: "failure"; publicCause: string }
  | { kind: "no-moderator" }
  | { kind: "over-limit" };

/**
 * The step of the verdict: its row (or a note saying why there is none), then the end. A debate
 * that ran its rounds finishes; an ended one asked for a verdict keeps its outcome and only drops
 * the request.
 */
export function verdictStep(state: DebateState, outcome: VerdictOutcome): Step {
  const texts = debateTexts(state.session.language);
  const round = Math.min(state.session.currentRound, state.session.maxRounds);
  const note = (content: string): NewStepMessage => ({
    round,
    authorType: "system",
    authorName: "system",
    participantId: null,
    content,
  });
  let message: NewStepMessage;
  if (outcome.kind === "answer" && outcome.message.content.length > 0) {
    message = { ...note(""), authorType: "verdict", authorName: outcome.moderator, ...outcome.message };
  } else if (outcome.kind === "answer") {
    // An empty verdict still cost its call: the note carries its accounting.
    message = { ...outcome.message, ...note(texts.verdictFailed(texts.verdictEmpty)) };
  } else {
    message = note(
      outcome.kind === "failure"
        ? texts.verdictFailed(outcome.publicCause)
        : outcome.kind === "no-moderator"
          ? texts.verdictNoModerator
          : texts.verdictOverLimit,
    );
  }
  if (state.session.status !== "running") return { messages: [message], verdictDone: true };
  return {
    messages: [message],
    verdictDone: true,
    cursor: { currentRound: state.session.maxRounds, nextOrderIndex: END_OF_ROUND },
    end: { status: "finished", reason: "max_rounds" },
  };
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
  return {
    messages: [notice(turn, content)],
    participants: [{ id: speaker.id, set: { consecutiveTimeouts: failures } }],
  };
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
  return {
    // A held-back answer is not silent: the chat gets one short line saying so.
    messages: ok
      ? [message]
      : [message, notice(turn, texts.heldBack(speaker.displayName, answer.verdict as "empty" | "repeat"))],
    // Nothing to write for the participant on an ordinary good turn: one round trip fewer.
    participants:
      strikes === speaker.loopStrikes && speaker.consecutiveTimeouts === 0
        ? []
        : [{ id: speaker.id, set: { loopStrikes: strikes, consecutiveTimeouts: 0 } }],
  };
}

/** A step that excludes the speaker (with a notice) and moves on. */
function exclude(
  turn: Turn,
  reason: string,
  content: string,
  before: NewStepMessage[] = [],
  set: ParticipantChange = {},
): Step {
  return {
    messages: [...before, notice(turn, content)],
    participants: [{ id: turn.speaker.id, set: { ...set, status: "excluded", exclusionReason: reason } }],
  };
}

const excludedBy = (step: Step) =>
  new Set(
    (step.participants ?? []).filter((change) => change.set.status === "excluded").map((change) => change.id),
  );

/** Moves the cursor past the speaker (who may just be excluded), to the next round after the last speaker. */
function advance(state: DebateState, speaker: SessionParticipant, round: number, step: Step): Step {
  const without = excludedBy(step);
  const order = speakingOrder(state, round, without);
  const slotOf = (participant: SessionParticipant) =>
    formatOf(state.session.format).slot(
      participant.orderIndex,
      round,
      state.session.maxRounds,
      Math.min(...state.participants.map((p) => p.orderIndex)),
    );
  const mine = slotOf(speaker);
  const next = order.find(({ slot }) => slot > mine);
  if (next) return { ...step, cursor: { currentRound: round, nextOrderIndex: next.slot } };
  return roundOver(state, round, step, without);
}

/**
 * The round is over: the next one starts with its first speaker, or, after the last round, the
 * debate finishes — unless the verdict is due, which the next plan writes.
 */
function roundOver(state: DebateState, round: number, step: Step, without: Set<number>): Step {
  if (round + 1 <= state.session.maxRounds) {
    const first = speakingOrder(state, round + 1, without)[0];
    return { ...step, cursor: { currentRound: round + 1, nextOrderIndex: first?.slot ?? 0 } };
  }
  const cursor = { currentRound: round, nextOrderIndex: END_OF_ROUND };
  if (verdictDue(state)) return { ...step, cursor };
  return { ...step, cursor, end: { status: "finished", reason: "max_rounds" } };
}

/** Moves `state` past `step`, whose rows are `drafts`: what the next decision sees. No I/O. */
export function applyStep(state: DebateState, step: Step, drafts: MessageDraft[]): void {
  state.session = {
    ...state.session,
    ...step.cursor,
    ...(step.end
      ? { status: step.end.status, stopReason: step.end.reason, stopDetail: step.end.detail ?? null }
      : {}),
    ...(step.verdictDone ? { verdictRequestedAt: null } : {}),
  };
  state.messages.push(...drafts);
  state.totals = sumTotals([state.totals, ...drafts]);
  for (const change of step.participants ?? []) {
    const index = state.participants.findIndex((participant) => participant.id === change.id);
    if (index >= 0) state.participants[index] = { ...state.participants[index]!, ...change.set };
  }
}
