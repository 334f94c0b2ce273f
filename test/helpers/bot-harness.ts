import type { AppTuning } from "../../src/app";
import { type SetupAction, setupButton } from "../../src/bot/callback-data";
import type { TelegramBotDoor } from "../../src/bot/create-bot";
import {
  type ChatSpec,
  type FakeTelegramServer,
  nextSentTo,
  type SentDraft,
  type SentMessage,
  startFakeTelegramServer,
  type UserSpec,
} from "./fake-telegram-server";
import type { TestStack } from "./test-stack";

/**
 * Restarts the stack's app with the Telegram door on (pointed at a fake Bot API), as an operator
 * who sets TELEGRAM_BOT_TOKEN and restarts would; `stop()` restarts it without the bot again.
 * `engine` tunes the restarted engine (e.g. `deltaIntervalMs` > 0 to stream drafts).
 */
export async function startTestBot(
  stack: TestStack,
  options: {
    telegram?: FakeTelegramServer;
    delivery?: AppTuning["bot"];
    engine?: AppTuning["engine"];
  } = {},
): Promise<{ telegram: FakeTelegramServer; door: TelegramBotDoor; stop(): Promise<void> }> {
  const telegram = options.telegram ?? (await startFakeTelegramServer());
  const app = await stack.restart({
    env: { TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_URL: telegram.url },
    tuning: { bot: options.delivery, ...(options.engine ? { engine: options.engine } : {}) },
  });
  await telegram.waitForPoll();
  return {
    telegram,
    door: app.telegram!,
    async stop() {
      await stack.restart();
      if (!options.telegram) await telegram.stop();
    },
  };
}

/**
 * The user presses Telegram's stop button under the chat's draft, as soon as one with the button
 * (`can_stop`) is shown: the fake sends the bot a `stopped_message_generation` update. Returns the
 * draft that was stopped.
 */
export async function pressDraftStop(
  telegram: FakeTelegramServer,
  chatId: number,
  timeoutMs = 15_000,
): Promise<SentDraft> {
  await telegram.waitForCall(
    "sendMessageDraft",
    (call) => call.chatId === chatId && call.params.can_stop === true && call.response?.ok === true,
    timeoutMs,
  );
  const draft = telegram.drafts.findLast((shown) => shown.chat_id === chatId && shown.can_stop === true)!;
  telegram.stopDraft(chatId, draft.draft_id);
  return draft;
}

/** Whether a bot message is a setup card (the message after a topic, with its inline keyboard). */
export const isSetupCard = (message: SentMessage) => setupButtonOf(message, "start") !== undefined;

/** The callback data of a setup card's button (`value` picks among formats, rounds, providers). */
export function setupButtonOf(message: SentMessage, action: SetupAction, value?: number): string | undefined {
  const rows: { callback_data?: string }[][] = message.reply_markup?.inline_keyboard ?? [];
  return rows
    .flat()
    .map((button) => button.callback_data)
    .find((data) => {
      if (!data || !setupButton.filter(data)) return false;
      const parsed = setupButton.unpack(data);
      return parsed.action === action && (value === undefined || parsed.value === value);
    });
}

/**
 * The user sends a topic and taps «Start» on the setup card that follows: the one-tap start with
 * the defaults. Resolves with the card once the tap is queued.
 */
export async function submitTopic(
  telegram: FakeTelegramServer,
  chat: ChatSpec,
  user: UserSpec,
  topic: string,
): Promise<SentMessage> {
  const card = nextSentTo(telegram, chat.id, (text) => text.startsWith("📝"));
  telegram.sendText(chat, topic, user);
  const sent = await card;
  telegram.pressButton(chat, sent.message_id, setupButtonOf(sent, "start")!, user);
  return sent;
}

/**
 * {@link submitTopic}, then resolves with the text of the bot's first message after the card that
 * matches `predicate` (the announcement, a refusal, …).
 */
export async function replyToTopic(
  telegram: FakeTelegramServer,
  chat: ChatSpec,
  user: UserSpec,
  topic: string,
  predicate: (text: string) => boolean = () => true,
): Promise<string> {
  const card = await submitTopic(telegram, chat, user, topic);
  const reply = await telegram.waitForSent(
    (message) =>
      message.chat_id === chat.id && message.message_id > card.message_id && predicate(message.text),
    20_000,
  );
  return reply.text;
}
