import { randomUUID } from "node:crypto";
import { TelegramError } from "gramio";
import type { Message, Session } from "../../db/schema";
import { verdictOffered } from "../../debate/debate-policy";
import type { DebateService } from "../../debate/debate-service";
import { debateTexts } from "../../debate/debate-texts";
import { type Clock, systemClock } from "../../platform/clock";
import type { Logger } from "../../platform/logger";
import { closingReason, languageOf, TEXTS } from "../i18n/texts";
import { endKeyboard } from "../keyboards";
import type { DeliveryStore } from "./delivery-store";
import { type FloodControlledSender, LeaseLostError } from "./flood-control";
import { plain, renderTurn, splitTelegramText, type TelegramText } from "./telegram-text";

/**
 * The bot's outbox: what is posted is driven by the persisted transcript, not by events. Events
 * only say "look at this chat again". One sequential worker per chat posts its sessions' messages in
 * turn order, recording each in the bot's `deliveries` table (Telegram ids, `sent`) before moving on
 * — so a restart re-sends nothing delivered and delivers everything pending — then posts the closing
 * line once the session has ended. A lease per chat keeps two instances from posting to one chat.
 */
export interface Outbox {
  /** Starts tracking a chat's session: from now on its transcript is posted to the chat. */
  track(sessionId: string, chatId: number): Promise<void>;
  /**
   * The chat a session is posted to, or null when it is not a chat's (cached, bounded). A chat's
   * session the bot did not open itself (another door or instance) is tracked from then on.
   */
  chatOf(sessionId: string): Promise<number | null>;
  /** The chat's newest session, or null: buttons of any other are stale. */
  lastSession(chatId: number): Promise<string | null>;
  /** Schedules a pass for the chat (coalesced while one runs). */
  kick(chatId: number): void;
  /**
   * The session has more to post after its closing line went out (it was continued, or its requested
   * verdict is in): it is open again for the bot, and its new rows and a new closing line follow.
   */
  reopen(sessionId: string): Promise<void>;
  /**
   * True while a session of the chat still has messages or its closing line to post: a new debate
   * waits for it. A pass running here now is waited for first (up to a few seconds), so the closing
   * line just sent is not mistaken for pending.
   */
  hasUndelivered(chatId: number): Promise<boolean>;
  /** Tracks chat sessions it has not seen yet and kicks every chat with something to post. */
  sweep(): Promise<void>;
  /** Resolves once no pass runs (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** How long a pass holds a session's lease; renewed before every send. */
const LEASE_MS = 60_000;
/** How far back the sweep looks for chat sessions the bot never heard of (events missed while down). */
const DISCOVERY_WINDOW_MS = 24 * 60 * 60_000;
/** Sessions whose chat is remembered; older entries are read again from the table. */
const CHAT_CACHE_SIZE = 10_000;
const ENDED = new Set(["finished", "stopped", "failed"]);
/** How long `hasUndelivered` waits for a pass in progress. */
const PASS_WAIT_MS = 3_000;

/** Telegram says the chat cannot receive messages any more: stop trying. */
export function isChatUnavailable(error: unknown): boolean {
  if (!(error instanceof TelegramError)) return false;
  if (error.code === 403) return true;
  return error.code === 400 && /chat not found|bot was kicked|user is deactivated/i.test(error.message);
}

function isEntityError(error: unknown): boolean {
  return error instanceof TelegramError && error.code === 400 && /entit|parse/i.test(error.message);
}

/**
 * What is posted of a transcript: the turns, notices and the verdict. Summaries and held-back answers
 * are not, nor interjections: the chat already shows them (the user's own message, or the door's
 * acknowledgement).
 */
const isPosted = (message: Message) =>
  (message.authorType === "model" || message.authorType === "system" || message.authorType === "verdict") &&
  !message.flagged;

export function createOutbox(deps: {
  store: DeliveryStore;
  debate: DebateService;
  sender: FloodControlledSender;
  logger: Logger;
  /** Delay before retrying a chat after a transient failure or a lease held elsewhere. Default 2000 ms. */
  retryDelayMs?: number;
  clock?: Clock;
}): Outbox {
  const clock = deps.clock ?? systemClock;
  const { store, debate, sender } = deps;
  const logger = deps.logger.child({ component: "bot-outbox" });
  const retryDelayMs = deps.retryDelayMs ?? 2000;
  const running = new Map<number, Promise<void>>();
  const dirty = new Set<number>();
  const timers = new Set<() => void>();
  const chats = new Map<string, number | null>();
  let stopped = false;

  const remember = (sessionId: string, chatId: number | null) => {
    chats.delete(sessionId);
    chats.set(sessionId, chatId);
    // Insertion order is age: drop the oldest beyond the bound.
    if (chats.size > CHAT_CACHE_SIZE) chats.delete(chats.keys().next().value!);
  };

  const retryLater = (chatId: number) => {
    if (stopped) return;
    const cancel = clock.after(retryDelayMs, () => {
      timers.delete(cancel);
      kick(chatId);
    });
    timers.add(cancel);
  };

  const render = (session: Session, row: Message, personas: Map<number, string | null>): TelegramText[] => {
    if (row.authorType === "system") return splitTelegramText({ text: row.content, entities: [] });
    if (row.authorType === "verdict") {
      // Highlighted: a bold heading in the session's language, naming the moderator's model.
      const heading = `${debateTexts(session.language).verdictHeading} · ${row.authorName}`;
      return renderTurn(heading, row.content);
    }
    const header = TEXTS[languageOf(session.language)].turnHeader(
      row.authorName,
      row.participantId === null ? null : (personas.get(row.participantId) ?? null),
      row.round,
      session.maxRounds,
    );
    return renderTurn(header, row.content);
  };

  /** A send guarded by the session's lease, checked right before Telegram is called. */
  type Leased = { guard: () => Promise<boolean> };

  /**
   * Claims the session's lease and returns its guard. The lease is Postgres's (LEASE_MS from each
   * claim, on the database's clock), so for the first half of it after a claim no other instance
   * can hold it and the guard answers at once; later it claims again. A claim before every send
   * cost up to 240 ms under load, between the send's flood-budget token and Telegram.
   */
  const claimLease = async (sessionId: string, token: string): Promise<Leased | null> => {
    let sureUntil = 0;
    const claim = async () => {
      const issued = clock.now();
      const held = await store.claim(sessionId, token, LEASE_MS);
      if (held) sureUntil = issued + LEASE_MS / 2;
      return held;
    };
    if (!(await claim())) return null;
    return { guard: async () => clock.now() < sureUntil || (await claim()) };
  };

  const sendChunk = async (chatId: number, chunk: TelegramText, lease: Leased): Promise<number> => {
    try {
      const sent = await sender.send({ chat_id: chatId, text: chunk.text, entities: chunk.entities }, lease);
      return sent.message_id;
    } catch (error) {
      if (!isEntityError(error) || chunk.entities.length === 0) throw error;
      logger.warn("entities rejected, sending plain text", { chatId, error });
      const sent = await sender.send({ chat_id: chatId, ...plain(chunk) }, lease);
      return sent.message_id;
    }
  };

  /** The chat blocked or removed the bot: stop its debates and give up what is left to post. */
  const abandonChat = async (chatId: number, reason: string) => {
    logger.warn("chat unavailable, stopping its debates", { chatId, reason });
    for (const sessionId of await store.abandonChat(chatId, reason)) {
      await debate
        .stopSession(sessionId, "error", `Telegram: ${reason}`)
        .catch((error) => logger.error("stop after 403 failed", { error }));
    }
  };

  /** Posts one message (resuming after the chunks already out) and records it. */
  const post = async (
    chatId: number,
    session: Session,
    row: Message,
    personas: Map<number, string | null>,
    lease: Leased,
  ) => {
    const record = await store.recordTurn(
      { sessionId: session.id, chatId, messageId: row.id, turnIndex: row.turnIndex },
      isPosted(row) ? "pending" : "skipped",
    );
    if (record.status !== "pending") return;
    const chunks = render(session, row, personas);
    const ids = [...(record.telegramMessageIds ?? [])];
    for (let index = ids.length; index < chunks.length; index++) {
      try {
        ids.push(await sendChunk(chatId, chunks[index]!, lease));
      } catch (error) {
        if (error instanceof TelegramError && error.code === 400 && !isChatUnavailable(error)) {
          logger.error("message rejected by Telegram", { chatId, messageId: row.id, error });
          await store.settle(record.id, { status: "failed", telegramMessageIds: ids, error: error.message });
          return;
        }
        throw error;
      }
      // Chunks already out are remembered, so a restart resumes after them instead of repeating.
      if (index < chunks.length - 1) await store.saveChunks(record.id, ids);
    }
    await store.settle(record.id, {
      status: chunks.length === 0 ? "skipped" : "sent",
      telegramMessageIds: ids,
    });
  };

  const postClosing = async (chatId: number, session: Session, lease: Leased) => {
    const language = languageOf(session.language);
    const text = TEXTS[language].closing(
      closingReason(session),
      session.currentRound,
      session.maxRounds,
      await debate.getTotals(session.id),
    );
    // The next steps hang under the closing line (the menu stays from the announcement).
    const verdict = verdictOffered(await debate.listMessages(session.id));
    await sender.send(
      { chat_id: chatId, text, reply_markup: endKeyboard(language, session.id, { verdict }) },
      lease,
    );
    await store.closeSession(session.id, "sent");
  };

  /** One pass over the chat's open sessions, oldest first; false when one is being posted elsewhere. */
  const drain = async (chatId: number, token: string): Promise<boolean> => {
    for (const sessionId of await store.openSessions(chatId)) {
      // Sessions of a chat go out in order: one held by another pass holds up the newer ones too.
      const lease = await claimLease(sessionId, token);
      if (!lease) return false;
      try {
        // Status read before the rows: once ended, every row of the session is already written.
        const session = await debate.getSessionRow(sessionId);
        const ended = ENDED.has(session.status);
        // Posting is in turn order: everything up to the last settled row is done (a row recorded but
        // still pending, cut short by a crash, is found again by `recordTurn` with its chunks so far).
        const rows = await debate.listMessages(sessionId, {
          afterTurnIndex: await store.settledThrough(sessionId),
        });
        if (rows.length > 0) {
          const participants = await debate.getParticipants(sessionId);
          const personas = new Map(
            participants.map((participant) => [participant.id, participant.personaTitle]),
          );
          for (const row of rows) {
            if (stopped) return true;
            await post(chatId, session, row, personas, lease);
          }
        }
        if (ended && !stopped) await postClosing(chatId, session, lease);
      } finally {
        await store.release(sessionId, token).catch(() => {});
      }
    }
    return true;
  };

  // One token per chat for this instance (one pass per chat runs here at a time): a lease left
  // behind by a pass that failed before releasing it (Postgres cut mid-pass) is this instance's
  // own to take again at once, not after it lapses.
  const instance = randomUUID();
  const pass = async (chatId: number) => {
    try {
      if (!(await drain(chatId, `${instance}:${chatId}`))) retryLater(chatId);
    } catch (error) {
      if (isChatUnavailable(error)) {
        await abandonChat(chatId, (error as Error).message);
      } else if (error instanceof LeaseLostError) {
        // Another pass took the session over while this one waited for its turn to send.
        retryLater(chatId);
      } else {
        logger.error("delivery failed, will retry", { chatId, error });
        retryLater(chatId);
      }
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
    async track(sessionId, chatId) {
      await store.open(sessionId, chatId);
      remember(sessionId, chatId);
    },
    async chatOf(sessionId) {
      if (chats.has(sessionId)) return chats.get(sessionId) ?? null;
      const tracked = await store.chatOf(sessionId);
      if (tracked !== null) {
        remember(sessionId, tracked);
        return tracked;
      }
      const { chatId } = await debate.getSessionRow(sessionId);
      if (chatId === null) remember(sessionId, null);
      else await this.track(sessionId, chatId);
      return chatId;
    },
    kick,
    lastSession: (chatId) => store.lastSession(chatId),
    async reopen(sessionId) {
      const chatId = await this.chatOf(sessionId);
      if (chatId === null) return;
      await store.reopen(sessionId);
      kick(chatId);
    },
    async hasUndelivered(chatId) {
      const pass = running.get(chatId);
      if (pass) await Promise.race([pass, clock.sleep(PASS_WAIT_MS)]);
      return (await store.openSessions(chatId)).length > 0;
    },
    async sweep() {
      const recent = await debate.listChatSessions({ since: new Date(clock.now() - DISCOVERY_WINDOW_MS) });
      const tracked = await store.tracked(recent.map((session) => session.id));
      for (const session of recent) {
        if (!tracked.has(session.id)) await store.open(session.id, session.chatId);
      }
      for (const chatId of await store.openChats()) kick(chatId);
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running.values()]);
    },
    async stop() {
      stopped = true;
      for (const cancel of timers) cancel();
      timers.clear();
      await Promise.all([...running.values()]);
    },
  };
}
