import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/platform/db";
import { submitTopic } from "../helpers/bot-harness";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "../helpers/fake-openai-server";
import { type FakeTelegramServer, startFakeTelegramServer } from "../helpers/fake-telegram-server";
import { LISTENING, type SpawnedApp, spawnApp } from "../helpers/spawn-app";
import { testSecretsKey } from "../helpers/test-config";
import { createTestDatabase, type TestDatabase, testRedisUrl } from "../helpers/test-db";

/**
 * The product through its real doors: `bun src/main.ts` as a process, a fake Telegram Bot API and
 * a fake LLM provider on 127.0.0.1, real Postgres and Redis.
 */
const chat = { id: 4242, type: "private" as const };
const user = { id: 4242, first_name: "Ann", language_code: "ru" };

let llm: FakeOpenAiServer;
let telegram: FakeTelegramServer;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  llm = await startFakeOpenAiServer();
  telegram = await startFakeTelegramServer();
  cleanups.push(
    () => llm.stop(),
    () => telegram.stop(),
  );
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startProduct(
  extraEnv: Record<string, string> = {},
): Promise<{ app: SpawnedApp; url: string; database: TestDatabase }> {
  const database = await createTestDatabase({ empty: true });
  const app = spawnApp({
    env: {
      NODE_ENV: "production",
      PORT: "0",
      DATABASE_URL: database.url,
      REDIS_URL: testRedisUrl,
      SECRETS_KEY: testSecretsKey,
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_URL: telegram.url,
      OPENAI_API_KEY: "sk-e2e-openai-secret-key-0000",
      OPENAI_BASE_URL: llm.url,
      DEEPSEEK_API_KEY: "sk-e2e-deepseek-secret-key-000",
      DEEPSEEK_BASE_URL: llm.url,
      MAX_ROUNDS: "2",
      PAYMENT_URL: "https://pay.example.com/thanks",
      ...extraEnv,
    },
  });
  cleanups.push(async () => {
    app.kill("SIGKILL");
    await app.exited;
    await database.drop();
  });
  const [, url] = await app.waitFor(LISTENING, 20_000);
  return { app, url: url!, database };
}

describe("the product end to end (polling)", () => {
  test("menu → new discussion → 2 rounds posted in order with headers → closing line; donate opens PAYMENT_URL", async () => {
    const { app, database } = await startProduct();
    await telegram.waitForPoll();
    telegram.sendText(chat, "/start", user);
    const menu = await telegram.waitForSent(
      (message) => message.chat_id === chat.id && message.text.startsWith("Привет"),
    );
    const keyboard = JSON.stringify(menu.reply_markup);
    for (const label of ["Новое обсуждение", "Остановить диалог", "Отблагодарить создателя"])
      expect(keyboard).toContain(label);

    telegram.sendText(chat, "Новое обсуждение", user);
    await telegram.waitForSent(
      (message) => message.chat_id === chat.id && message.text.includes("Напишите тему"),
    );
    await submitTopic(telegram, chat, user, "Нужна ли городам четырёхдневная рабочая неделя?");
    const closing = await telegram.waitForSent(
      (message) => message.chat_id === chat.id && message.text.startsWith("Обсуждение завершено"),
      30_000,
    );
    expect(closing.text).toContain("2/2");
    const turns = telegram.sent.filter(
      (message) => message.chat_id === chat.id && message.text.startsWith("🤖"),
    );
    expect(turns.map((message) => message.text.split("\n")[0])).toEqual([
      "🤖 ChatGPT · Optimist · раунд 1/2",
      "🤖 DeepSeek · Skeptic · раунд 1/2",
      "🤖 ChatGPT · Optimist · раунд 2/2",
      "🤖 DeepSeek · Skeptic · раунд 2/2",
    ]);
    // The moderator's verdict follows the last turn, under its bold heading, before the closing line.
    const posted = telegram.sent.filter((message) => message.chat_id === chat.id);
    const verdict = posted.findIndex((message) => message.text.startsWith("⚖️ Вердикт модератора"));
    expect(verdict).toBeGreaterThan(posted.indexOf(turns.at(-1)!));
    expect(verdict).toBeLessThan(posted.indexOf(closing));
    expect(posted[verdict]!.entities?.[0]).toMatchObject({ type: "bold", offset: 0 });
    // Headers are entities, never parse_mode.
    expect(turns.every((message) => message.entities?.some((entity) => entity.type === "bold"))).toBe(true);
    expect(telegram.calls.some((call) => call.params.parse_mode !== undefined)).toBe(false);

    telegram.sendText(chat, "Отблагодарить создателя", user);
    const donate = await telegram.waitForSent(
      (message) => message.chat_id === chat.id && JSON.stringify(message.reply_markup ?? {}).includes("url"),
    );
    expect(JSON.stringify(donate.reply_markup)).toContain("https://pay.example.com/thanks");

    // Postgres holds the session and its history with tokens and cost; keys are encrypted at rest.
    const [session] = await queryRows<{ status: string; stop_reason: string; chat_id: string }>(
      database.database.db,
      sql`select status, stop_reason, chat_id::text from sessions`,
    );
    expect(session).toEqual({ status: "finished", stop_reason: "max_rounds", chat_id: String(chat.id) });
    const [totals] = await queryRows<{ turns: number; tokens: number; cost: string }>(
      database.database.db,
      sql`select count(*)::int as turns, sum(tokens_in + tokens_out)::int as tokens, sum(cost)::text as cost from messages where author_type = 'model'`,
    );
    expect(totals?.turns).toBe(4);
    expect(totals?.tokens).toBeGreaterThan(0);
    expect(Number(totals?.cost)).toBeGreaterThan(0);
    const keys = await queryRows<{ api_key_encrypted: string }>(
      database.database.db,
      sql`select api_key_encrypted from providers`,
    );
    expect(keys.map((row) => row.api_key_encrypted).join()).not.toContain("sk-e2e");
    // Logs carry tokens and cost per call, and never a key.
    const calls = app
      .output()
      .split("\n")
      .filter((line) => line.includes('"msg":"llm call"'));
    // Four turns and the moderator's verdict (on by default).
    expect(calls.map((line) => JSON.parse(line).kind)).toEqual(["turn", "turn", "turn", "turn", "verdict"]);
    expect(JSON.parse(calls[0]!)).toMatchObject({
      provider: "ChatGPT",
      tokens_in: expect.any(Number),
      cost_usd: expect.any(String),
    });
    expect(app.output()).not.toContain("sk-e2e");
    // The providers' Authorization header carried the decrypted key.
    expect(llm.requests.at(-1)?.headers.authorization).toMatch(/^Bearer sk-e2e-/);

    app.kill("SIGTERM");
    expect(await app.exited).toBe(0);
  }, 60_000);

  test("a Bot API server without setMyCommands: the bot starts and serves; the commands are retried in the background", async () => {
    telegram.failNext(
      "setMyCommands",
      { error_code: 404, description: "Not Found: method not found" },
      Infinity,
    );
    try {
      const { app } = await startProduct();
      await app.waitFor(/"msg":"telegram bot started"/, 20_000);
      const [warning] = await app.waitFor(/"msg":"telegram commands not registered; will retry".*/);
      expect(warning).toContain('"method":"setMyCommands"');
      expect(warning).toContain('"code":404');
      await telegram.waitForPoll();
      const chat = { id: 6262, type: "private" as const };
      telegram.sendText(chat, "/start", { id: 6262, first_name: "Di", language_code: "en" });
      const greeting = await telegram.waitForSent((message) => message.chat_id === chat.id);
      expect(greeting.text).toStartWith("Hi!");
      app.kill("SIGTERM");
      expect(await app.exited).toBe(0);
    } finally {
      telegram.clearFailures();
    }
  }, 60_000);
});

describe("the product end to end (webhook mode)", () => {
  test("registers the webhook, accepts updates with the secret, rejects others", async () => {
    const { app, url } = await startProduct({
      TELEGRAM_WEBHOOK_URL: "https://bot.example.com/telegram/webhook",
      TELEGRAM_WEBHOOK_SECRET: "webhook-secret-123",
    });
    const setWebhook = await telegram.waitForCall("setWebhook");
    expect(setWebhook.params.url).toBe("https://bot.example.com/telegram/webhook");
    expect(setWebhook.params.secret_token).toBe("webhook-secret-123");
    const webhookChat = { id: 5151, type: "private" as const };
    const update = telegram.sendText(webhookChat, "/start", {
      id: 5151,
      first_name: "Bo",
      language_code: "en",
    });
    const post = (secret: string) =>
      fetch(`${url}/telegram/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": secret },
        body: JSON.stringify(update),
      });
    expect((await post("wrong")).status).toBe(401);
    expect((await post("webhook-secret-123")).status).toBe(200);
    const greeting = await telegram.waitForSent((message) => message.chat_id === webhookChat.id);
    expect(greeting.text).toStartWith("Hi!");
    expect(JSON.stringify(greeting.reply_markup)).toContain("New discussion");
    app.kill("SIGTERM");
    expect(await app.exited).toBe(0);
  }, 60_000);
});

describe("the product when Telegram is unreachable at start", () => {
  test("admin and API stay up, the bot retries and then serves", async () => {
    telegram.failNext("getMe", { error_code: 502, description: "Bad Gateway" }, 2);
    const { app, url } = await startProduct();
    const [retry] = await app.waitFor(/"msg":"telegram bot could not start; retrying".*/);
    // The log says which call failed, how, and what Telegram said.
    expect(retry).toContain('"method":"getMe"');
    expect(retry).toContain('"code":502');
    expect(retry).toContain('"message":"Bad Gateway"');
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(app.output()).not.toContain(telegram.token);
    await app.waitFor(/"msg":"telegram bot started"/, 20_000);
    await telegram.waitForPoll();
    const retryChat = { id: 6161, type: "private" as const };
    telegram.sendText(retryChat, "/start", { id: 6161, first_name: "Cy", language_code: "ru" });
    const greeting = await telegram.waitForSent((message) => message.chat_id === retryChat.id);
    expect(greeting.text).toStartWith("Привет");
    app.kill("SIGTERM");
    expect(await app.exited).toBe(0);
  }, 60_000);
});
