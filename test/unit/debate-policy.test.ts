/**
 * The debate's rules without Postgres, Redis or a model: state + outcome → step. Each test builds a
 * state, hands the policy one outcome and checks what it would write.
 */
import { describe, expect, test } from "bun:test";
import type { Session, SessionParticipant } from "../../src/db/schema";
import {
  type AnswerOutcome,
  applyStep,
  type DebateState,
  END_OF_ROUND,
  type FailureOutcome,
  hasCurrentVerdict,
  planTurn,
  stepAfterRound,
  stepAfterTurn,
  TIMED_OUT_TWICE,
  verdictOffered,
  verdictStep,
} from "../../src/debate/debate-policy";
import { expertLabel } from "../../src/debate/formats";
import { draftMessages } from "../../src/debate/step-writer";
import { previousRoundAnonymous } from "../../src/debate/turn-prompt";

const NOW = Date.UTC(2026, 11, 1, 12);

function participant(
  id: number,
  orderIndex: number,
  extra: Partial<SessionParticipant> = {},
): SessionParticipant {
  return {
    id,
    sessionId: "s",
    providerId: id,
    personalityId: null,
    displayName: `P${id}`,
    personaTitle: null,
    orderIndex,
    status: "active",
    exclusionReason: null,
    consecutiveTimeouts: 0,
    loopStrikes: 0,
    ...extra,
  };
}

function state(
  overrides: { session?: Partial<Session>; participants?: SessionParticipant[] } = {},
): DebateState {
  return {
    session: {
      id: "s",
      userId: null,
      chatId: null,
      topic: "Topic",
      status: "running",
      stopReason: null,
      stopDetail: null,
      source: "api",
      language: "en",
      format: "roundtable",
      verdict: false,
      verdictRequestedAt: null,
      resumedAt: null,
      maxRounds: 2,
      currentRound: 1,
      nextOrderIndex: 0,
      limits: {},
      createdAt: new Date(NOW),
      startedAt: new Date(NOW),
      finishedAt: null,
      ...overrides.session,
    },
    limits: {
      turnTimeoutSec: 60,
      sessionTimeoutSec: 1800,
      tokenLimit: 1000,
      costLimitUsd: "1.00",
      contextTokenLimit: 6000,
    },
    participants: overrides.participants ?? [participant(1, 0), participant(2, 1)],
    messages: [],
    totals: { tokensIn: 0, tokensOut: 0, cachedTokens: 0, cost: "0" },
  };
}

const answer = (verdict: AnswerOutcome["verdict"] = "ok", content = "An answer."): AnswerOutcome => ({
  kind: "answer",
  message: { content, tokensIn: 10, tokensOut: 5, cost: "0.00000100" },
  verdict,
});

const failure = (overrides: Partial<FailureOutcome> = {}): FailureOutcome => ({
  kind: "failure",
  timedOut: false,
  retryable: true,
  sessionTimedOut: false,
  publicCause: "network error reaching the provider",
  detail: "network: socket hang up",
  ...overrides,
});

/** Plans, takes the outcome, applies the step: one turn of the debate. */
function turn(debate: DebateState, outcome: Parameters<typeof stepAfterTurn>[3]) {
  const plan = planTurn(debate, NOW);
  if (plan.kind !== "speak") throw new Error("expected a speaker");
  debate.session = { ...debate.session, currentRound: plan.round };
  const step = stepAfterTurn(debate, plan.speaker, plan.round, outcome);
  const first = (debate.messages.at(-1)?.turnIndex ?? -1) + 1;
  applyStep(debate, step, draftMessages(debate.session.id, first, step));
  return { plan, step };
}

describe("who speaks", () => {
  test("participants speak in order_index order, round after round, then the debate finishes", () => {
    const debate = state();
    const speakers: string[] = [];
    for (let index = 0; index < 4; index++) {
      const { plan } = turn(debate, answer("ok", `Answer number ${index} with its own words.`));
      speakers.push(plan.kind === "speak" ? `${plan.speaker.displayName}@${plan.round}` : "?");
    }
    expect(speakers).toEqual(["P1@1", "P2@1", "P1@2", "P2@2"]);
    expect(debate.session).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    expect(debate.messages.map((message) => message.turnIndex)).toEqual([0, 1, 2, 3]);
  });

  test("an excluded speaker is skipped; a round whose last speaker left starts the next one", () => {
    const debate = state({
      participants: [participant(1, 0), participant(2, 1), participant(3, 2, { status: "excluded" })],
      session: { nextOrderIndex: 2 },
    });
    const plan = planTurn(debate, NOW);
    expect(plan).toMatchObject({ kind: "speak", round: 2, speaker: { id: 1 } });
  });
});

describe("stop conditions", () => {
  test("fewer than two participants stops with no_participants, or turn_timeout when the last one left timed out", () => {
    const excluded = participant(2, 1, { status: "excluded", exclusionReason: "provider removed" });
    const debate = state({ participants: [participant(1, 0), excluded] });
    debate.messages.push(
      ...draftMessages("s", 0, {
        messages: [
          { round: 1, authorType: "system", authorName: "system", participantId: 2, content: "gone" },
        ],
      }),
    );
    expect(planTurn(debate, NOW)).toMatchObject({
      kind: "end",
      step: { end: { reason: "no_participants" } },
    });
    debate.participants[1] = { ...excluded, exclusionReason: TIMED_OUT_TWICE };
    expect(planTurn(debate, NOW)).toMatchObject({ kind: "end", step: { end: { reason: "turn_timeout" } } });
  });

  test("token and cost limits, and the session's wall clock, end the debate", () => {
    const tokens = state();
    tokens.totals = { ...tokens.totals, tokensIn: 900, tokensOut: 100 };
    expect(planTurn(tokens, NOW)).toMatchObject({
      step: { end: { status: "stopped", reason: "token_limit" } },
    });
    const cost = state();
    cost.totals = { ...cost.totals, cost: "1.00000000" };
    expect(planTurn(cost, NOW)).toMatchObject({ step: { end: { reason: "cost_limit" } } });
    // A cost limit of 0 means none.
    cost.limits = { ...cost.limits, costLimitUsd: "0" };
    expect(planTurn(cost, NOW).kind).toBe("speak");
    expect(planTurn(state(), NOW + 1800 * 1000)).toMatchObject({
      step: { end: { reason: "session_timeout" } },
    });
  });
});

describe("turn outcomes", () => {
  test("a repeat is held back (flagged) the first time and excludes the second time", () => {
    const debate = state({ participants: [participant(1, 0), participant(2, 1), participant(3, 2)] });
    const first = turn(debate, answer("repeat"));
    expect(first.step.messages[0]).toMatchObject({ authorType: "model", flagged: "repeat" });
    expect(first.step.participants).toEqual([{ id: 1, set: { loopStrikes: 1, consecutiveTimeouts: 0 } }]);
    turn(debate, answer("ok", "P2 speaks."));
    turn(debate, answer("ok", "P3 speaks."));
    const second = turn(debate, answer("empty"));
    expect(second.step.participants?.[0]).toMatchObject({
      id: 1,
      set: { status: "excluded", exclusionReason: "empty answers", loopStrikes: 2 },
    });
    expect(second.step.messages.map((message) => message.authorType)).toEqual(["model", "system"]);
    expect(second.step.messages[1]!.content).toContain("kept repeating itself");
    expect(debate.participants[0]!.status).toBe("excluded");
  });

  test("an ordinary good turn writes no participant change", () => {
    const { step } = turn(state(), answer());
    expect(step.participants).toEqual([]);
    expect(step.cursor).toEqual({ currentRound: 1, nextOrderIndex: 1 });
  });

  test("a retryable failure passes the turn on; the second in a row excludes, naming the real cause", () => {
    const debate = state({ participants: [participant(1, 0), participant(2, 1), participant(3, 2)] });
    const first = turn(debate, failure());
    expect(first.step.messages[0]!.content).toBe(
      "P1 could not answer (network error reaching the provider); the turn passes on.",
    );
    expect(first.step.participants).toEqual([{ id: 1, set: { consecutiveTimeouts: 1 } }]);
    turn(debate, answer("ok", "P2 speaks."));
    turn(debate, answer("ok", "P3 speaks."));
    const second = turn(debate, failure());
    expect(second.step.participants?.[0]?.set).toMatchObject({
      status: "excluded",
      exclusionReason: "failed twice in a row: network: socket hang up",
    });
    // Not "timed out": the chat is told what happened.
    expect(second.step.messages[0]!.content).toContain("network error reaching the provider");
    expect(second.step.messages[0]!.content).not.toContain("timed out");
  });

  test("two timeouts in a row exclude with the timeout reason", () => {
    const debate = state({
      participants: [participant(1, 0, { consecutiveTimeouts: 1 }), participant(2, 1), participant(3, 2)],
    });
    const { step } = turn(debate, failure({ timedOut: true }));
    expect(step.participants?.[0]?.set).toMatchObject({
      status: "excluded",
      exclusionReason: TIMED_OUT_TWICE,
    });
    expect(step.messages[0]!.content).toBe("P1 timed out twice in a row and was excluded from the debate.");
  });

  test("a non-retryable failure excludes at once: the operator's detail in the reason, a generic line in the chat", () => {
    const { step } = turn(
      state(),
      failure({
        retryable: false,
        publicCause: "the provider refused the request (HTTP 403)",
        detail: "403: org-123 blocked",
      }),
    );
    expect(step.participants?.[0]?.set).toMatchObject({
      status: "excluded",
      exclusionReason: "403: org-123 blocked",
    });
    expect(step.messages[0]!.content).toBe(
      "P1 could not answer: the provider refused the request (HTTP 403). It was excluded from the debate.",
    );
    expect(step.messages[0]!.content).not.toContain("org-123");
  });

  test("a failure after the session's deadline ends the debate with session_timeout", () => {
    const { step } = turn(state(), failure({ sessionTimedOut: true }));
    expect(step).toEqual({ messages: [], end: { status: "stopped", reason: "session_timeout" } });
  });

  test("a missing provider excludes the speaker; the last turn of the last round finishes the debate", () => {
    const debate = state({ session: { currentRound: 2, nextOrderIndex: 1 } });
    const { step } = turn(debate, { kind: "provider-missing" });
    expect(step.participants?.[0]).toMatchObject({
      id: 2,
      set: { status: "excluded", exclusionReason: "provider removed" },
    });
    expect(step.end).toEqual({ status: "finished", reason: "max_rounds" });
  });
});

/** Plays a whole sequential debate with good answers; the speakers as `name@round`. */
function play(debate: DebateState, limit = 50) {
  const speakers: string[] = [];
  for (let index = 0; index < limit && debate.session.status === "running"; index++) {
    const plan = planTurn(debate, NOW);
    if (plan.kind !== "speak") break;
    turn(debate, answer("ok", `Answer ${index} in words of its own.`));
    speakers.push(`${plan.speaker.displayName}@${plan.round}`);
  }
  return speakers;
}

const three = () => [participant(1, 0), participant(2, 1), participant(3, 2)];

describe("formats", () => {
  test("pro_contra keeps the fixed order, round after round", () => {
    const debate = state({ session: { format: "pro_contra" } });
    expect(play(debate)).toEqual(["P1@1", "P2@1", "P1@2", "P2@2"]);
    expect(debate.session).toMatchObject({ status: "finished", stopReason: "max_rounds" });
  });

  test("socratic: the questioner opens each round but the last, where it speaks after the answers", () => {
    const debate = state({ session: { format: "socratic", maxRounds: 3 }, participants: three() });
    expect(play(debate)).toEqual(["P1@1", "P2@1", "P3@1", "P1@2", "P2@2", "P3@2", "P2@3", "P3@3", "P1@3"]);
    expect(debate.session).toMatchObject({ status: "finished", stopReason: "max_rounds" });
  });

  test("socratic: a questioner excluded in the last round still lets the answers finish", () => {
    const debate = state({ session: { format: "socratic", maxRounds: 1 }, participants: three() });
    expect(planTurn(debate, NOW)).toMatchObject({ kind: "speak", speaker: { id: 2 } });
    turn(debate, answer("ok", "First answer here."));
    turn(debate, answer("ok", "Second answer here."));
    const { step } = turn(debate, { kind: "provider-missing" });
    expect(step.end).toEqual({ status: "finished", reason: "max_rounds" });
  });

  test("delphi: every active participant answers a round at once; the round is one step", () => {
    const excluded = participant(3, 2, { status: "excluded" });
    const debate = state({
      session: { format: "delphi" },
      participants: [participant(1, 0), participant(2, 1), excluded],
    });
    const plan = planTurn(debate, NOW);
    expect(plan).toMatchObject({ kind: "round", round: 1 });
    if (plan.kind !== "round") throw new Error("expected a round");
    expect(plan.speakers.map((speaker) => speaker.id)).toEqual([1, 2]);
    const step = stepAfterRound(debate, 1, [
      { speaker: plan.speakers[0]!, outcome: answer("ok", "One view.") },
      { speaker: plan.speakers[1]!, outcome: failure() },
    ]);
    expect(step.messages.map((message) => [message.authorType, message.participantId])).toEqual([
      ["model", 1],
      ["system", 2],
    ]);
    expect(step.participants).toEqual([{ id: 2, set: { consecutiveTimeouts: 1 } }]);
    expect(step.cursor).toEqual({ currentRound: 2, nextOrderIndex: 0 });
    expect(step.end).toBeUndefined();
    // The last round's step finishes the debate (no verdict asked for here).
    const last = stepAfterRound({ ...debate, session: { ...debate.session, currentRound: 2 } }, 2, [
      { speaker: plan.speakers[0]!, outcome: answer("ok", "Revised view.") },
      { speaker: plan.speakers[1]!, outcome: answer("ok", "Revised too.") },
    ]);
    expect(last.end).toEqual({ status: "finished", reason: "max_rounds" });
  });

  test("delphi: a round that excludes all but one ends the debate at the next plan", () => {
    const debate = state({ session: { format: "delphi", maxRounds: 3 } });
    const plan = planTurn(debate, NOW);
    if (plan.kind !== "round") throw new Error("expected a round");
    const step = stepAfterRound(debate, 1, [
      { speaker: plan.speakers[0]!, outcome: answer("ok", "Still here.") },
      { speaker: plan.speakers[1]!, outcome: { kind: "provider-missing" } },
    ]);
    applyStep(debate, step, draftMessages("s", 0, step));
    expect(planTurn(debate, NOW)).toMatchObject({
      kind: "end",
      step: { end: { reason: "no_participants" } },
    });
  });

  test("delphi prompts: the previous round only, the others as Expert A/B/…, the moderator's questions kept", () => {
    const debate = state({ session: { format: "delphi" }, participants: three() });
    const rows = draftMessages("s", 0, {
      messages: [
        { round: 1, authorType: "model", authorName: "P1", participantId: 1, content: "r1 p1" },
        { round: 1, authorType: "model", authorName: "P2", participantId: 2, content: "r1 p2" },
        { round: 1, authorType: "model", authorName: "P3", participantId: 3, content: "r1 p3" },
        { round: 1, authorType: "user", authorName: "User", participantId: null, content: "Why?" },
        { round: 2, authorType: "model", authorName: "P1", participantId: 1, content: "r2 p1" },
      ],
    });
    debate.messages.push(...rows);
    const seen = previousRoundAnonymous(debate, { id: 2 }, 2);
    expect(
      seen.map((turn) => [turn.authorName, turn.participantId, turn.content, turn.interjection]),
    ).toEqual([
      ["Expert A", null, "r1 p1", false],
      ["P2", 2, "r1 p2", false],
      ["Expert C", null, "r1 p3", false],
      ["User", null, "Why?", true],
    ]);
    // Round 1 sees no answer at all: nothing came before it.
    expect(previousRoundAnonymous({ ...debate, messages: rows.slice(0, 3) }, { id: 1 }, 1)).toEqual([]);
    expect([expertLabel(0), expertLabel(25), expertLabel(26)]).toEqual(["Expert A", "Expert Z", "Expert AA"]);
  });
});

describe("verdict", () => {
  const judged = () => state({ session: { verdict: true, maxRounds: 1 } });

  test("after the last round the verdict is due; its step writes the row and finishes the debate", () => {
    const debate = judged();
    // Nothing to judge yet: no verdict is offered.
    expect(verdictOffered(debate.messages)).toBe(false);
    turn(debate, answer("ok", "First view."));
    const { step } = turn(debate, answer("ok", "Second view."));
    // The last turn does not end the debate: it leaves the cursor past the round for the verdict.
    expect(step.end).toBeUndefined();
    expect(step.cursor).toEqual({ currentRound: 1, nextOrderIndex: END_OF_ROUND });
    expect(planTurn(debate, NOW)).toEqual({ kind: "verdict", round: 1 });
    const verdict = verdictStep(debate, {
      kind: "answer",
      moderator: "P1",
      message: { content: "## Consensus\nlow", tokensIn: 50, tokensOut: 20, cost: "0.00000300" },
    });
    expect(verdict).toEqual({
      messages: [
        {
          round: 1,
          authorType: "verdict",
          authorName: "P1",
          participantId: null,
          content: "## Consensus\nlow",
          tokensIn: 50,
          tokensOut: 20,
          cost: "0.00000300",
        },
      ],
      verdictDone: true,
      cursor: { currentRound: 1, nextOrderIndex: END_OF_ROUND },
      end: { status: "finished", reason: "max_rounds" },
    });
    expect(verdictOffered(debate.messages)).toBe(true);
    applyStep(debate, verdict, draftMessages("s", 2, verdict));
    expect(hasCurrentVerdict(debate)).toBe(true);
    expect(verdictOffered(debate.messages)).toBe(false);
    // More turns (a continued debate) make it stale.
    debate.messages.push(
      ...draftMessages("s", 3, {
        messages: [{ round: 2, authorType: "model", authorName: "P1", participantId: 1, content: "More." }],
      }),
    );
    expect(hasCurrentVerdict(debate)).toBe(false);
    // A continued debate can have a new verdict on its new turns.
    expect(verdictOffered(debate.messages)).toBe(true);
  });

  test("a failed, empty or unaffordable verdict leaves a note and the debate still finishes", () => {
    const debate = judged();
    turn(debate, answer("ok", "First view."));
    turn(debate, answer("ok", "Second view."));
    const failed = verdictStep(debate, {
      kind: "failure",
      publicCause: "the provider is unavailable (HTTP 503)",
    });
    expect(failed.messages[0]).toMatchObject({
      authorType: "system",
      content: "The moderator's verdict could not be written (the provider is unavailable (HTTP 503)).",
    });
    expect(failed.end).toEqual({ status: "finished", reason: "max_rounds" });
    const empty = verdictStep(debate, {
      kind: "answer",
      moderator: "P1",
      message: { content: "", tokensIn: 9, tokensOut: 0, cost: "0.00000100" },
    });
    // The empty call's cost stays accounted, on the note.
    expect(empty.messages[0]).toMatchObject({ authorType: "system", tokensIn: 9, cost: "0.00000100" });
    expect(verdictStep(debate, { kind: "no-moderator" }).messages[0]!.content).toContain(
      "no model is available",
    );
    // Over the cost limit after the last round: no verdict call, the debate finishes with a note.
    debate.totals = { ...debate.totals, cost: "5.00000000" };
    expect(planTurn(debate, NOW)).toMatchObject({
      kind: "end",
      step: {
        messages: [
          {
            authorType: "system",
            content: "The moderator's verdict was not written: the spending limit is reached.",
          },
        ],
        end: { status: "finished", reason: "max_rounds" },
      },
    });
  });

  test("an ended debate asked for a verdict plans only the verdict, and its step keeps the outcome", () => {
    const debate = state({
      session: { status: "stopped", stopReason: "user", verdictRequestedAt: new Date(NOW), currentRound: 2 },
    });
    expect(planTurn(debate, NOW + 10 * 3600_000)).toEqual({ kind: "verdict", round: 2 });
    const step = verdictStep(debate, { kind: "no-moderator" });
    expect(step.end).toBeUndefined();
    expect(step.verdictDone).toBe(true);
    applyStep(debate, step, draftMessages("s", 0, step));
    expect(debate.session).toMatchObject({ status: "stopped", stopReason: "user", verdictRequestedAt: null });
  });

  test("a continued debate's wall clock counts from when it went on", () => {
    const debate = state({
      session: { startedAt: new Date(NOW - 3600_000), resumedAt: new Date(NOW - 60_000) },
    });
    expect(planTurn(debate, NOW).kind).toBe("speak");
    debate.session = { ...debate.session, resumedAt: null };
    expect(planTurn(debate, NOW)).toMatchObject({ step: { end: { reason: "session_timeout" } } });
  });
});
