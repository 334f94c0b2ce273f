import type { Bot } from "gramio";
import { TelegramError } from "gramio";
import type { Logger } from "../../platform/logger";
import type { TelegramEntity } from "./telegram-text";

/** Telegram's flood limits as the sender applies them. */
export interface FloodLimits {
  /** Minimum gap between two sends to one chat. Default 1000 ms. */
  perChatIntervalMs?: number;
  /** Sends per sliding minute to one group chat. Default 20. */
  groupPerMinute?: number;
  /** Sends per sliding second in all. Default 30. */
  globalPerSecond?: number;
  /** Attempts per message when Telegram answers 429. Default 5. */
  maxAttempts?: number;
}

/** A text message to send: text + entities, never `parse_mode`. */
export interface OutgoingMessage {
  chat_id: number;
  text: string;
  entities?: TelegramEntity[];
  reply_markup?: unknown;
}

/** Telegram kept answering 429 beyond the attempt budget; the message was not sent. */
export class FloodWaitError extends Error {
  constructor(
    readonly chatId: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`Telegram flood control: chat ${chatId} still limited (retry_after ${retryAfterSeconds}s)`);
    this.name = "FloodWaitError";
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Group chats have negative ids (groups, supergroups and channels). */
export const isGroupChat = (chatId: number) => chatId < 0;

/**
 * Every `sendMessage` of the bot goes through here: sends to one chat are serialised in call order
 * and spaced, groups and the whole bot stay under their budgets, and 429 answers are waited out
 * (`retry_after`) a bounded number of times. Nothing is dropped: callers wait for their slot.
 */
export interface FloodControlledSender {
  send(message: OutgoingMessage): Promise<{ message_id: number }>;
}

export function createFloodControlledSender(deps: {
  // biome-ignore lint/suspicious/noExplicitAny: any GramIO bot, whatever its derives.
  bot: Bot<any, any>;
  logger: Logger;
  limits?: FloodLimits;
  /** Told of every 429 answer (metrics). */
  onRateLimited?: (method: string) => void;
}): FloodControlledSender {
  const perChatIntervalMs = deps.limits?.perChatIntervalMs ?? 1000;
  const groupPerMinute = deps.limits?.groupPerMinute ?? 20;
  const globalPerSecond = deps.limits?.globalPerSecond ?? 30;
  const maxAttempts = deps.limits?.maxAttempts ?? 5;
  const lastSend = new Map<number, number>();
  const blockedUntil = new Map<number, number>();
  const groupWindows = new Map<number, number[]>();
  const globalWindow: number[] = [];
  const chains = new Map<number, Promise<unknown>>();

  /** Waits until a send to `chatId` fits every budget, then books it (check-and-book is synchronous). */
  const takeSlot = async (chatId: number) => {
    for (;;) {
      const now = Date.now();
      let wait = 0;
      const last = lastSend.get(chatId);
      if (last !== undefined) wait = Math.max(wait, last + perChatIntervalMs - now);
      wait = Math.max(wait, (blockedUntil.get(chatId) ?? 0) - now);
      while (globalWindow.length > 0 && globalWindow[0]! <= now - 1000) globalWindow.shift();
      if (globalWindow.length >= globalPerSecond) wait = Math.max(wait, globalWindow[0]! + 1000 - now);
      let group: number[] | undefined;
      if (isGroupChat(chatId)) {
        group = groupWindows.get(chatId) ?? [];
        groupWindows.set(chatId, group);
        while (group.length > 0 && group[0]! <= now - 60_000) group.shift();
        if (group.length >= groupPerMinute) wait = Math.max(wait, group[0]! + 60_000 - now);
      }
      if (wait <= 0) {
        lastSend.set(chatId, now);
        globalWindow.push(now);
        group?.push(now);
        return;
      }
      await sleep(wait + 1);
    }
  };

  const sendNow = async (message: OutgoingMessage): Promise<{ message_id: number }> => {
    for (let attempt = 1; ; attempt++) {
      await takeSlot(message.chat_id);
      try {
        // biome-ignore lint/suspicious/noExplicitAny: reply_markup is plain Telegram JSON.
        return await deps.bot.api.sendMessage(message as any);
      } catch (error) {
        if (!(error instanceof TelegramError) || error.code !== 429) throw error;
        deps.onRateLimited?.("sendMessage");
        const retryAfter = Number(error.payload?.retry_after ?? 1) || 1;
        blockedUntil.set(message.chat_id, Date.now() + retryAfter * 1000);
        deps.logger.warn("telegram 429, waiting", { chatId: message.chat_id, retryAfter, attempt });
        if (attempt >= maxAttempts) throw new FloodWaitError(message.chat_id, retryAfter);
      }
    }
  };

  return {
    send(message) {
      const previous = chains.get(message.chat_id) ?? Promise.resolve();
      const current = previous.catch(() => {}).then(() => sendNow(message));
      chains.set(message.chat_id, current);
      const cleanup = () => {
        if (chains.get(message.chat_id) === current) chains.delete(message.chat_id);
      };
      current.then(cleanup, cleanup);
      return current;
    },
  };
}
