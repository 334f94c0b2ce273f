import type { AppTuning } from "../../src/app";
import type { TelegramBotDoor } from "../../src/bot/create-bot";
import { type FakeTelegramServer, startFakeTelegramServer } from "./fake-telegram-server";
import type { TestStack } from "./test-stack";

/**
 * Restarts the stack's app with the Telegram door on (pointed at a fake Bot API), as an operator
 * who sets TELEGRAM_BOT_TOKEN and restarts would; `stop()` restarts it without the bot again.
 */
export async function startTestBot(
  stack: TestStack,
  options: { telegram?: FakeTelegramServer; delivery?: AppTuning["bot"] } = {},
): Promise<{ telegram: FakeTelegramServer; door: TelegramBotDoor; stop(): Promise<void> }> {
  const telegram = options.telegram ?? (await startFakeTelegramServer());
  const app = await stack.restart({
    env: { TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_URL: telegram.url },
    tuning: { bot: options.delivery },
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
