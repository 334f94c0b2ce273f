/**
 * The bot's inline buttons through the fake Bot API: every callback query answered (unknown data
 * included), buttons of an older debate refused, the setup keyboard after the topic, interjections
 * while a debate runs, and the buttons under the closing line (one more round, verdict, export,
 * new discussion) and /export.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { endButton } from "../../src/bot/features/buttons";
import { startTestBot } from "../helpers/bot-harness";
import { eventually } from "../helpers/eventually";
import {
  type ChatSpec,
  type FakeTelegramServer,
  nextSentTo,
  type UserSpec,
} from "../helpers/fake-telegram-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let bot: Awaited<ReturnType<typeof startTestBot>>;
let telegram: FakeTelegramServer;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 1 } });
  bot = await startTestBot(stack);
  telegram = bot.telegram;
});
afterAll(async () => {
  await bot?.stop();
  await stack?.stop();
});

const privateChat = (id: number, language_code = "en"): { chat: ChatSpec; user: UserSpec } => ({
  chat: { id, type: "private" },
  user: { id, first_name: "Tess", language_code },
});

/** Presses a button and resolves with the bot's answer to that callback query. */
async function press(chat: ChatSpec, user: UserSpec, messageId: number, data: string, force = false) {
  const update = telegram.pressButton(chat, messageId, data, user, { force });
  const id = update.callback_query!.id;
  await eventually(() => telegram.callbackAnswers.some((answer) => answer.callback_query_id === id));
  return telegram.callbackAnswers.find((answer) => answer.callback_query_id === id)!;
}

/** Starts a debate for the chat straight through the core, as if the bot had been asked. */
async function debateIn(chatId: number) {
  const created = await stack.debate.createSession({ topic: "Tabs or spaces?", chatId, source: "telegram" });
  await bot.door.outbox.track(created.session.id, chatId);
  return created.session.id;
}

describe("callback queries", () => {
  test("unknown or malformed data is answered, saying the button no longer works", async () => {
    const { chat, user } = privateChat(8101);
    for (const data of ["nonsense", "end", `${endButton.pack({ session: "x", action: "new" })};;`]) {
      const answer = await press(chat, user, 1, data, true);
      expect(answer.text).toBe("This button no longer works.");
    }
    expect(telegram.unansweredCallbackQueries()).toEqual([]);
  }, 60_000);

  test("a button of an older debate says it has ended and does nothing", async () => {
    const { chat, user } = privateChat(8102, "ru");
    const older = await debateIn(chat.id);
    await stack.debate.stopSession(older, "user");
    await debateIn(chat.id);
    const before = telegram.sent.filter((message) => message.chat_id === chat.id).length;
    const answer = await press(chat, user, 1, endButton.pack({ session: older, action: "new" }), true);
    expect(answer.text).toBe("Это обсуждение уже закончилось.");
    const reply = nextSentTo(telegram, chat.id);
    telegram.sendText(chat, "/help", user);
    expect((await reply).text).toStartWith("Команды:");
    // Only the /help answer: the stale button asked for no topic.
    expect(telegram.sent.filter((message) => message.chat_id === chat.id).length).toBe(before + 1);
  }, 60_000);
});
