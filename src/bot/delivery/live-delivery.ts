import { LRUCache } from "lru-cache";
import type { DebateEvent, DebateEventBus } from "../../debate/debate-events";
import type { DebateService } from "../../debate/debate-service";
import type { Coordination } from "../../platform/coordination";
import type { Logger } from "../../platform/logger";
import { languageOf, TEXTS } from "../i18n/texts";
import { type FloodControlledSender, isGroupChat } from "./flood-control";
import type { Outbox } from "./outbox";
import { renderTurn } from "./telegram-text";

/**
 * Connects the core's events to the chat: every event of a chat's session kicks that chat's
 * outbox; `turn-start` sends a `typing` action and, in private chats, `turn-delta` streams the text
 * as a draft (`sendMessageDraft`, throttled). A draft is rendered like the final message (header,
 * Markdown as entities; the part being written when it outgrows one message) and offers Telegram's
 * stop button (`can_stop`), whose `stopped_message_generation` update the bot handles as /stop.
 * Typing and drafts are best effort: their errors are ignored and never touch the debate. With
 * several instances, one lease per turn picks the instance that shows typing and drafts.
 */
export function startLiveDelivery(deps: {
  sender: FloodControlledSender;
  events: DebateEventBus;
  /** Reads the session and its participants for the draft's header. */
  debate: Pick<DebateService, "getSessionRow" | "getParticipants">;
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
  const liveTurns = new LRUCache<
    string,
    { chatId: number; header: string | null; lastDraftAt: number; lastTypingAt: number }
  >({ max: 10_000 });

  // Typing and drafts take from the same flood budget as messages, and only when it has room now.
  const typing = (chatId: number) =>
    sender.tryNow(chatId, "sendChatAction", { chat_id: chatId, action: "typing" });

  /** The header the outbox will put on this turn's message (same language, persona, rounds). */
  const draftHeader = async (event: Extract<DebateEvent, { type: "turn-start" }>) => {
    const [session, participants] = await Promise.all([
      deps.debate.getSessionRow(event.sessionId),
      deps.debate.getParticipants(event.sessionId),
    ]);
    const persona = participants.find((participant) => participant.id === event.participantId)?.personaTitle;
    return TEXTS[languageOf(session.language)].turnHeader(
      event.name,
      persona ?? null,
      event.round,
      session.maxRounds,
    );
  };

  const handle = async (event: DebateEvent) => {
    const chatId = await outbox.chatOf(event.sessionId);
    if (chatId === null) return;
    const now = Date.now();
    switch (event.type) {
      case "turn-start": {
        const key = `${event.sessionId}:${event.turnIndex}`;
        const lease = await coordination.acquireLock(`bot:live:${key}`, 10 * 60_000).catch(() => null);
        if (!lease) return;
        // Drafts exist in private chats only (Telegram refuses them elsewhere): no header to read.
        const header = isGroupChat(chatId)
          ? null
          : await draftHeader(event).catch((error: unknown) => {
              logger.warn("draft header unavailable, no drafts for this turn", { error });
              return null;
            });
        liveTurns.set(key, { chatId, header, lastDraftAt: 0, lastTypingAt: now });
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
        if (live.header === null || now - live.lastDraftAt < draftIntervalMs) return;
        if (event.text.trim().length === 0) return;
        // The message being written: the last of the pieces the final text will be posted as.
        const draft = renderTurn(live.header, event.text).at(-1);
        if (!draft) return;
        live.lastDraftAt = now;
        await sender.tryNow(chatId, "sendMessageDraft", {
          chat_id: chatId,
          draft_id: event.turnIndex + 1,
          text: draft.text,
          entities: draft.entities,
          can_stop: true,
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
