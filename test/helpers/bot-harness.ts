import type { AppTuning } from "../../src/app";
import type { TelegramBotDoor } from "../../src/bot/create-bot";
import { type FakeTelegramServer, type SentDraft, startFakeTelegramServer } from "./fake-telegram-server";
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
