import { and, asc, eq, inArray, isNotNull } from "drizzle-orm";
import { TelegramError } from "gramio";
import { type Message, messages, type Session, sessionParticipants, sessions } from "../../db/schema";
import type { DebateEngine } from "../../debate/debate-engine";
import type { Coordination } from "../../platform/coordination";
import type { Db } from "../../platform/db";
import type { Logger } from "../../platform/logger";
import { languageOf, TEXTS } from "../i18n/texts";
import { menuKeyboard } from "../keyboards";
import type { FloodControlledSender } from "./flood-control";
import { markdownToTelegram, plain, splitTelegramText, type TelegramText, withHeader } from "./telegram-text";

/**
 * The bot's outbox: what is posted is driven by the persisted `messages` rows, not by events.
 * Events only say "look at this chat again". One sequential worker per chat delivers its pending
 * rows in turn order, records Telegram ids and `sent` before moving on (so a restart re-sends
 * nothing delivered and delivers everything pending), then posts the closing line once the
 * session has ended. A Redis lease per chat keeps two instances from delivering the same chat.
 */
export interface Outbox {
  /** Schedules a delivery pass for the chat (coalesced while one runs). */
  kick(chatId: number): void;
  /** Kicks every chat that has something undelivered (call at start). */
  kickAll(): Promise<void>;
  /** Resolves once no pass runs (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

const LOCK_TTL_MS = 30_000;
const ENDED = new Set(["finished", "stopped", "failed"]);

/** Telegram says the chat cannot receive messages any more: stop trying. */
export function isChatUnavailable(error: unknown): boolean {
  if (!(error instanceof TelegramError)) return false;
  if (error.code === 403) return true;
  return error.code === 400 && /chat not found|bot was kicked|user is deactivated/i.test(error.message);
}

function isEntityError(error: unknown): boolean {
  return error instanceof TelegramError && error.code === 400 && /entit|parse/i.test(error.message);
}

export function createOutbox(deps: {
  db: Db;
  engine: DebateEngine;
  coordination: Coordination;
  sender: FloodControlledSender;
  logger: Logger;
  /** Delay before retrying a chat after a transient failure or a lease held elsewhere. Default 2000 ms. */
  retryDelayMs?: number;
}): Outbox {
  const { db, engine, coordination, sender } = deps;
  const logger = deps.logger.child({ component: "bot-outbox" });
  const retryDelayMs = deps.retryDelayMs ?? 2000;
  const running = new Map<number, Promise<void>>();
  const dirty = new Set<number>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const personas = new Map<string, Map<number, string | null>>();
  let stopped = false;

  const retryLater = (chatId: number) => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      kick(chatId);
    }, retryDelayMs);
    timers.add(timer);
  };

  const personaOf = async (sessionId: string, participantId: number | null) => {
    let map = personas.get(sessionId);
    if (!map) {
      const rows = await db
        .select({ id: sessionParticipants.id, persona: sessionParticipants.personaTitle })
        .from(sessionParticipants)
        .where(eq(sessionParticipants.sessionId, sessionId));
      map = new Map(rows.map((row) => [row.id, row.persona]));
      personas.set(sessionId, map);
    }
    return participantId === null ? null : (map.get(participantId) ?? null);
  };

  const render = async (session: Session, row: Message): Promise<TelegramText[]> => {
    if (row.authorType === "system") return splitTelegramText({ text: row.content, entities: [] });
    const texts = TEXTS[languageOf(session.language)];
    const header = texts.turnHeader(
      row.authorName,
      await personaOf(session.id, row.participantId),
      row.round,
      session.maxRounds,
    );
    return splitTelegramText(withHeader(header, markdownToTelegram(row.content)));
  };

  const sendChunk = async (chatId: number, chunk: TelegramText): Promise<number> => {
    try {
      const sent = await sender.send({ chat_id: chatId, text: chunk.text, entities: chunk.entities });
      return sent.message_id;
    } catch (error) {
      if (!isEntityError(error) || chunk.entities.length === 0) throw error;
      logger.warn("entities rejected, sending plain text", { chatId, error: (error as Error).message });
      const sent = await sender.send({ chat_id: chatId, ...plain(chunk) });
      return sent.message_id;
    }
  };

  /** The chat blocked or removed the bot: stop its debate and give up its undelivered rows. */
  const abandonChat = async (chatId: number, reason: string) => {
    logger.warn("chat unavailable, stopping its debates", { chatId, reason });
    const open = await db
      .select({ id: sessions.id, status: sessions.status })
      .from(sessions)
      .where(and(eq(sessions.chatId, chatId), eq(sessions.closingDeliveryStatus, "pending")));
    for (const session of open) {
      if (!ENDED.has(session.status)) {
        await engine.debate
          .stopSession(session.id, "error", `Telegram: ${reason}`)
          .catch((error) => logger.error("stop after 403 failed", { error }));
      }
    }
    const ids = open.map((session) => session.id);
    if (ids.length === 0) return;
    await db
      .update(messages)
      .set({ deliveryStatus: "failed" })
      .where(and(inArray(messages.sessionId, ids), eq(messages.deliveryStatus, "pending")));
    await db
      .update(sessions)
      .set({ closingDeliveryStatus: "failed" })
      .where(and(inArray(sessions.id, ids), eq(sessions.closingDeliveryStatus, "pending")));
  };

  const deliverRow = async (chatId: number, session: Session, row: Message) => {
    if (row.authorType === "summary" || row.authorType === "user" || row.flagged) {
      await db.update(messages).set({ deliveryStatus: "skipped" }).where(eq(messages.id, row.id));
      return;
    }
    const chunks = await render(session, row);
    const ids = [...(row.telegramMessageIds ?? [])];
    for (let index = ids.length; index < chunks.length; index++) {
      try {
        ids.push(await sendChunk(chatId, chunks[index]!));
      } catch (error) {
        if (error instanceof TelegramError && error.code === 400 && !isChatUnavailable(error)) {
          logger.error("message rejected by Telegram", { chatId, messageId: row.id, error: error.message });
          await db
            .update(messages)
            .set({ deliveryStatus: "failed", telegramMessageIds: ids })
            .where(eq(messages.id, row.id));
          return;
        }
        throw error;
      }
      // Chunks already out are remembered, so a restart resumes after them instead of repeating.
      if (index < chunks.length - 1) {
        await db.update(messages).set({ telegramMessageIds: ids }).where(eq(messages.id, row.id));
      }
    }
    await db
      .update(messages)
      .set({
        deliveryStatus: chunks.length === 0 ? "skipped" : "sent",
        telegramMessageIds: ids,
        deliveredAt: new Date(),
      })
      .where(eq(messages.id, row.id));
  };

  const postClosing = async (chatId: number, session: Session) => {
    const detail = await engine.debate.getSession(session.id);
    const language = languageOf(session.language);
    const text = TEXTS[language].closing(
      detail.session.stopReason,
      detail.session.currentRound,
      detail.session.maxRounds,
      detail.totals,
    );
    await sender.send({ chat_id: chatId, text, reply_markup: menuKeyboard(language) });
    await db
      .update(sessions)
      .set({ closingDeliveryStatus: "sent" })
      .where(and(eq(sessions.id, session.id), eq(sessions.closingDeliveryStatus, "pending")));
    personas.delete(session.id);
  };

  /** One pass over the chat's undelivered sessions, oldest first. */
  const drain = async (chatId: number, lockToken: string) => {
    const open = await db
      .select()
      .from(sessions)
      .where(and(eq(sessions.chatId, chatId), eq(sessions.closingDeliveryStatus, "pending")))
      .orderBy(asc(sessions.createdAt));
    for (const session of open) {
      // Status read before the rows: once ended, every row of the session is already written.
      const ended = ENDED.has(session.status);
      const pending = await db
        .select()
        .from(messages)
        .where(and(eq(messages.sessionId, session.id), eq(messages.deliveryStatus, "pending")))
        .orderBy(asc(messages.turnIndex));
      for (const row of pending) {
        if (stopped) return;
        await deliverRow(chatId, session, row);
        await coordination.extendLock(`bot:outbox:${chatId}`, lockToken, LOCK_TTL_MS);
      }
      if (ended && !stopped) await postClosing(chatId, session);
    }
  };

  const pass = async (chatId: number) => {
    const key = `bot:outbox:${chatId}`;
    const token = await coordination.acquireLock(key, LOCK_TTL_MS);
    if (!token) {
      retryLater(chatId);
      return;
    }
    try {
      await drain(chatId, token);
    } catch (error) {
      if (isChatUnavailable(error)) {
        await abandonChat(chatId, (error as Error).message);
      } else {
        logger.error("delivery failed, will retry", { chatId, error });
        retryLater(chatId);
      }
    } finally {
      await coordination.releaseLock(key, token).catch(() => {});
    }
  };

  const kick = (chatId: number) => {
    if (stopped) return;
    if (running.has(chatId)) {
      dirty.add(chatId);
      return;
    }
    const loop = (async () => {
      do {
        dirty.delete(chatId);
        await pass(chatId).catch((error) => logger.error("outbox pass crashed", { chatId, error }));
      } while (dirty.has(chatId) && !stopped);
    })().finally(() => running.delete(chatId));
    running.set(chatId, loop);
  };

  return {
    kick,
    async kickAll() {
      const rows = await db
        .selectDistinct({ chatId: sessions.chatId })
        .from(sessions)
        .where(and(isNotNull(sessions.chatId), eq(sessions.closingDeliveryStatus, "pending")));
      for (const row of rows) if (row.chatId !== null) kick(row.chatId);
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running.values()]);
    },
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all([...running.values()]);
    },
  };
}
