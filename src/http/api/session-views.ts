/** Session rows as the API shows them: snake_case, ISO dates, money as decimal strings. */
import type { Message, Session, SessionParticipant } from "../../db/schema";
import type { DebateEvent, SessionTotals } from "../../debate/debate-events";
import type { SessionDetail, SessionListItem } from "../../debate/debate-service";
import { sessionEndEvent } from "../../debate/session-store";
import { sseFrame } from "../sse";
import type {
  messageView,
  participantView,
  sessionDetailView,
  sessionSummaryView,
  totalsView,
} from "./api-schemas";

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export function totalsToView(totals: SessionTotals): typeof totalsView.infer {
  return {
    tokens_in: totals.tokensIn,
    tokens_out: totals.tokensOut,
    cached_tokens: totals.cachedTokens,
    cost: totals.cost,
  };
}

export function sessionToView(session: Session, totals: SessionTotals): typeof sessionSummaryView.infer {
  return {
    id: session.id,
    topic: session.topic,
    status: session.status,
    stop_reason: session.stopReason,
    stop_detail: session.stopDetail,
    source: session.source,
    format: session.format,
    verdict: session.verdict,
    // Written only by the debate service, which accepts ru and en.
    language: session.language as "ru" | "en",
    user_id: session.userId,
    current_round: session.currentRound,
    max_rounds: session.maxRounds,
    created_at: session.createdAt.toISOString(),
    started_at: iso(session.startedAt),
    finished_at: iso(session.finishedAt),
    totals: totalsToView(totals),
  };
}

export function participantToView(participant: SessionParticipant): typeof participantView.infer {
  return {
    id: participant.id,
    provider_id: participant.providerId,
    personality_id: participant.personalityId,
    display_name: participant.displayName,
    persona_title: participant.personaTitle,
    order_index: participant.orderIndex,
    status: participant.status,
    exclusion_reason: participant.exclusionReason,
  };
}

export function messageToView(message: Message): typeof messageView.infer {
  return {
    id: message.id,
    turn_index: message.turnIndex,
    round: message.round,
    author_type: message.authorType,
    author_name: message.authorName,
    participant_id: message.participantId,
    content: message.content,
    tokens_in: message.tokensIn,
    tokens_out: message.tokensOut,
    cached_tokens: message.cachedTokens,
    cost: message.cost,
    latency_ms: message.latencyMs,
    estimated: message.estimated,
    created_at: message.createdAt.toISOString(),
  };
}

export function sessionDetailToView(detail: SessionDetail): typeof sessionDetailView.infer {
  return {
    ...sessionToView(detail.session, detail.totals),
    participants: detail.participants.map(participantToView),
    messages: detail.messages.map(messageToView),
  };
}

export function sessionListItemToView(item: SessionListItem): typeof sessionSummaryView.infer {
  return sessionToView(item, item.totals);
}

const snakeKey = (key: string) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/** Deep camelCase → snake_case of an event payload (the API speaks snake_case). */
export function toSnakeCase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toSnakeCase);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [snakeKey(key), toSnakeCase(inner)]),
    );
  }
  return value;
}

/** The `session-end` event of a session that already ended, rebuilt from the database. */
export function sessionEndFromDetail(detail: SessionDetail): DebateEvent {
  return sessionEndEvent(detail.session, detail.totals);
}

/** One Server-Sent Event: `event: <type>` and the snake_case JSON payload. */
export function formatSseEvent(event: DebateEvent): string {
  return sseFrame(event.type, toSnakeCase(event));
}
