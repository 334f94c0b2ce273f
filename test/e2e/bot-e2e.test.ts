import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { desc, eq } from "drizzle-orm";
import { sessions, users } from "../../src/db/schema";
import { startTestBot, submitTopic } from "../helpers/bot-harness";
import { closingStatus, deliveriesOf } from "../helpers/deliveries";
import { eventually } from "../helpers/eventually";
import type { ChatSpec, FakeTelegramServer, UserSpec } from "../helpers/fake-telegram-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let bot: Awaited<ReturnType<typeof startTestBot>>;
let telegram: FakeTelegramServer;

const chat: ChatSpec = { id: 5001, type: "private" };
const user: UserSpec = { id: 5001, first_name: "Ann", username: "ann", language_code: "ru" };

beforeAll(async () => {
  stack = await createTestStack({
    settings: { MAX_ROUNDS: 2, PAYMENT_URL: "https://pay.example.com/thanks" },
  });
  bot = await startTestBot(stack);
  telegram = bot.telegram;
});
afterAll(async () => {
  await bot?.stop();
  await stack?.stop();
});

const modelMessages = (chatId: number) =>
  telegram.sent.filter((message) => message.chat_id === chatId && message.text.startsWith("🤖"));

describe("telegram bot end to end", () => {
  test("/start shows the menu and registers commands in both languages", async () => {
    telegram.sendText(chat, "/start", user);
    const greeting = await telegram.waitForSent((m) => m.chat_id === chat.id && m.text.includes("Привет"));
    const labels = greeting.reply_markup.keyboard.flat().map((button: { text: string }) => button.text);
    expect(labels).toEqual(["Новое обсуждение", "Остановить диалог", "Мой лимит", "Отблагодарить создателя"]);
    expect(telegram.getCommands("")?.map((c) => c.command)).toEqual([
      "new",
      "stop",
      "usage",
      "export",
      "donate",
      "help",
    ]);
    expect(telegram.getCommands("en")?.[0]?.description).toBe("New discussion");
    const [row] = await stack.db.select().from(users).where(eq(users.telegramId, user.id));
    expect(row?.username).toBe("ann");
  }, 60_000);

  test("new discussion: topic → two full rounds in order with headers, closing line, history in Postgres", async () => {
    stack.fakeLlm.reset();
    telegram.sendText(chat, "Новое обсуждение", user);
    await telegram.waitForSent((m) => m.chat_id === chat.id && m.text.includes("Напишите тему"));
    await submitTopic(telegram, chat, user, "Нужен ли городам общественный транспорт бесплатно?");
    const closing = await telegram.waitForSent(
      (m) => m.chat_id === chat.id && m.text.startsWith("Обсуждение завершено"),
      20_000,
    );
    expect(closing.text).toContain("достигнут лимит раундов");
    expect(closing.text).toContain("Раундов: 2/2");
    // The next steps hang under the closing line; the menu stays from the announcement.
    expect(closing.reply_markup.inline_keyboard.flat().map((b: { text: string }) => b.text)).toEqual([
      "➕ Ещё раунд",
      "📄 Экспорт",
      "🆕 Новое обсуждение",
    ]);
    const announce = telegram.sent.find((m) => m.chat_id === chat.id && m.text.startsWith("Тема:"));
    expect(announce?.text).toContain("ChatGPT");
    expect(announce?.text).toContain("DeepSeek");
    expect(announce?.text).toContain("до 2");
    expect(announce?.reply_markup.keyboard.flat().length).toBe(4);
    const turns = modelMessages(chat.id);
    expect(turns.map((m) => m.text.split("\n")[0])).toEqual([
      expect.stringMatching(/^🤖 ChatGPT · .+ · раунд 1\/2$/),
      expect.stringMatching(/^🤖 DeepSeek · .+ · раунд 1\/2$/),
      expect.stringMatching(/^🤖 ChatGPT · .+ · раунд 2\/2$/),
      expect.stringMatching(/^🤖 DeepSeek · .+ · раунд 2\/2$/),
    ]);
    expect(turns[0]!.entities?.[0]).toMatchObject({ type: "bold", offset: 0 });
    expect(announce!.message_id).toBeLessThan(turns[0]!.message_id);
    expect(closing.message_id).toBeGreaterThan(turns[3]!.message_id);
    // Never parse_mode with model text.
    expect(telegram.calls.filter((c) => c.method === "sendMessage" && c.params.parse_mode)).toEqual([]);

    const [session] = await stack.db
      .select()
      .from(sessions)
      .where(eq(sessions.chatId, chat.id))
      .orderBy(desc(sessions.createdAt));
    expect(session).toMatchObject({ status: "finished", stopReason: "max_rounds", source: "telegram" });
    await eventually(async () => (await closingStatus(stack.db, session!.id)) === "sent");
    const detail = await stack.debate.getSession(session!.id);
    const rows = detail.messages.filter((m) => m.authorType === "model");
    expect(rows).toHaveLength(4);
    const posted = (await deliveriesOf(stack.db, session!.id)).byMessage;
    for (const row of rows) {
      expect(posted.get(row.id)?.status).toBe("sent");
      expect(posted.get(row.id)?.telegramMessageIds?.length).toBeGreaterThan(0);
      expect(row.tokensIn).toBeGreaterThan(0);
      expect(row.tokensOut).toBeGreaterThan(0);
    }
    expect(rows.map((row) => posted.get(row.id)!.telegramMessageIds![0])).toEqual(
      turns.map((m) => m.message_id),
    );
    expect(detail.totals.tokensIn).toBeGreaterThan(0);
    expect(Number(detail.totals.cost)).toBeGreaterThanOrEqual(0);
    expect(typing()).toBeGreaterThan(0);
  }, 60_000);

  test("stop mid-debate: confirmation with reason and totals, no further model message", async () => {
    stack.fakeLlm.reset();
    stack.fakeLlm.setResponder(() => ({
      chunkDelayMs: 150,
      chunks: ["Первый ", "довод ", "и ", "ещё ", "один."],
    }));
    const before = modelMessages(chat.id).length;
    const beforePrompt = lastId();
    telegram.sendText(chat, "/new", user);
    await telegram.waitForSent(
      (m) => m.chat_id === chat.id && m.text.includes("Напишите тему") && m.message_id > beforePrompt,
    );
    const sinceId = lastId();
    await submitTopic(telegram, chat, user, "Стоит ли запретить машины в центре?");
    await telegram.waitForSent(
      (m) => m.chat_id === chat.id && m.message_id > sinceId && m.text.startsWith("🤖 ChatGPT"),
      15_000,
    );
    telegram.sendText(chat, "Остановить диалог", user);
    const confirmation = await telegram.waitForSent(
      (m) => m.chat_id === chat.id && m.message_id > sinceId && m.text.startsWith("Обсуждение завершено"),
      10_000,
    );
    expect(confirmation.text).toContain("остановлено пользователем");
    expect(confirmation.text).toContain("Токены:");
    expect(confirmation.text).toContain("Стоимость: $");
    const afterStop = modelMessages(chat.id).length;
    await Bun.sleep(1200);
    expect(modelMessages(chat.id).length).toBe(afterStop);
    expect(afterStop - before).toBeLessThanOrEqual(2);
    expect(
      telegram.sent.filter((m) => m.message_id > confirmation.message_id && m.chat_id === chat.id),
    ).toEqual([]);
    const active = await stack.debate.activeSessionForChat(chat.id);
    expect(active).toBeNull();
    // Nothing running → says so.
    telegram.sendText(chat, "/stop", user);
    await telegram.waitForSent((m) => m.chat_id === chat.id && m.text.includes("ничего не обсуждается"));
    stack.fakeLlm.reset();
  }, 60_000);

  test("thank the creator: inline URL button equal to PAYMENT_URL, follows setting changes", async () => {
    telegram.sendText(chat, "Отблагодарить создателя", user);
    const first = await telegram.waitForSent(
      (m) => m.chat_id === chat.id && m.reply_markup?.inline_keyboard?.[0]?.[0]?.url !== undefined,
    );
    expect(first.reply_markup.inline_keyboard[0][0].url).toBe("https://pay.example.com/thanks");
    await stack.settings.update({ PAYMENT_URL: "https://pay.example.com/new" }, "test");
    telegram.sendText(chat, "/donate", user);
    const second = await telegram.waitForSent(
      (m) =>
        m.chat_id === chat.id &&
        m.reply_markup?.inline_keyboard?.[0]?.[0]?.url === "https://pay.example.com/new",
    );
    expect(second.message_id).toBeGreaterThan(first.message_id);
  }, 60_000);

  test("English users get English texts", async () => {
    const enChat: ChatSpec = { id: 5002, type: "private" };
    telegram.sendText(enChat, "/start", { id: 5002, language_code: "en-GB" });
    const greeting = await telegram.waitForSent((m) => m.chat_id === enChat.id);
    expect(greeting.text).toStartWith("Hi!");
    expect(greeting.reply_markup.keyboard.flat().map((b: { text: string }) => b.text)).toEqual([
      "New discussion",
      "Stop dialog",
      "My usage",
      "Thank the creator",
    ]);
  }, 60_000);
});

function lastId(): number {
  return telegram.sent.filter((m) => m.chat_id === chat.id).at(-1)?.message_id ?? 0;
}

function typing(): number {
  return telegram.calls.filter((c) => c.method === "sendChatAction" && c.params.action === "typing").length;
}
