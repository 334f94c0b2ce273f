import type { TokenUsage } from "../llm/chat-model";
import type { LlmFailureKind } from "../llm/llm-errors";
import type { TurnOutcome } from "./debate-policy";

/** One LLM call of a debate as it ended: a success with its accounting, or the failure's kind. */
export interface LlmCallRecord {
  provider: string;
  kind: "turn" | "summary" | "verdict";
  outcome: "success" | LlmFailureKind;
  /** The successful attempt's latency; for a failure, the whole call (retries included). */
  durationMs: number;
  /** Success only. */
  usage?: TokenUsage;
  /** Success only: USD as a decimal string. */
  costUsd?: string;
}

/** How a turn went: an answer (or one the loop guard rejected), a failure, or no provider. */
export type TurnOutcomeLabel = "answer" | "empty" | "repeat" | "timeout" | "failure" | "provider_missing";

export function turnOutcomeLabel(outcome: TurnOutcome): TurnOutcomeLabel {
  switch (outcome.kind) {
    case "answer":
      return outcome.verdict === "ok" ? "answer" : outcome.verdict;
    case "failure":
      return outcome.timedOut ? "timeout" : "failure";
    case "provider-missing":
      return "provider_missing";
  }
}

/** What the turn runner reports (metrics). Called synchronously on the hot path: it must be cheap and never throw. */
export interface TurnObserver {
  llmCall(call: LlmCallRecord): void;
  turn(turn: { provider: string; outcome: TurnOutcomeLabel }): void;
}

/** What the scheduler reports (metrics): a due session was claimed `lagMs` after its due time. */
export interface SchedulerObserver {
  sessionClaimed(lagMs: number): void;
}

/** Everything the core reports as it works; the engine hands each part its share. */
export type DebateObserver = TurnObserver & SchedulerObserver;
