import type { Bot } from "gramio";
import { LRUCache } from "lru-cache";
import type { Clock } from "../../platform/clock";
import type { Logger } from "../../platform/logger";

const ADMIN_STATUSES = new Set(["creator", "administrator"]);

/**
 * Whether a user administers a group, asked of Telegram (`getChatMember`) and remembered briefly:
 * a promotion or demotion applies within `ttlMs`. Bounded: the oldest answers are forgotten first.
 * A failed question counts as "no" (the stop is refused, never wrongly allowed).
 */
export function createChatAdminCheck(deps: {
  // biome-ignore lint/suspicious/noExplicitAny: any GramIO bot, whatever its derives.
  bot: Bot<any, any>;
  clock: Clock;
  logger: Logger;
  ttlMs?: number;
  max?: number;
}) {
  const answers = new LRUCache<string, boolean>({
    max: deps.max ?? 10_000,
    ttl: deps.ttlMs ?? 60_000,
    perf: deps.clock,
  });
  return async (chatId: number, userId: number): Promise<boolean> => {
    const key = `${chatId}:${userId}`;
    const known = answers.get(key);
    if (known !== undefined) return known;
    try {
      const member = await deps.bot.api.getChatMember({ chat_id: chatId, user_id: userId });
      const isAdmin = ADMIN_STATUSES.has(member.status);
      answers.set(key, isAdmin);
      return isAdmin;
    } catch (error) {
      deps.logger.warn("getChatMember failed", { chatId, error });
      return false;
    }
  };
}

export type ChatAdminCheck = ReturnType<typeof createChatAdminCheck>;
