import type { Message, Provider, SessionParticipant } from "../db/schema";
import type { ChatModel, ChatResult } from "../llm/chat-model";
import { LlmError, publicFailureLine } from "../llm/llm-errors";
import type { Logger } from "../platform/logger";
import type { DailyBudgetSource, DailyBudgetTracker } from "./daily-budget";
import type { DebateEvent, DebateEventBus } from "./debate-events";
import { type TurnObserver, turnOutcomeLabel } from "./debate-observer";
import {
  applyStep,
  type FailureOutcome,
  planTurn,
  runStartedAt,
  stepAfterRound,
  stepAfterTurn,
  type TurnOutcome,
  type VerdictOutcome,
  verdictStep,
} from "./debate-policy";
import { formatOf } from "./formats";
import { judgeAnswer, shinglesOf } from "./loop-guard";
import type { ProviderSource } from "./provider-cache";
import { type SessionReader, sumTotals } from "./session-reader";
import type { SessionStore, Speaker } from "./session-store";
import {
  draftMessages,
  InterjectionsAhead,
  type MessageDraft,
  SessionMovedOn,
  type Step,
  type StepWrite,
} from "./step-writer";
import type { SessionLimits } from "./stop-conditions";
import { accounted, createTurnPrompter, type PromptState, storableText } from "./turn-prompt";
import { buildVerdictRequest, type ModeratorSource, VERDICT_MAX_TOKENS } from "./verdict";

/** How many recent turns the loop guard compares an answer with, per participant. */
const RECENT_TURNS_PER_PARTICIPANT = 2;

export interface TurnRunnerDeps {
  reader: SessionReader;
  /** The lifecycle owner: every step is written and announced through it. */
  store: SessionStore;
  logger: Logger;
  /** Provider rows as they are now: a key, model or price edited in the admin applies from the next turn. */
  providers: ProviderSource;
  /** The chat model for a provider row (decrypts its key; cached by the caller). */
  modelFor: (provider: Provider) => ChatModel;
  now?: () => number;
  /** Minimum gap between two `turn-delta` events of one turn; 0 turns deltas off. */
  deltaIntervalMs?: number;
  /** Told of every LLM call and turn (metrics). */
  observer?: TurnObserver;
  /** The daily budgets of public debates (none: no daily budget applies). */
  budgets?: DailyBudgetSource;
  /** Interjections stored while a run holds its session reach it here, before the next prompt is built. */
  events?: Pick<DebateEventBus, "subscribe">;
  /** The provider whose model writes verdicts (none: a verdict says it could not be written). */
  moderator?: ModeratorSource;
}

/** How a run ended: the session is over, someone else owns it now, or this run was asked to stop. */
export type RunOutcome = "ended" | "not-running" | "aborted";

/** In-memory state of a session while this process holds its lease. Postgres stays the truth. */
interface RunState extends PromptState {
  /** Settles once every step issued so far is written; rejects once one failed. */
  writes: Promise<unknown>;
  /** The previous turn's write and announcement, when the next turn did not wait for it. */
  deferred: Promise<void> | null;
  /** Aborted, with the error as reason, when a write the run did not wait for fails. */
  writeFailed: AbortController;
  /** Loop-guard shingles of recent turns, by text: each answer is shingled once. */
  shingles: Map<string, ReadonlySet<string>>;
  /** The session's daily budgets, kept up to date with this run's own costs. */
  budget: DailyBudgetTracker | null;
  /**
   * The highest turn index known to be stored (this run's writes, and interjections). Each step's
   * rows are numbered from it when their write goes out, not when the step is made: an interjection
   * stored meanwhile takes the next index, and the step follows it.
   */
  stored: number;
  /** How many rows at the end of `messages` are still to be written. */
  unwritten: number;
  /** Ids of the interjections in `messages`. */
  interjections: Set<number>;
}

const speakerOf = (participant: SessionParticipant): Speaker => ({
  id: participant.id,
  name: participant.displayName,
});

/**
 * The I/O pipeline of a debate: load the state, ask the policy who speaks, call the model, hand the
 * outcome to the policy, write (and announce) the step it returns through the store. A turn is
 * written exactly once: each step is one statement guarded by `status = 'running'` and the unique
 * `(session_id, turn_index)`. The next speaker's call starts while the previous turn's write lands
 * (at most one write in flight); if that write fails, the call is aborted and the run ends, and a
 * new run reloads from Postgres.
 */
export function createTurnRunner(deps: TurnRunnerDeps) {
  const { reader, store, logger, modelFor } = deps;
  const now = deps.now ?? Date.now;
  const deltaIntervalMs = deps.deltaIntervalMs ?? 250;

  /** The runs this process holds, by session: where interjection events are routed. */
  const live = new Map<string, RunState>();
  deps.events?.subscribe((event) => {
    if (event.type !== "message-created" || event.authorType !== "user") return;
    const state = live.get(event.sessionId);
    if (state) takeInterjection(state, interjectionRow(event));
  });

  async function load(sessionId: string): Promise<RunState | null> {
    const { session, participants, messages, personas } = await reader.run(sessionId);
    // Running, or ended with a verdict asked for (run once more for it alone).
    if (session?.status !== "running" && !session?.verdictRequestedAt) return null;
    const totals = sumTotals(messages);
    return {
      session,
      limits: session.limits as unknown as SessionLimits,
      participants,
      messages,
      totals,
      budget: deps.budgets ? await deps.budgets.track(session, totals.cost) : null,
      writes: Promise.resolve(),
      deferred: null,
      writeFailed: new AbortController(),
      // Every persona of the batch: only this session's participants' are ever looked up.
      personas: new Map(personas.map((row) => [row.id, row])),
      systemPrompts: new Map(),
      shingles: new Map(),
      stored: messages.at(-1)?.turnIndex ?? -1,
      unwritten: 0,
      interjections: new Set(messages.filter((row) => row.authorType === "user").map((row) => row.id)),
    };
  }

  /**
   * Takes in an interjection stored while this run holds the session (announced, or found where a
   * write meant to go): it goes before the rows still to be written — the next prompt built sees it —
   * and those rows are numbered after it when their write goes out.
   */
  function takeInterjection(state: RunState, row: MessageDraft & { id: number }) {
    if (state.interjections.has(row.id)) return;
    state.interjections.add(row.id);
    state.messages.splice(state.messages.length - state.unwritten, 0, row);
    state.stored = Math.max(state.stored, row.turnIndex);
  }

  /** Writes a step after everything this run stored, again after any interjection found in its way. */
  async function writeStep(
    state: RunState,
    write: StepWrite,
    context: Parameters<SessionStore["commit"]>[1],
  ) {
    for (;;) {
      write.drafts.forEach((draft, offset) => {
        draft.turnIndex = state.stored + 1 + offset;
      });
      try {
        const written = await store.commit(write, context);
        state.unwritten -= write.drafts.length;
        state.stored = Math.max(state.stored, write.drafts.at(-1)?.turnIndex ?? -1);
        return written;
      } catch (error) {
        if (!(error instanceof InterjectionsAhead)) throw error;
        for (const row of error.rows) takeInterjection(state, row);
      }
    }
  }

  /**
   * Applies a step to the in-memory state at once and writes it after the steps issued before it;
   * resolves with the rows as stored once they are announced. When a write fails the run is over and
   * a new run reloads from Postgres, so what was applied here is never seen outside this run.
   */
  function commit(
    state: RunState,
    step: Step,
    speakers: readonly SessionParticipant[] = [],
  ): Promise<Message[]> {
    const firstIndex = (state.messages.at(-1)?.turnIndex ?? -1) + 1;
    const drafts = draftMessages(state.session.id, firstIndex, step);
    applyStep(state, step, drafts);
    state.unwritten += drafts.length;
    const after = { session: state.session, totals: state.totals };
    const written = state.writes.then(() =>
      writeStep(
        state,
        { sessionId: state.session.id, step, drafts },
        { speakers: speakers.map(speakerOf), after },
      ),
    );
    state.writes = written;
    return written.then((result) => {
      if (step.end) state.session = { ...state.session, finishedAt: result.finishedAt };
      return result.messages;
    });
  }

  function logCall(
    state: PromptState,
    provider: Provider,
    kind: "turn" | "summary" | "verdict",
    result: ChatResult,
  ) {
    logger.info("llm call", {
      session: state.session.id,
      kind,
      provider: provider.name,
      model: result.model,
      tokens_in: result.usage.input,
      tokens_out: result.usage.output,
      cached_tokens: result.usage.cachedInput,
      cost_usd: result.costUsd,
      latency_ms: result.latencyMs,
      estimated: result.usage.estimated,
      attempts: result.attempts,
    });
  }

  /** `model` with each call's end (success or the failure's kind) reported to the observer. */
  function observed(model: ChatModel, provider: Provider, kind: "turn" | "summary" | "verdict"): ChatModel {
    const { observer } = deps;
    if (!observer) return model;
    return {
      provider: model.provider,
      async complete(request) {
        const startedAt = now();
        try {
          const result = await model.complete(request);
          observer.llmCall({
            provider: provider.name,
            kind,
            outcome: "success",
            durationMs: result.latencyMs,
            usage: result.usage,
            costUsd: result.costUsd,
          });
          return result;
        } catch (error) {
          const outcome = error instanceof LlmError ? error.kind : "unknown";
          observer.llmCall({ provider: provider.name, kind, outcome, durationMs: now() - startedAt });
          throw error;
        }
      },
    };
  }

  const preparePrompt = createTurnPrompter({
    logger,
    now,
    logCall,
    commitSummary: async (state, step) => (await commit(state as RunState, step))[0]!,
  });

  /** The loop guard's verdict on an answer, against the recent turns (shingled once each). */
  function judge(state: RunState, answer: string) {
    if (!formatOf(state.session.format).repeatGuard) return judgeAnswer(answer, []);
    const recent = state.messages
      .filter((message) => message.authorType === "model" && !message.flagged)
      .slice(-RECENT_TURNS_PER_PARTICIPANT * state.participants.length)
      .map((message) => message.content);
    const verdict = judgeAnswer(answer, recent, (text) => {
      const known = state.shingles.get(text);
      if (known) return known;
      const shingles = shinglesOf(text);
      state.shingles.set(text, shingles);
      return shingles;
    });
    // Keep what the next turn compares with: the recent turns and this answer.
    for (const text of state.shingles.keys()) {
      if (text !== answer && !recent.includes(text)) state.shingles.delete(text);
    }
    return verdict;
  }

  /** Calls the speaker's model and reduces what happened to an outcome for the policy. */
  async function callModel(
    state: RunState,
    speaker: SessionParticipant,
    round: number,
    provider: Provider,
    signal: AbortSignal,
    /** Position among the calls of a parallel round (their rows follow one another). */
    offset: number,
  ): Promise<TurnOutcome> {
    const model = modelFor(provider);
    const turnIndex = (state.messages.at(-1)?.turnIndex ?? -1) + 1 + offset;
    // Not awaited: the LLM call need not wait for Redis. Events go out in order on one connection,
    // and this turn's wait for the previous turn's (whose write may still be landing).
    const turnStart = {
      sessionId: state.session.id,
      round,
      turnIndex,
      participantId: speaker.id,
      name: speaker.displayName,
    };
    let previousAnnounced = state.deferred === null;
    if (state.deferred) {
      state.deferred.then(
        () => {
          previousAnnounced = true;
          void store.turnStarted(turnStart);
        },
        () => {},
      );
    } else void store.turnStarted(turnStart);
    const sessionDeadline = runStartedAt(state.session, now()) + state.limits.sessionTimeoutSec * 1000;
    const turnDeadline = Math.min(now() + state.limits.turnTimeoutSec * 1000, sessionDeadline);
    const turnSignal = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, turnDeadline - now()))]);
    try {
      const prompt = await preparePrompt({
        state,
        speaker,
        round,
        model: observed(model, provider, "summary"),
        provider,
        signal: turnSignal,
        turnDeadline,
      });
      let streamed = "";
      // The first delta waits one interval too: short answers go out whole with turn-end.
      let lastDeltaAt = now();
      const result = await observed(model, provider, "turn").complete({
        messages: prompt,
        signal: turnSignal,
        deadlineMs: turnDeadline,
        onRetry: () => {
          streamed = "";
        },
        onDelta: (text) => {
          streamed += text;
          if (!previousAnnounced || deltaIntervalMs <= 0 || now() - lastDeltaAt < deltaIntervalMs) return;
          lastDeltaAt = now();
          void store.turnDelta({
            sessionId: state.session.id,
            // After a summary row, if this turn made one.
            turnIndex: (state.messages.at(-1)?.turnIndex ?? -1) + 1 + offset,
            participantId: speaker.id,
            text: streamed,
          });
        },
      });
      logCall(state, provider, "turn", result);
      return { kind: "answer", message: accounted(result), verdict: judge(state, storableText(result.text)) };
    } catch (error) {
      if (signal.aborted || error instanceof SessionMovedOn || !(error instanceof LlmError)) throw error;
      logger.warn("turn failed", {
        session: state.session.id,
        provider: provider.name,
        code: error.code,
        status: error.status,
        message: error.message,
      });
      return failureOutcome(error, now() >= sessionDeadline, state.session.language);
    }
  }

  /** One participant's call in `round`, reduced to an outcome for the policy. */
  async function outcomeOf(
    state: RunState,
    speaker: SessionParticipant,
    round: number,
    signal: AbortSignal,
    offset = 0,
  ): Promise<TurnOutcome> {
    // Read each turn: a key, model or price edited in the admin applies from the next turn on.
    const provider = speaker.providerId === null ? undefined : await deps.providers.get(speaker.providerId);
    const outcome: TurnOutcome = provider
      ? await callModel(state, speaker, round, provider, signal, offset)
      : { kind: "provider-missing" };
    deps.observer?.turn({
      provider: provider?.name ?? speaker.displayName,
      outcome: turnOutcomeLabel(outcome),
    });
    return outcome;
  }

  async function runTurn(state: RunState, speaker: SessionParticipant, round: number, signal: AbortSignal) {
    const outcome = await outcomeOf(state, speaker, round, signal);
    const step = stepAfterTurn(state, speaker, round, outcome);
    // Steps that end the debate or exclude someone are awaited; an ordinary answer is not.
    const excludes = step.participants?.some((change) => change.set.status === "excluded");
    if (outcome.kind !== "answer" || step.end || excludes) {
      await commit(state, step, [speaker]);
      return;
    }
    // At most one turn ahead of the database: the previous turn's write has landed before this one's
    // goes out (normally long ago, during this turn's call), so a crash loses at most two turns' work.
    await state.deferred;
    // The next turn does not wait for this write: it starts from the in-memory state, and is aborted
    // if the write fails. Its events wait for this turn's announcement.
    const announced = commit(state, step, [speaker]).then(() => {});
    state.deferred = announced;
    announced.catch((error: unknown) => state.writeFailed.abort(error));
  }

  /**
   * A round of a parallel format: every speaker's call at once, each from the state as the round
   * began (none sees another's answer of this round), written as one step.
   */
  async function runRound(
    state: RunState,
    speakers: SessionParticipant[],
    round: number,
    signal: AbortSignal,
  ) {
    const outcomes = await Promise.all(
      speakers.map(async (speaker, offset) => ({
        speaker,
        outcome: await outcomeOf(state, speaker, round, signal, offset),
      })),
    );
    await commit(state, stepAfterRound(state, round, outcomes), speakers);
  }

  /** The moderator's verdict: one call over the whole transcript, then the step that ends the debate. */
  async function runVerdict(state: RunState, signal: AbortSignal) {
    const provider = deps.moderator ? await deps.moderator() : null;
    let outcome: VerdictOutcome = { kind: "no-moderator" };
    if (provider) {
      const deadline = now() + state.limits.turnTimeoutSec * 1000;
      try {
        const result = await observed(modelFor(provider), provider, "verdict").complete({
          messages: buildVerdictRequest({
            topic: state.session.topic,
            language: state.session.language,
            format: state.session.format,
            participants: state.participants.map((participant) => ({
              name: participant.displayName,
              personaTitle: participant.personaTitle,
              excluded: participant.status === "excluded",
            })),
            messages: state.messages,
            contextTokenLimit: state.limits.contextTokenLimit,
          }),
          signal: AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, deadline - now()))]),
          deadlineMs: deadline,
          maxTokens: VERDICT_MAX_TOKENS,
        });
        logCall(state, provider, "verdict", result);
        outcome = { kind: "answer", moderator: provider.name, message: accounted(result) };
      } catch (error) {
        if (signal.aborted || !(error instanceof LlmError)) throw error;
        // The debate is not lost for a failed verdict: it ends as it would have, with a note.
        logger.warn("verdict failed", {
          session: state.session.id,
          provider: provider.name,
          code: error.code,
        });
        outcome = {
          kind: "failure",
          publicCause: publicFailureLine(error, state.session.language === "en" ? "en" : "ru"),
        };
      }
    }
    await commit(state, verdictStep(state, outcome));
  }

  /** Runs turns until the session ends or `signal` aborts. */
  async function runTurns(state: RunState, signal: AbortSignal): Promise<RunOutcome> {
    while (!signal.aborted) {
      // Ended (by its last step, or once its requested verdict is in).
      if (state.session.status !== "running" && !state.session.verdictRequestedAt) return "ended";
      state.dailyBudgets = state.budget?.current(state.totals.cost);
      const plan = planTurn(state, now());
      if (plan.kind === "end") {
        await commit(state, plan.step);
        continue;
      }
      if (plan.kind === "verdict") {
        await runVerdict(state, signal);
        continue;
      }
      // The round may have moved on past an excluded last speaker (the cursor is written with the step).
      state.session = { ...state.session, currentRound: plan.round };
      if (plan.kind === "round") await runRound(state, plan.speakers, plan.round, signal);
      else await runTurn(state, plan.speaker, plan.round, signal);
    }
    return "aborted";
  }

  return {
    /** Runs `sessionId` until it ends or `signal` aborts. */
    async run(sessionId: string, signal: AbortSignal): Promise<RunOutcome> {
      const state = await load(sessionId);
      if (!state) return "not-running";
      // The turn in flight also stops when the write of the turn before it fails.
      const runSignal = AbortSignal.any([signal, state.writeFailed.signal]);
      live.set(sessionId, state);
      try {
        const outcome = await runTurns(state, runSignal);
        // Every write has landed before the caller gives the session up.
        await state.writes;
        return outcome;
      } catch (error) {
        await state.writes.catch(() => {});
        const cause = state.writeFailed.signal.aborted ? state.writeFailed.signal.reason : error;
        if (cause instanceof SessionMovedOn) return "not-running";
        if (signal.aborted) return "aborted";
        throw cause;
      } finally {
        if (live.get(sessionId) === state) live.delete(sessionId);
      }
    },
  };
}

/** A provider failure as the policy sees it: timed out or failed, retryable or not, and its causes. */
function failureOutcome(error: LlmError, sessionTimedOut: boolean, language: string): FailureOutcome {
  const timedOut = error.code === "timeout" || error.code === "aborted";
  return {
    kind: "failure",
    timedOut,
    retryable: error.isRetryable || timedOut,
    sessionTimedOut,
    publicCause: publicFailureLine(error, language === "en" ? "en" : "ru"),
    detail: `${error.status ?? error.code}: ${error.message}`.slice(0, 300),
  };
}

export type TurnRunner = ReturnType<typeof createTurnRunner>;

/** An interjection as its `message-created` event carries it: the row the run takes in. */
function interjectionRow(
  event: Extract<DebateEvent, { type: "message-created" }>,
): MessageDraft & { id: number } {
  return {
    id: event.messageId,
    sessionId: event.sessionId,
    turnIndex: event.turnIndex,
    round: event.round,
    authorType: "user",
    authorName: event.authorName,
    participantId: null,
    content: event.content,
    tokensIn: 0,
    tokensOut: 0,
    cachedTokens: 0,
    cost: "0",
    latencyMs: null,
    estimated: false,
    flagged: null,
    summaryUntil: null,
  };
}
