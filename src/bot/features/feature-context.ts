import type { DebateService } from "../../debate/debate-service";
import type { Clock } from "../../platform/clock";
import type { Coordination } from "../../platform/coordination";
import type { Logger } from "../../platform/logger";
import type { SettingsService } from "../../settings/settings-service";
import type { BotUser, UserService } from "../../users/user-service";
import type { FloodControlledSender } from "../delivery/flood-control";
import type { Outbox } from "../delivery/outbox";
import type { BotLanguage, BotTexts } from "../i18n/texts";
import type { ChatAdminCheck } from "./chat-admins";

/** What every feature may use: services passed in, never imported singletons. */
export interface FeatureDeps {
  debate: DebateService;
  settings: SettingsService;
  users: UserService;
  coordination: Coordination;
  sender: FloodControlledSender;
  outbox: Outbox;
  /** Whether a user administers a group (asked of Telegram, cached briefly). */
  isChatAdmin: ChatAdminCheck;
  clock: Clock;
  logger: Logger;
}

/** One incoming update, reduced to what features need. */
export interface FeatureContext {
  chatId: number;
  isPrivate: boolean;
  /** Telegram user id of the sender. */
  telegramUserId: number;
  /** Our `users.id`. */
  userId: number;
  /** The sender as recorded (blocked, allowed). */
  user: BotUser;
  language: BotLanguage;
  texts: BotTexts;
  /** Sends a message to the chat through flood control. */
  reply(text: string, replyMarkup?: unknown): Promise<void>;
}

/** Conversation state "awaiting the topic" lives in coordination, per chat and user, and expires. */
export const AWAITING_TOPIC_TTL_MS = 10 * 60_000;
export const awaitingTopicKey = (context: Pick<FeatureContext, "chatId" | "telegramUserId">) =>
  `bot:awaiting-topic:${context.chatId}:${context.telegramUserId}`;
