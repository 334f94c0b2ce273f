import type { Message, Personality, Provider, SessionParticipant } from "../db/schema";
import type { ChatMessage, ChatModel, ChatResult } from "../llm/chat-model";
import type { Logger } from "../platform/logger";
import { buildSummaryRequest, fitMessages, planCompression } from "./context-compression";
import type { DebateState } from "./debate-policy";
import { debateTexts } from "./debate-texts";
import { expertLabel, formatOf } from "./formats";
import {
  buildPromptMessages,
  buildSystemPrompt,
  messageTokens,
  type PromptParticipant,
  type PromptTurn,
  promptMessageOf,
  promptTokensBound,
} from "./prompt";
import type { MessageDraft } from "./step-writer";
import { SessionMovedOn, type Step } from "./step-writer";

/** The summary call may take 1/SUMMARY_SHARE_OF_TURN of the time left in the turn. */
const SUMMARY_SHARE_OF_TURN = 2;

/** What the prompt of a run needs beyond the debate state: personas and per-run caches. */
export interface PromptState extends DebateState {
  personas: Map<number, Personality>;
  systemPrompts: Map<number, string>;
}

/** Model text as Postgres can store it: a text column refuses NUL, and a failed write would crash the run. */
export function storableText(text: string): string {
  return text.replaceAll("\u0000", "").trim();
}

/** The columns every LLM call fills in its message row: the text and its accounting. */
export function accounted(result: ChatResult) {
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

/** A transcript row (a turn or an interjection) as the prompt sees it. */
const promptTurnOf = (message: MessageDraft): PromptTurn => ({
  turnIndex: message.turnIndex,
  participantId: message.participantId,
  authorName: message.authorName,
  content: message.content,
  interjection: message.authorType === "user",
});

/**
 * What a Delphi expert sees: the previous round's answers, its own as its own and the others'
 * under "Expert A/B/…" (by position among the participants, stable across rounds), and the
 * moderator's questions since that round began. Never an answer of the round being answered.
 */
export function previousRoundAnonymous(
  state: Pick<DebateState, "participants" | "messages">,
  speaker: Pick<SessionParticipant, "id">,
  round: number,
): PromptTurn[] {
  const position = new Map(state.participants.map((participant, index) => [participant.id, index]));
  return state.messages
    .filter(
      (message) =>
        message.round >= round - 1 &&
        ((message.authorType === "model" && !message.flagged && message.round === round - 1) ||
          message.authorType === "user"),
    )
    .map((message) => {
      const turn = promptTurnOf(message);
      if (turn.interjection || message.participantId === speaker.id) return turn;
      return {
        ...turn,
        participantId: null,
        authorName: expertLabel(position.get(message.participantId!) ?? 0),
      };
    });
}

/**
 * Builds each turn's prompt: a byte-stable prefix (system prompt, topic) for provider prompt
 * caching, then the history; above the context limit the oldest turns are folded into a persisted,
 * accounted summary (written through `commitSummary`), or dropped when summarising fails.
 */
export function createTurnPrompter(deps: {
  logger: Logger;
  now: () => number;
  /** Writes the summary step; resolves with its row. */
  commitSummary: (state: PromptState, step: Step) => Promise<Message>;
  logCall: (state: PromptState, provider: Provider, kind: "turn" | "summary", result: ChatResult) => void;
}) {
  const { logger, now } = deps;
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

  function promptParticipant(state: PromptState, participant: SessionParticipant): PromptParticipant {
    const persona = participant.personalityId ? state.personas.get(participant.personalityId) : undefined;
    return {
      id: participant.id,
      name: participant.displayName,
      personaTitle: participant.personaTitle,
      instructions: persona?.instructions ?? "",
      style: persona?.style ?? "",
    };
  }

  function systemPromptFor(state: PromptState, speaker: SessionParticipant): string {
    let prompt = state.systemPrompts.get(speaker.id);
    if (!prompt) {
      // All participants as created, excluded ones included: the prefix never changes mid-debate.
      const everyone = state.participants.map((participant) => promptParticipant(state, participant));
      prompt = buildSystemPrompt(
        promptParticipant(state, speaker),
        everyone,
        state.session.maxRounds,
        formatOf(state.session.format),
      );
      state.systemPrompts.set(speaker.id, prompt);
    }
    return prompt;
  }

  /** The prompt of this turn, compressing old turns into a persisted summary when over the limit. */
  return async function preparePrompt(input: {
    state: PromptState;
    speaker: SessionParticipant;
    round: number;
    model: ChatModel;
    provider: Provider;
    signal: AbortSignal;
    turnDeadline: number;
  }): Promise<ChatMessage[]> {
    const { state, speaker, round, model, provider, signal, turnDeadline } = input;
    const limit = state.limits.contextTokenLimit;
    const format = formatOf(state.session.format);
    const call = format.turnCall({
      self: promptParticipant(state, speaker),
      everyone: state.participants.map((participant) => promptParticipant(state, participant)),
      round,
      maxRounds: state.session.maxRounds,
    });
    const system = systemPromptFor(state, speaker);
    if (format.history === "previous-round-anonymous") {
      // Delphi: the previous round only, the others under their expert labels; nothing to summarise.
      const turns = previousRoundAnonymous(state, speaker, round);
      const tokensOf = (message: ChatMessage) => tokensOfText(message.content);
      return fitMessages(
        buildPromptMessages({
          system,
          topic: state.session.topic,
          summary: null,
          omittedNote: null,
          turns,
          selfId: speaker.id,
          call,
        }),
        limit,
        tokensOf,
      );
    }
    const summary = state.messages.findLast((message) => message.authorType === "summary") ?? null;
    const history: PromptTurn[] = state.messages
      .filter(
        (message) =>
          (message.authorType === "model" || message.authorType === "user") &&
          !message.flagged &&
          message.turnIndex > (summary?.summaryUntil ?? -1),
      )
      .map(promptTurnOf);
    const build = (summaryText: string | null, turns: PromptTurn[], omittedNote: string | null) =>
      buildPromptMessages({
        system,
        topic: state.session.topic,
        summary: summaryText,
        omittedNote,
        turns,
        selfId: speaker.id,
        call,
      });
    const prompt = build(summary?.content ?? null, history, null);
    if (promptTokensBound(prompt) <= limit) return prompt;
    const tokensOf = (message: ChatMessage) => tokensOfText(message.content);
    // What `build` puts before the turns: system, topic, then the summary and the note if any.
    const leadingOf = (summaryText: string | null, note: string | null) =>
      2 + (summaryText ? 1 : 0) + (note ? 1 : 0);
    const total = prompt.reduce((sum, message) => sum + tokensOf(message), 0);
    if (total <= limit) return prompt;

    const turnTokens = (turn: PromptTurn) => tokensOfText(promptMessageOf(turn, speaker.id).content);
    const fixedTokens =
      tokensOfText(system) +
      tokensOfText(`Topic of the debate: ${state.session.topic}`) +
      tokensOfText(call) +
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
        deps.logCall(state, provider, "summary", result);
        const row = await deps.commitSummary(state, {
          messages: [
            {
              round,
              authorType: "summary",
              authorName: "Summary",
              participantId: speaker.id,
              ...accounted(result),
              summaryUntil: plan.summarize.at(-1)!.turnIndex,
            },
          ],
        });
        return fitMessages(
          build(row.content, plan.keep, null),
          limit,
          tokensOf,
          leadingOf(row.content, null),
        );
      } catch (error) {
        if (signal.aborted || error instanceof SessionMovedOn) throw error;
        logger.warn("summary failed; dropping oldest turns instead", { session: state.session.id, error });
      }
    }
    const note = debateTexts(state.session.language).omitted;
    const summaryText = summary?.content ?? null;
    return fitMessages(build(summaryText, plan.keep, note), limit, tokensOf, leadingOf(summaryText, note));
  };
}
