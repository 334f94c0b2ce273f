import { users } from "../db/schema";
import type { Db } from "../platform/db";

/** A Telegram user as the bot sees it on an update. */
export interface TelegramProfile {
  id: number;
  username?: string;
  language_code?: string;
}

/** The bot's users: who wrote to it. The bot door is given this instead of the raw `db`. */
export interface UserService {
  /** Records (or refreshes) the user behind an update; returns our `users.id`. */
  touch(profile: TelegramProfile): Promise<number>;
}

export function createUserService(db: Db): UserService {
  return {
    async touch(profile) {
      const [row] = await db
        .insert(users)
        .values({
          telegramId: profile.id,
          username: profile.username ?? null,
          languageCode: profile.language_code ?? null,
        })
        .onConflictDoUpdate({
          target: users.telegramId,
          set: { username: profile.username ?? null, languageCode: profile.language_code ?? null },
        })
        .returning({ id: users.id });
      return row!.id;
    },
  };
}
