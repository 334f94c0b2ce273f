import type { Coordination } from "../platform/coordination";
import type { Logger } from "../platform/logger";

/** Totals of a session: tokens and exact USD cost. */
export interface SessionTotals {
  tokensIn: number;
  tokensOut: number;
  cachedTokens: number;
  /** Decimal string, 8 places. */
  cost: string;
}

/**
 * Live events of a debate, named noun-verb. They tell observers (the doors: chat posting, SSE, the
 * admin's live view) that something happened; what they show is always read back from Postgres.
 */
export type DebateEvent =
  | {
      type: "session-start";
      sessionId: string;
      maxRounds: number;
      participants: { id: number; name: string; persona: string | null }[];
      /** A finished or stopped debate going on for more rounds (`continueSession`). */
      continued?: boolean;
    }
  | {
      type: "turn-start";
      sessionId: string;
      round: number;
      turnIndex: number;
      participantId: number;
      name: string;
    }
  | { type: "turn-delta"; sessionId: string; turnIndex: number; participantId: number; text: string }
  | {
      type: "turn-end";
      sessionId: string;
      round: number;
      turnIndex: number;
      messageId: number;
      participantId: number;
      name: string;
      /** The row's author type: a turn is always a model's. */
      authorType: "model";
      content: string;
      tokensIn: number;
      tokensOut: number;
      cachedTokens: number;
      cost: string;
    }
  | {
      /**
       * A written row other than a turn: a notice (`system`), a `summary`, an interjection (`user`,
       * acknowledged by the doors, not posted again), or the moderator's `verdict`.
       */
      type: "message-created";
      sessionId: string;
      messageId: number;
      authorType: "system" | "summary" | "user" | "verdict";
      turnIndex: number;
      round: number;
      authorName: string;
      content: string;
    }
  | {
      type: "participant-excluded";
      sessionId: string;
      participantId: number;
      name: string;
      reason: string;
      messageId: number;
    }
  | {
      type: "session-end";
      sessionId: string;
      status: string;
      stopReason: string | null;
      rounds: number;
      totals: SessionTotals;
    };

export type DebateEventType = DebateEvent["type"];

const EVENTS_CHANNEL = "debate:events";
const CONTROL_CHANNEL = "debate:control";

/** Commands to whichever instance runs a session. */
export type DebateControl = { type: "stop"; sessionId: string };

/**
 * Publishes and observes debate events and control commands across instances. One pub/sub
 * subscription per instance, fanned out in process: hundreds of observers cost one Redis channel.
 */
export interface DebateEventBus {
  publish(event: DebateEvent): Promise<void>;
  /** Observes every event (or only one session's). The returned function unsubscribes. */
  subscribe(handler: (event: DebateEvent) => void, sessionId?: string): () => void;
  sendControl(command: DebateControl): Promise<void>;
  onControl(handler: (command: DebateControl) => void): () => void;
  /** Establishes the underlying subscriptions; call once at start. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createDebateEventBus(deps: { coordination: Coordination; logger: Logger }): DebateEventBus {
  const { coordination, logger } = deps;
  const handlers = new Set<{ handler: (event: DebateEvent) => void; sessionId?: string }>();
  const controlHandlers = new Set<(command: DebateControl) => void>();
  const unsubscribers: (() => Promise<void>)[] = [];
  const dispatch = <T>(set: Iterable<T>, call: (item: T) => void) => {
    for (const item of set) {
      try {
        call(item);
      } catch (error) {
        logger.error("debate event handler failed", { error });
      }
    }
  };
  return {
    async publish(event) {
      await coordination.publish(EVENTS_CHANNEL, JSON.stringify(event));
    },
    subscribe(handler, sessionId) {
      const entry = { handler, sessionId };
      handlers.add(entry);
      return () => {
        handlers.delete(entry);
      };
    },
    async sendControl(command) {
      await coordination.publish(CONTROL_CHANNEL, JSON.stringify(command));
    },
    onControl(handler) {
      controlHandlers.add(handler);
      return () => {
        controlHandlers.delete(handler);
      };
    },
    async start() {
      unsubscribers.push(
        await coordination.subscribe(EVENTS_CHANNEL, (raw) => {
          const event = JSON.parse(raw) as DebateEvent;
          dispatch(handlers, (entry) => {
            if (!entry.sessionId || entry.sessionId === event.sessionId) entry.handler(event);
          });
        }),
        await coordination.subscribe(CONTROL_CHANNEL, (raw) => {
          const command = JSON.parse(raw) as DebateControl;
          dispatch(controlHandlers, (handler) => handler(command));
        }),
      );
    },
    async stop() {
      for (const unsubscribe of unsubscribers.splice(0)) await unsubscribe().catch(() => {});
      handlers.clear();
      controlHandlers.clear();
    },
  };
}
