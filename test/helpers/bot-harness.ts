import { type CreateBotDeps, createBot, type TelegramBotDoor } from "../../src/bot/create-bot";
import { type FakeTelegramServer, startFakeTelegramServer } from "./fake-telegram-server";
import type { TestStack } from "./test-stack";

/** A bot wired to a test stack and a fake Telegram server. */
export async function startTestBot(
  stack: TestStack,
  options: { telegram?: FakeTelegramServer; delivery?: CreateBotDeps["delivery"] } = {},
): Promise<{ telegram: FakeTelegramServer; door: TelegramBotDoor; stop(): Promise<void> }> {
  const telegram = options.telegram ?? (await startFakeTelegramServer());
  const door = createBot({
    token: telegram.token,
    apiUrl: telegram.url,
    db: stack.db,
    engine: stack.engine,
    settings: stack.settings,
    coordination: stack.coordination,
    logger: stack.logger,
    delivery: { perChatIntervalMs: 50, draftIntervalMs: 50, retryDelayMs: 200, ...options.delivery },
  });
  await door.start();
  await telegram.waitForPoll();
  return {
    telegram,
    door,
    async stop() {
      await door.stop();
      if (!options.telegram) await telegram.stop();
    },
  };
}
