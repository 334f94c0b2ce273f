/**
 * The last slot of a user's daily debates, raced by two instances on one Postgres and Redis: two
 * topics sent at the same instant (through each instance's webhook) start one debate, and a burst
 * of starts from both instances never goes over the limit. The count is taken from the sessions
 * table under a per-user lock in the transaction that inserts the session.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { App } from "../../src/app";
import { sessions, users } from "../../src/db/schema";
import { DebateError } from "../../src/debate/debate-errors";
import { isSetupCard, setupButtonOf } from "../helpers/bot-harness";
import { eventually } from "../helpers/eventually";
import {
  type ChatSpec,
  type FakeTelegramServer,
  startFakeTelegramServer,
  textsOf,
  type Update,
  type UserSpec,
} from "../helpers/fake-telegram-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

const SECRET = "race-webhook-secret";
let stack: TestStack;
let telegram: FakeTelegramServer;
let first: App;
let second: App;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 1, USER_DEBATES_PER_DAY: 1 } });
  telegram = await startFakeTelegramServer();
  const env = {
    TELEGRAM_BOT_TOKEN: telegram.token,
    TELEGRAM_API_URL: telegram.url,
    TELEGRAM_WEBHOOK_URL: "https://bot.example.com/telegram/webhook",
    TELEGRAM_WEBHOOK_SECRET: SECRET,
  };
  first = await stack.instance({ env });
  second = await stack.instance({ env });
  // Both bots are up once each has registered the webhook.
  await eventually(
    () => telegram.calls.filter((call) => call.method === "setWebhook" && call.response?.ok).length >= 2,
    { timeoutMs: 15_000, message: "both instances registering the webhook" },
  );
});
afterAll(async () => {
  await first?.stop();
  await second?.stop();
  await stack?.stop();
  await telegram?.stop();
});

/** Telegram posting an update to one instance's webhook. */
async function post(app: App, update: Update) {
  const response = await app.http.handle(
    new Request("http://localhost/telegram/webhook", {
      method: "POST",
      headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": SECRET },
      body: JSON.stringify(update),
    }),
  );
  expect(response.status).toBe(200);
}

describe("the last slot of the day", () => {
  test("two topics at the same instant on two instances: one debate starts, the other is refused", async () => {
    const racer: UserSpec = { id: 8001, username: "racer", language_code: "ru" };
    const left: ChatSpec = { id: -8001, type: "supergroup" };
    const right: ChatSpec = { id: -8002, type: "supergroup" };
    await post(first, telegram.sendText(left, "/new", racer));
    await post(second, telegram.sendText(right, "/new", racer));
    await eventually(() =>
      [left, right].every((chat) => textsOf(telegram, chat.id).some((t) => t.includes("Напишите тему"))),
    );

    await post(first, telegram.sendText(left, "Левая тема", racer));
    await post(second, telegram.sendText(right, "Правая тема", racer));
    const cardIn = (chat: ChatSpec) =>
      telegram.waitForSent((message) => message.chat_id === chat.id && isSetupCard(message), 15_000);
    const [leftCard, rightCard] = await Promise.all([cardIn(left), cardIn(right)]);
    // Both taps on «Start» at the same instant, one on each instance.
    await Promise.all([
      post(first, telegram.pressButton(left, leftCard.message_id, setupButtonOf(leftCard, "start")!, racer)),
      post(
        second,
        telegram.pressButton(right, rightCard.message_id, setupButtonOf(rightCard, "start")!, racer),
      ),
    ]);
    const answered = (chat: ChatSpec) =>
      textsOf(telegram, chat.id).find(
        (text) => text.startsWith("Тема:") || text.startsWith("Лимит на сегодня"),
      );
    await eventually(() => answered(left) !== undefined && answered(right) !== undefined, {
      timeoutMs: 15_000,
    });
    const answers = [answered(left)!, answered(right)!].sort();
    expect(answers[0]).toStartWith("Лимит на сегодня исчерпан: обсуждений в день — не больше 1.");
    expect(answers[1]).toStartWith("Тема:");

    const [user] = await stack.db.select().from(users).where(eq(users.telegramId, racer.id));
    expect(await stack.db.select().from(sessions).where(eq(sessions.userId, user!.id))).toHaveLength(1);
  }, 60_000);

  test("a burst of starts from both instances never goes over the limit", async () => {
    await stack.settings.update({ USER_DEBATES_PER_DAY: 3 }, "test");
    const user = await first.services.users.touch({ id: 8002, username: "burst" });
    const attempts = Array.from({ length: 8 }, (_, index) =>
      (index % 2 === 0 ? first : second).services.debate.createSession({
        topic: `Burst ${index}`,
        userId: user.id,
        chatId: -8100 - index,
        source: "telegram",
        language: "en",
      }),
    );
    const outcomes = await Promise.allSettled(attempts);
    const created = outcomes.filter((outcome) => outcome.status === "fulfilled");
    const refused = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason] : []));
    expect(created).toHaveLength(3);
    expect(refused).toHaveLength(5);
    for (const error of refused) {
      expect(error).toBeInstanceOf(DebateError);
      expect(error).toMatchObject({
        code: "quota_exceeded",
        details: { limit: "USER_DEBATES_PER_DAY", value: 3, used: 3, resets_at: expect.any(String) },
      });
    }
    expect(await stack.db.select().from(sessions).where(eq(sessions.userId, user.id))).toHaveLength(3);
  }, 60_000);
});
