/**
 * The public bot's daily limits through the bot door, on a manual clock (the UTC day is the app's
 * clock): a user's debates per day hit and reset at midnight, per-user overrides, a running
 * debate stopped by the bot's and by the user's daily budget (and the next one refused), and a
 * user recorded at most once per few minutes however often they write.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { asc, eq } from "drizzle-orm";
import { sessions, users } from "../../src/db/schema";
import { dailyBudgetStopDetail } from "../../src/debate/stop-conditions";
import { type ApiClient, createApiClient } from "../helpers/api-client";
import { replyToTopic, startTestBot } from "../helpers/bot-harness";
import {
  type ChatSpec,
  type FakeTelegramServer,
  replyTo,
  type UserSpec,
} from "../helpers/fake-telegram-server";
import { createManualClock } from "../helpers/manual-clock";
import { createTestStack, type TestStack } from "../helpers/test-stack";

/** Ten minutes to midnight, UTC. */
const clock = createManualClock(Date.UTC(2026, 11, 1, 23, 50));
let stack: TestStack;
let bot: Awaited<ReturnType<typeof startTestBot>>;
let telegram: FakeTelegramServer;
let api: ApiClient;

beforeAll(async () => {
  stack = await createTestStack({
    settings: { MAX_ROUNDS: 1, USER_DEBATES_PER_DAY: 2 },
    tuning: { clock },
    // Runs are woken at once; timers come only from the clock, so few of them come due as it moves.
    scheduler: { pollMs: 60_000, leaseMs: 600_000 },
  });
  bot = await startTestBot(stack, { delivery: { sweepIntervalMs: 600_000 } });
  telegram = bot.telegram;
  api = await createApiClient(stack);
});
afterAll(async () => {
  await bot?.stop();
  await stack?.stop();
});

const chat = (id: number): ChatSpec => ({ id, type: "private" });
const person = (id: number): UserSpec => ({ id, username: `quota${id}`, language_code: "ru" });

const say = (where: ChatSpec, from: UserSpec, text: string, predicate?: (text: string) => boolean) =>
  replyTo(telegram, where, from, text, predicate);

/** A whole debate through the bot; resolves with the closing line. */
async function debate(where: ChatSpec, from: UserSpec, topic: string) {
  expect(await say(where, from, "/new")).toContain("Напишите тему");
  return replyToTopic(telegram, where, from, topic, (text) => text.startsWith("Обсуждение завершено"));
}

const settings = (values: Record<string, string | number>) => stack.settings.update(values, "test");
const lastSession = async (chatId: number) =>
  (
    await stack.db.select().from(sessions).where(eq(sessions.chatId, chatId)).orderBy(asc(sessions.createdAt))
  ).at(-1)!;

describe("debates per day", () => {
  test("the limit refuses the next debate with when it resets; a new UTC day resets it", async () => {
    const where = chat(7201);
    const ann = person(7201);
    expect(await say(where, ann, "/usage")).toStartWith("Сегодня: обсуждений 0 из 2,");
    await debate(where, ann, "Первая тема дня");
    await debate(where, ann, "Вторая тема дня");
    expect(await say(where, ann, "/new")).toBe(
      "Лимит на сегодня исчерпан: обсуждений в день — не больше 2. Лимит обновится в 00:00 UTC (через 10 мин).",
    );
    expect(await say(where, ann, "/usage")).toStartWith("Сегодня: обсуждений 2 из 2,");

    // Their own limit (audited) applies at once; null gives the setting back.
    await api.request("PATCH", "/api/users/7201", { body: { debates_per_day: 3 } });
    expect(await say(where, ann, "/new")).toContain("Напишите тему");
    await say(where, ann, "/stop");
    await api.request("PATCH", "/api/users/7201", { body: { debates_per_day: null } });
    expect(await say(where, ann, "/new")).toStartWith("Лимит на сегодня исчерпан");

    await clock.advance(10 * 60_000);
    expect(await say(where, ann, "/usage")).toStartWith("Сегодня: обсуждений 0 из 2,");
    expect(await debate(where, ann, "Тема нового дня")).toContain("достигнут лимит раундов");
    const { session } = await stack.debate.getSession((await lastSession(where.id)).id);
    expect(session.createdAt.toISOString()).toBe("2026-12-02T00:00:00.000Z");
  }, 60_000);

  test("a user is written at most once per few minutes, however often they write", async () => {
    const where = chat(7202);
    const bob = person(7202);
    const seen = async () =>
      (await stack.db.select().from(users).where(eq(users.telegramId, bob.id)))[0]?.lastSeenAt?.toISOString();
    const first = new Date(clock.now()).toISOString();
    await say(where, bob, "/help");
    expect(await seen()).toBe(first);
    await clock.advance(60_000);
    await say(where, bob, "/help");
    await say(where, bob, "/usage");
    expect(await seen()).toBe(first);
    await clock.advance(5 * 60_000);
    await say(where, bob, "/help");
    expect(await seen()).toBe(new Date(clock.now()).toISOString());
  }, 60_000);
});

describe("daily budgets stop a running debate", () => {
  // Every answer costs exactly its output: 1M tokens at $0.60 (ChatGPT) and $0.42 (DeepSeek).
  const expensive = () =>
    stack.fakeLlm.setResponder(() => ({ completionTokens: 1_000_000, promptTokens: 0 }));

  test("the bot's budget: the debate stops with cost_limit once crossed, and says so; the next one is refused", async () => {
    await settings({
      MAX_ROUNDS: 5,
      USER_DEBATES_PER_DAY: 0,
      USER_COST_PER_DAY_USD: 0,
      SESSION_COST_LIMIT_USD: 0,
      SESSION_TOKEN_LIMIT: 100_000_000,
      BOT_COST_PER_DAY_USD: "1.5",
    });
    expensive();
    try {
      const where = chat(7203);
      const closing = await debate(where, person(7203), "Дорогая тема");
      expect(closing).toContain("исчерпан дневной бюджет бота (обновится в 00:00 UTC)");
      const detail = await stack.debate.getSession((await lastSession(where.id)).id);
      expect(detail.session).toMatchObject({
        status: "stopped",
        stopReason: "cost_limit",
        stopDetail: dailyBudgetStopDetail("BOT_COST_PER_DAY_USD"),
      });
      // $0.60 + $0.42 + $0.60 = $1.62: the third answer crossed $1.50, no fourth was asked for.
      expect(detail.messages.filter((message) => message.authorType === "model")).toHaveLength(3);
      expect(detail.totals.cost).toBe("1.62000000");

      const other = chat(7204);
      expect(await say(other, person(7204), "/new")).toBe(
        // The clock reads 00:06 by now (the tests above moved it).
        "Бот исчерпал дневной бюджет на обсуждения. Лимит обновится в 00:00 UTC (через 23 ч 54 мин).",
      );
      const refused = telegram.sent.filter((message) => message.chat_id === other.id);
      expect(refused).toHaveLength(1);
    } finally {
      stack.fakeLlm.reset();
    }
  }, 60_000);

  test("the user's budget: their debate stops once crossed; the operator's API is not limited", async () => {
    await settings({ BOT_COST_PER_DAY_USD: 0, USER_COST_PER_DAY_USD: "1" });
    expensive();
    try {
      const where = chat(7205);
      const cat = person(7205);
      const closing = await debate(where, cat, "Тема подороже");
      expect(closing).toContain("исчерпан ваш дневной лимит стоимости");
      const detail = await stack.debate.getSession((await lastSession(where.id)).id);
      expect(detail.session.stopDetail).toBe(dailyBudgetStopDetail("USER_COST_PER_DAY_USD"));
      expect(detail.totals.cost).toBe("1.02000000");
      expect(await say(where, cat, "/new")).toStartWith(
        "Ваши обсуждения сегодня уже стоили $1 — это дневной лимит. Лимит обновится в 00:00 UTC",
      );
      // The API is the operator's own door: no daily limit applies to it.
      const created = await api.request("POST", "/api/sessions", {
        body: { topic: "Operator's own", max_rounds: 1 },
      });
      expect(created.status).toBe(201);
    } finally {
      stack.fakeLlm.reset();
    }
  }, 60_000);
});
