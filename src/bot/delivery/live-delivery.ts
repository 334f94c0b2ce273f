import { LRUCache } from "lru-cache";
import type { DebateEvent, DebateEventBus } from "../../debate/debate-events";
import type { Coordination } from "../../platform/coordination";
import type { Logger } from "../../platform/logger";
import type { FloodControlledSender } from "./flood-control";
import type { Outbox } from "./outbox";
import { TELEGRAM_TEXT_LIMIT } from "./telegram-text";

/**
 * Connects the core's events to the chat: every event of a chat's session kicks that chat's
 * outbox; `turn-start` sends a `typing` action and, in private chats, `turn-delta` streams the text
 * as a draft (`sendMessageDraft`, throttled). Typing and drafts are best effort: their errors are
 * ignored and never touch the debate. With several instances, one lease per turn picks the
 * instance that shows typing and drafts.
 */
export function startLiveDelivery(deps: {
  sender: FloodControlledSender;
  events: DebateEventBus;
  coordination: Coordination;
  outbox: Outbox;
  logger: Logger;
  /** Minimum gap between two drafts of one chat. Default 1000 ms. */
  draftIntervalMs?: number;
}): () => void {
  const { sender, coordination, outbox } = deps;
  const logger = deps.logger.child({ component: "bot-live" });
  const draftIntervalMs = deps.draftIntervalMs ?? 1000;
  /**
   * Turns this instance shows live: `${sessionId}:${turnIndex}` → state. Bounded: a turn whose end
   * event never came (another instance ended it, Redis dropped it) must not stay forever.
   */
  const liveTurns = new LRUCache<string, { chatId: number; lastDraftAt: number; lastTypingAt: number }>({
    max: 10_000,
  });

  // Typing and drafts take from the same flood budget as messages, and only when it has room now.
  const typing = (chatId: number) =>
    sender.tryNow(chatId, "sendChatAction", { chat_id: chatId, action: "typing" });

  const handle = async (event: DebateEvent) => {
    const chatId = await outbox.chatOf(event.sessionId);
    if (chatId === null) return;
    const now = Date.now();
    switch (event.type) {
      case "turn-start": {
        const key = `${event.sessionId}:${event.turnIndex}`;
        const lease = await coordination.acquireLock(`bot:live:${key}`, 10 * 60_000).catch(() => null);
        if (!lease) return;
        liveTurns.set(key, { chatId, lastDraftAt: 0, lastTypingAt: now });
        await typing(chatId);
        return;
      }
      case "turn-delta": {
        const live = liveTurns.get(`${event.sessionId}:${event.turnIndex}`);
        if (!live) return;
        if (now - live.lastTypingAt >= 4000) {
          live.lastTypingAt = now;
          void typing(chatId);
        }
        if (chatId <= 0 || now - live.lastDraftAt < draftIntervalMs) return;
        let text = event.text.trim();
        if (text.length === 0) return;
        if (text.length > TELEGRAM_TEXT_LIMIT)
          text = `${text.slice(0, TELEGRAM_TEXT_LIMIT - 1).toWellFormed()}…`;
        live.lastDraftAt = now;
        await sender.tryNow(chatId, "sendMessageDraft", {
          chat_id: chatId,
          draft_id: event.turnIndex + 1,
          text,
        });
        return;
      }
      case "turn-end":
        liveTurns.delete(`${event.sessionId}:${event.turnIndex}`);
        outbox.kick(chatId);
        return;
      case "session-start":
        // A continued debate: its new turns and closing line go out after the old closing line.
        if (event.continued) await outbox.reopen(event.sessionId);
        outbox.kick(chatId);
        return;
      case "message-created":
        // A verdict asked for after the end comes after the closing line: post it, then close again.
        if (event.authorType === "verdict") await outbox.reopen(event.sessionId);
        outbox.kick(chatId);
        return;
      case "session-end":
        for (const key of [...liveTurns.keys()])
          if (key.startsWith(`${event.sessionId}:`)) liveTurns.delete(key);
        outbox.kick(chatId);
        return;
      default:
        outbox.kick(chatId);
    }
  };

  return deps.events.subscribe((event) => {
    handle(event).catch((error) => logger.warn("live delivery event failed", { type: event.type, error }));
  });
}
