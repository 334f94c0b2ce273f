import { asc, inArray, sql } from "drizzle-orm";
import {
  type Message,
  messages,
  type Personality,
  type Provider,
  personalities,
  type Session,
  type SessionParticipant,
  type StopReason,
  sessionParticipants,
  sessions,
} from "../db/schema";
import type { ChatMessage, ChatModel, ChatResult } from "../llm/chat-model";
import { LlmError } from "../llm/llm-errors";
import { createBatcher } from "../platform/batcher";
import type { Db } from "../platform/db";
import type { Logger } from "../platform/logger";
import { buildSummaryRequest, fitMessages, planCompression } from "./context-compression";
import type { DebateEvent, DebateEventBus, SessionTotals } from "./debate-events";
import { sumTotals } from "./debate-service";
import { debateTexts } from "./debate-texts";
import { judgeAnswer, MAX_LOOP_STRIKES, shinglesOf } from "./loop-guard";
import {
  buildPromptMessages,
  buildSystemPrompt,
  messageTokens,
  type PromptParticipant,
  type PromptTurn,
  promptTokensBound,
  turnCall,
} from "./prompt";
import type { ProviderSource } from "./provider-cache";
import {
  createStepWriter,
  draftMessages,
  type MessageDraft,
  type ParticipantChange,
  SessionMovedOn,
  type Step,
} from "./step-writer";
import { type SessionLimits, shouldStop } from "./stop-conditions";

/** The exclusion reason of a participant whose turns timed out twice in a row. */
const TIMED_OUT_TWICE = "timed out twice in a row";
/** Consecutive failed turns (timeouts or exhausted retries) after which a participant is excluded. */
const MAX_CONSECUTIVE_FAILURES = 2;
/** How many recent turns the loop guard compares an answer with, per participant. */
const RECENT_TURNS_PER_PARTICIPANT = 2;
/** The summary call may take 1/SUMMARY_SHARE_OF_TURN of the time left in the turn. */
const SUMMARY_SHARE_OF_TURN = 2;

export interface TurnRunnerDeps {
  db: Db;
  events: DebateEventBus;
  logger: Logger;
  /** Provider rows as they are now: a key, model or price edited in the admin applies from the next turn. */
  providers: ProviderSource;
  /** The chat model for a provider row (decrypts its key; cached by the caller). */
  modelFor: (provider: Provider) => ChatModel;
  now?: () => number;
  /** Minimum gap between two `turn-delta` events of one turn; 0 turns deltas off. */
  deltaIntervalMs?: number;
}

/** How a run ended: the session is over, someone else owns it now, or this run was asked to stop. */
export type RunOutcome = "ended" | "not-running" | "aborted";

/** The columns every LLM call fills in its message row: the text and its accounting. */
function accounted(result: ChatResult) {
  return {
    content: storableText(result.text),
    tokensIn: result.usage.input,
    tokensOut: result.usage.output,
    cachedTokens: result.usage.cachedInput,
    cost: result.costUsd,
    latencyMs: result.latencyMs,
    estimated: result.usage.estimated,
  };
}

/**
 * Model text as Postgres can store it: a text column refuses NUL, and a failed write would crash
 * the run, which the scheduler retries with a fresh (billed) call, again and again.
 */
function storableText(text: string): string {
  return text.replaceAll("\u0000", "").trim();
}

/**
 * Why a debate ran out of participants: `turn_timeout` when the last one excluded had timed out
 * twice in a row. Read from the participants and messages, so a run resumed after a crash between
 * that exclusion and the end says the same.
 */
function noParticipantsReason(state: Pick<RunState, "participants" | "messages">): StopReason {
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

/** In-memory state of a session while this process holds its lease. Postgres stays the truth. */
interface RunState {
  session: Session;
  limits: SessionLimits;
  participants: SessionParticipant[];
  /** Every message so far, including those of steps whose write has not landed yet. */
  messages: MessageDraft[];
  /** Settles once every step issued so far is written; rejects once one failed. */
  writes: Promise<unknown>;
  /** The previous turn's write and announcement, when the next turn did not wait for it. */
  deferred: Promise<void> | null;
  /** Aborted, with the error as reason, when a write the run did not wait for fails. */
  writeFailed: AbortController;
  /** Tokens and cost of `messages`, kept up to date by each commit. */
  totals: SessionTotals;
  personas: Map<number, Personality>;
  systemPrompts: Map<number, string>;
  /** Loop-guard shingles of recent turns, by text: each answer is shingled once. */
  shingles: Map<string, ReadonlySet<string>>;
}

/**
 * Runs a session's turns until it ends, `signal` aborts (stop requested, lease lost, shutdown),
 * or the session is no longer running. Each step is one statement guarded by `status = 'running'`
 * and the unique `(session_id, turn_index)`: a turn is written exactly once. The next speaker's call
 * starts while the previous turn's write lands (at most one write in flight); if it fails, the call
 * is aborted and the run ends, and a new run reloads from Postgres.
 */
export function createTurnRunner(deps: TurnRunnerDeps) {
  const { db, events, logger, modelFor } = deps;
  const now = deps.now ?? Date.now;
  const deltaIntervalMs = deps.deltaIntervalMs ?? 250;
  const tokenCache = new Map<string, number>();

  const tokensOfText = (text: string) => {
    // Contents repeat across turns (history is resent): count each distinct text once.
    const cached = tokenCache.get(text);
    if (cached !== undefined) return cached;
    const value = messageTokens(text);
    if (tokenCache.size > 50_000) tokenCache.clear();
    tokenCache.set(text, value);
    return value;
  };

  const writeStep = createStepWriter(db);
  const publish = (event: DebateEvent) =>
    events
      .publish(event)
      .catch((error: unknown) => logger.warn("event publish failed", { error, type: event.type }));

  // Runs start in bursts (a wave of starts, or a restart resuming every debate): the runs starting
  // in the same event-loop turn load together, four prepared queries for all of them.
  const idsParam = sql.placeholder("ids");
  const loadQueries = {
    sessions: db
      .select()
      .from(sessions)
      .where(sql`${sessions.id} = any(${idsParam})`)
      .prepare("run_sessions"),
    participants: db
      .select()
      .from(sessionParticipants)
      .where(sql`${sessionParticipants.sessionId} = any(${idsParam})`)
      .orderBy(asc(sessionParticipants.orderIndex))
      .prepare("run_participants"),
    messages: db
      .select()
      .from(messages)
      .where(sql`${messages.sessionId} = any(${idsParam})`)
      .orderBy(asc(messages.turnIndex))
      .prepare("run_messages"),
    personas: db
      .select()
      .from(personalities)
      .where(
        inArray(
          personalities.id,
          db
            .select({ id: sessionParticipants.personalityId })
            .from(sessionParticipants)
            .where(sql`${sessionParticipants.sessionId} = any(${idsParam})`),
        ),
      )
      .prepare("run_personas"),
  };
  const loadRows = createBatcher(async (sessionIds: string[]) => {
    const ids = [...new Set(sessionIds)];
    const [sessionRows, participantRows, messageRows, personaRows] = await Promise.all([
      loadQueries.sessions.execute({ ids }),
      loadQueries.participants.execute({ ids }),
      loadQueries.messages.execute({ ids }),
      loadQueries.personas.execute({ ids }),
    ]);
    const participantsOf = Map.groupBy(participantRows, (row) => row.sessionId);
    const messagesOf = Map.groupBy(messageRows, (row) => row.sessionId);
    return sessionIds.map((id) => ({
      session: sessionRows.find((row) => row.id === id),
      participants: participantsOf.get(id) ?? [],
      messages: messagesOf.get(id) ?? [],
      personas: personaRows,
    }));
  });

  async function load(sessionId: string): Promise<RunState | null> {
    const {
      session,
      participants: participantRows,
      messages: messageRows,
      personas: personaRows,
    } = await loadRows(sessionId);
    if (session?.status !== "running") return null;
    return {
      session,
      limits: session.limits as unknown as SessionLimits,
      participants: participantRows,
      messages: messageRows,
      writes: Promise.resolve(),
      deferred: null,
      writeFailed: new AbortController(),
      totals: sumTotals(messageRows),
      // Every persona of the batch: only this session's participants' are ever looked up.
      personas: new Map(personaRows.map((row) => [row.id, row])),
      systemPrompts: new Map(),
      shingles: new Map(),
    };
  }

  /**
   * Applies a step to the in-memory state at once and writes it after the steps issued before it;
   * resolves with the rows as stored. When a write fails the run is over and a new run reloads from
   * Postgres, so what was applied here is never seen outside this run (events wait for the write).
   */
  function commit(state: RunState, step: Step): Promise<Message[]> {
    const firstIndex = (state.messages.at(-1)?.turnIndex ?? -1) + 1;
    const drafts = draftMessages(state.session.id, firstIndex, step);
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
    const written = state.writes.then(() => writeStep({ sessionId: state.session.id, step, drafts }));
    state.writes = written;
    return written.then((result) => {
      if (step.end) state.session = { ...state.session, finishedAt: result.finishedAt };
      return result.messages;
    });
  }

  async function publishEnd(state: RunState) {
    await publish({
      type: "session-end",
      sessionId: state.session.id,
      status: state.session.status,
      stopReason: state.session.stopReason,
      rounds: state.session.currentRound,
      totals: state.totals,
    });
    logger.info("session ended", {
      session: state.session.id,
      status: state.session.status,
      reason: state.session.stopReason,
      rounds: state.session.currentRound,
    });
  }

  const active = (state: RunState) =>
    state.participants.filter((participant) => participant.status === "active");

  /** Where the turn goes after `speaker` (which may just have been excluded). */
  function cursorAfter(state: RunState, speaker: SessionParticipant, excludedIds: number[] = []) {
    const stillActive = active(state).filter((participant) => !excludedIds.includes(participant.id));
    const next = stillActive.find((participant) => participant.orderIndex > speaker.orderIndex);
    if (next) return { currentRound: state.session.currentRound, nextOrderIndex: next.orderIndex };
    return { currentRound: state.session.currentRound + 1, nextOrderIndex: stillActive[0]?.orderIndex ?? 0 };
  }

  /** A step that moves the cursor, ending the debate when the last round is complete. */
  function advance(
    state: RunState,
    speaker: SessionParticipant,
    step: Step,
    excludedIds: number[] = [],
  ): Step {
    const cursor = cursorAfter(state, speaker, excludedIds);
    if (cursor.currentRound > state.session.maxRounds) {
      return { ...step, end: { status: "finished", reason: "max_rounds" } };
    }
    return { ...step, cursor };
  }

  function promptParticipant(state: RunState, participant: SessionParticipant): PromptParticipant {
    const persona = participant.personalityId ? state.personas.get(participant.personalityId) : undefined;
    return {
      id: participant.id,
      name: participant.displayName,
      personaTitle: participant.personaTitle,
      instructions: persona?.instructions ?? "",
      style: persona?.style ?? "",
    };
  }

  function systemPromptFor(state: RunState, speaker: SessionParticipant): string {
    let prompt = state.systemPrompts.get(speaker.id);
    if (!prompt) {
      // All participants as created, excluded ones included: the prefix never changes mid-debate.
      const everyone = state.participants.map((participant) => promptParticipant(state, participant));
      prompt = buildSystemPrompt(promptParticipant(state, speaker), everyone, state.session.maxRounds);
      state.systemPrompts.set(speaker.id, prompt);
    }
    return prompt;
  }

  function logCall(state: RunState, provider: Provider, kind: "turn" | "summary", result: ChatResult) {
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

  /** The prompt of this turn, compressing old turns into a persisted summary when over the limit. */
  async function preparePrompt(
    state: RunState,
    speaker: SessionParticipant,
    model: ChatModel,
    provider: Provider,
    signal: AbortSignal,
    turnDeadline: number,
  ): Promise<ChatMessage[]> {
    const limit = state.limits.contextTokenLimit;
    const summary = state.messages.findLast((message) => message.authorType === "summary") ?? null;
    const history: PromptTurn[] = state.messages
      .filter(
        (message) =>
          message.authorType === "model" &&
          !message.flagged &&
          message.turnIndex > (summary?.summaryUntil ?? -1),
      )
      .map((message) => ({
        turnIndex: message.turnIndex,
        participantId: message.participantId,
        authorName: message.authorName,
        content: message.content,
      }));
    const system = systemPromptFor(state, speaker);
    const build = (summaryText: string | null, turns: PromptTurn[], omittedNote: string | null) =>
      buildPromptMessages({
        system,
        topic: state.session.topic,
        summary: summaryText,
        omittedNote,
        turns,
        selfId: speaker.id,
        selfName: speaker.displayName,
        round: state.session.currentRound,
        maxRounds: state.session.maxRounds,
      });
    const prompt = build(summary?.content ?? null, history, null);
    if (promptTokensBound(prompt) <= limit) return prompt;
    const tokensOf = (message: ChatMessage) => tokensOfText(message.content);
    // What `build` puts before the turns: system, topic, then the summary and the note if any.
    const leadingOf = (summaryText: string | null, note: string | null) =>
      2 + (summaryText ? 1 : 0) + (note ? 1 : 0);
    const total = prompt.reduce((sum, message) => sum + tokensOf(message), 0);
    if (total <= limit) return prompt;

    const turnTokens = (turn: PromptTurn) =>
      tokensOfText(turn.participantId === speaker.id ? turn.content : `${turn.authorName}: ${turn.content}`);
    const fixedTokens =
      tokensOfText(system) +
      tokensOfText(`Topic of the debate: ${state.session.topic}`) +
      tokensOfText(turnCall(speaker.displayName, state.session.currentRound, state.session.maxRounds)) +
      Math.min(600, Math.floor(limit * 0.2));
    const plan = planCompression({ turns: history, tokensOf: turnTokens, fixedTokens, limit });
    if (plan.summarize.length > 0) {
      const maxTokens = Math.max(100, Math.min(600, Math.floor(limit * 0.2)));
      // The summary gets at most half of what is left of the turn: a slow or failing summariser
      // falls back to dropping turns rather than costing the speaker its turn (and a timeout strike).
      const summaryDeadline = now() + Math.floor((turnDeadline - now()) / SUMMARY_SHARE_OF_TURN);
      try {
        const result = await model.complete({
          messages: buildSummaryRequest({
            topic: state.session.topic,
            previousSummary: summary?.content ?? null,
            turns: plan.summarize,
            maxWords: Math.floor(maxTokens * 0.6),
          }),
          signal: AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, summaryDeadline - now()))]),
          deadlineMs: summaryDeadline,
          maxTokens,
        });
        logCall(state, provider, "summary", result);
        const [row] = await commit(state, {
          messages: [
            {
              round: state.session.currentRound,
              authorType: "summary",
              authorName: "Summary",
              participantId: speaker.id,
              ...accounted(result),
              summaryUntil: plan.summarize.at(-1)!.turnIndex,
              deliveryStatus: "skipped",
            },
          ],
        });
        await publish({
          type: "message-created",
          sessionId: state.session.id,
          messageId: row!.id,
          authorType: "summary",
        });
        return fitMessages(
          build(row!.content, plan.keep, null),
          limit,
          tokensOf,
          leadingOf(row!.content, null),
        );
      } catch (error) {
        if (signal.aborted || error instanceof SessionMovedOn) throw error;
        logger.warn("summary failed; dropping oldest turns instead", { session: state.session.id, error });
      }
    }
    const note = debateTexts(state.session.language).omitted;
    const summaryText = summary?.content ?? null;
    return fitMessages(build(summaryText, plan.keep, note), limit, tokensOf, leadingOf(summaryText, note));
  }

  async function excludeStep(
    state: RunState,
    speaker: SessionParticipant,
    reason: string,
    notice: string,
    extra: Step["messages"] = [],
    participantSet: ParticipantChange = {},
  ): Promise<Step> {
    return advance(
      state,
      speaker,
      {
        messages: [
          ...extra,
          {
            round: state.session.currentRound,
            authorType: "system",
            authorName: "system",
            participantId: speaker.id,
            content: notice,
          },
        ],
        participants: [
          { id: speaker.id, set: { ...participantSet, status: "excluded", exclusionReason: reason } },
        ],
      },
      [speaker.id],
    );
  }

  /** Commits a step and announces what it wrote. */
  async function commitAndAnnounce(state: RunState, step: Step, speaker?: SessionParticipant) {
    const inserted = await commit(state, step);
    for (const row of inserted) {
      if (!speaker) continue;
      if (row.authorType === "model" && !row.flagged) {
        await publish({
          type: "turn-end",
          sessionId: state.session.id,
          round: row.round,
          turnIndex: row.turnIndex,
          messageId: row.id,
          participantId: speaker.id,
          name: speaker.displayName,
          content: row.content,
          tokensIn: row.tokensIn,
          tokensOut: row.tokensOut,
          cachedTokens: row.cachedTokens,
          cost: row.cost,
        });
      } else if (row.authorType === "system") {
        const excluded = step.participants?.find((change) => change.set.status === "excluded");
        await publish(
          excluded
            ? {
                type: "participant-excluded",
                sessionId: state.session.id,
                participantId: speaker.id,
                name: speaker.displayName,
                reason: String(excluded.set.exclusionReason),
                messageId: row.id,
              }
            : {
                type: "message-created",
                sessionId: state.session.id,
                messageId: row.id,
                authorType: "system",
              },
        );
      }
    }
    if (step.end) await publishEnd(state);
  }

  async function runTurn(state: RunState, speaker: SessionParticipant, signal: AbortSignal): Promise<void> {
    const texts = debateTexts(state.session.language);
    // Read each turn: a key, model or price edited in the admin applies from the next turn on.
    const provider = speaker.providerId === null ? undefined : await deps.providers.get(speaker.providerId);
    if (!provider) {
      const step = await excludeStep(
        state,
        speaker,
        "provider removed",
        texts.excludedMissing(speaker.displayName),
      );
      return commitAndAnnounce(state, step, speaker);
    }
    const model = modelFor(provider);
    const turnIndex = (state.messages.at(-1)?.turnIndex ?? -1) + 1;
    // Not awaited: the LLM call need not wait for Redis. Events go out in order on one connection,
    // and this turn's wait for the previous turn's (whose write may still be landing).
    const turnStart: DebateEvent = {
      type: "turn-start",
      sessionId: state.session.id,
      round: state.session.currentRound,
      turnIndex,
      participantId: speaker.id,
      name: speaker.displayName,
    };
    let previousAnnounced = state.deferred === null;
    if (state.deferred) {
      state.deferred.then(
        () => {
          previousAnnounced = true;
          void publish(turnStart);
        },
        () => {},
      );
    } else void publish(turnStart);
    const startedAt = state.session.startedAt?.getTime() ?? now();
    const sessionDeadline = startedAt + state.limits.sessionTimeoutSec * 1000;
    const turnDeadline = Math.min(now() + state.limits.turnTimeoutSec * 1000, sessionDeadline);
    const turnSignal = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, turnDeadline - now()))]);

    let result: ChatResult;
    try {
      const prompt = await preparePrompt(state, speaker, model, provider, turnSignal, turnDeadline);
      let streamed = "";
      // The first delta waits one interval too: short answers go out whole with turn-end.
      let lastDeltaAt = now();
      result = await model.complete({
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
          void publish({
            type: "turn-delta",
            sessionId: state.session.id,
            // After a summary row, if this turn made one.
            turnIndex: (state.messages.at(-1)?.turnIndex ?? -1) + 1,
            participantId: speaker.id,
            text: streamed,
          });
        },
      });
    } catch (error) {
      if (signal.aborted || error instanceof SessionMovedOn) throw error;
      const llmError = error instanceof LlmError ? error : null;
      if (!llmError) throw error;
      if (now() >= sessionDeadline) {
        const step: Step = { messages: [], end: { status: "stopped", reason: "session_timeout" } };
        return commitAndAnnounce(state, step, speaker);
      }
      logger.warn("turn failed", {
        session: state.session.id,
        provider: provider.name,
        code: llmError.code,
        status: llmError.status,
        message: llmError.message,
      });
      if (!llmError.isRetryable && llmError.code !== "timeout" && llmError.code !== "aborted") {
        // A bad key or an unknown model will not get better by asking again.
        const detail = `${llmError.status ?? llmError.code}: ${llmError.message}`.slice(0, 300);
        const step = await excludeStep(
          state,
          speaker,
          detail,
          texts.excludedProvider(speaker.displayName, detail),
        );
        return commitAndAnnounce(state, step, speaker);
      }
      const failures = speaker.consecutiveTimeouts + 1;
      const timedOut = llmError.code === "timeout" || llmError.code === "aborted";
      if (failures >= MAX_CONSECUTIVE_FAILURES) {
        const reason = timedOut ? TIMED_OUT_TWICE : `failed twice in a row (${llmError.code})`;
        const step = await excludeStep(
          state,
          speaker,
          reason,
          texts.excludedTimeouts(speaker.displayName),
          [],
          {
            consecutiveTimeouts: failures,
          },
        );
        return commitAndAnnounce(state, step, speaker);
      }
      const notice = timedOut
        ? texts.turnTimeout(speaker.displayName)
        : texts.turnFailed(speaker.displayName, llmError.code);
      const step = advance(state, speaker, {
        messages: [
          {
            round: state.session.currentRound,
            authorType: "system",
            authorName: "system",
            participantId: speaker.id,
            content: notice,
          },
        ],
        participants: [{ id: speaker.id, set: { consecutiveTimeouts: failures } }],
      });
      return commitAndAnnounce(state, step, speaker);
    }

    logCall(state, provider, "turn", result);
    const recent = state.messages
      .filter((message) => message.authorType === "model" && !message.flagged)
      .slice(-RECENT_TURNS_PER_PARTICIPANT * state.participants.length)
      .map((message) => message.content);
    const answer = storableText(result.text);
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
    const modelMessage: Step["messages"][number] = {
      round: state.session.currentRound,
      authorType: "model",
      authorName: speaker.displayName,
      participantId: speaker.id,
      ...accounted(result),
      flagged: verdict === "ok" ? null : verdict,
      deliveryStatus: verdict === "ok" ? "pending" : "skipped",
    };
    const strikes = speaker.loopStrikes + (verdict === "ok" ? 0 : 1);
    if (strikes >= MAX_LOOP_STRIKES) {
      const step = await excludeStep(
        state,
        speaker,
        `${verdict} answers`,
        texts.excludedLoop(speaker.displayName),
        [modelMessage],
        { loopStrikes: strikes, consecutiveTimeouts: 0 },
      );
      return commitAndAnnounce(state, step, speaker);
    }
    const step = advance(state, speaker, {
      messages: [modelMessage],
      // Nothing to write for the participant on an ordinary good turn: one round trip fewer.
      participants:
        strikes === speaker.loopStrikes && speaker.consecutiveTimeouts === 0
          ? []
          : [{ id: speaker.id, set: { loopStrikes: strikes, consecutiveTimeouts: 0 } }],
    });
    if (step.end) return commitAndAnnounce(state, step, speaker);
    // At most one turn ahead of the database: the previous turn's write has landed before this one's
    // goes out (normally long ago, during this turn's call), so a crash loses at most two turns' work.
    await state.deferred;
    // The next turn does not wait for this write: it starts from the in-memory state, and is aborted
    // if the write fails. Its events wait for this turn's announcement.
    const announced = commitAndAnnounce(state, step, speaker);
    state.deferred = announced;
    announced.catch((error: unknown) => state.writeFailed.abort(error));
  }

  /** Runs turns until the session ends or `signal` aborts. */
  async function runTurns(state: RunState, signal: AbortSignal): Promise<RunOutcome> {
    while (!signal.aborted) {
      const stillActive = active(state);
      const reason = shouldStop({
        now: now(),
        startedAt: state.session.startedAt?.getTime() ?? now(),
        limits: state.limits,
        totals: state.totals,
        activeParticipants: stillActive.length,
      });
      if (reason) {
        const finalReason = reason === "no_participants" ? noParticipantsReason(state) : reason;
        await commitAndAnnounce(state, { messages: [], end: { status: "stopped", reason: finalReason } });
        return "ended";
      }
      let speaker = stillActive.find((participant) => participant.orderIndex >= state.session.nextOrderIndex);
      if (!speaker) {
        // The scheduled speaker was excluded at the end of a round: the next round starts.
        speaker = stillActive[0]!;
        state.session = { ...state.session, currentRound: state.session.currentRound + 1 };
      }
      if (state.session.currentRound > state.session.maxRounds) {
        const cursor = { currentRound: state.session.maxRounds, nextOrderIndex: 0 };
        await commitAndAnnounce(state, {
          messages: [],
          cursor,
          end: { status: "finished", reason: "max_rounds" },
        });
        return "ended";
      }
      await runTurn(state, speaker, signal);
      if (state.session.status !== "running") return "ended";
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
      }
    },
  };
}

export type TurnRunner = ReturnType<typeof createTurnRunner>;
