/**
 * Faults are normal: the product as a real process (`bun src/main.ts`) on real Postgres and Redis,
 * with the fake Bot API and the fake LLM, debating in eight chats while something breaks — Redis
 * killed and restarted empty, Postgres connections cut, Telegram answering 502, a provider failing
 * every third call. In each case every debate ends with `max_rounds`, its turn indexes are
 * contiguous, and every chat receives each turn exactly once. Then two instances share one bot
 * token under 40 chats without a single 429.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { sql } from "drizzle-orm";
import { queryRows } from "../../src/platform/db";
import { isSetupCard, setupButtonOf } from "../helpers/bot-harness";
import { eventually } from "../helpers/eventually";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "../helpers/fake-openai-server";
import {
  type ChatSpec,
  type FakeTelegramServer,
  startFakeTelegramServer,
  type Update,
} from "../helpers/fake-telegram-server";
import { LISTENING, type SpawnedApp, spawnApp } from "../helpers/spawn-app";
import { testSecretsKey } from "../helpers/test-config";
import { createTestDatabase, requireServices, type TestDatabase } from "../helpers/test-db";

const ROUNDS = 2;
/** Two models, `ROUNDS` rounds. */
const TURNS = 2 * ROUNDS;

let llm: FakeOpenAiServer;
let telegram: FakeTelegramServer;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  await requireServices("postgres", "redis");
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

/** A private `redis-server` on a spare port: killed with SIGKILL and restarted empty, as a crash does. */
async function startPrivateRedis() {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  let server: Subprocess | null = null;
  const start = async () => {
    server = Bun.spawn(
      ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdout: "ignore", stderr: "ignore" },
    );
    await eventually(
      async () => {
        try {
          const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
          socket.end();
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 5000, message: "private redis-server listening" },
    );
  };
  await start();
  const redis = {
    url: `redis://127.0.0.1:${port}/0`,
    async kill() {
      server?.kill("SIGKILL");
      await server?.exited;
      server = null;
    },
    restart: start,
  };
  cleanups.push(() => redis.kill());
  return redis;
}

interface Product {
  app: SpawnedApp;
  url: string;
}

async function startProduct(database: TestDatabase, env: Record<string, string>): Promise<Product> {
  const app = spawnApp({
    env: {
      NODE_ENV: "production",
      PORT: "0",
      DATABASE_URL: database.url,
      SECRETS_KEY: testSecretsKey,
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_URL: telegram.url,
      OPENAI_API_KEY: "sk-heal-openai-secret-key-0000",
      OPENAI_BASE_URL: llm.url,
      DEEPSEEK_API_KEY: "sk-heal-deepseek-secret-key-00",
      DEEPSEEK_BASE_URL: llm.url,
      MAX_ROUNDS: String(ROUNDS),
      LOG_LEVEL: "info",
      ...env,
    },
  });
  cleanups.push(async () => {
    app.kill("SIGKILL");
    await app.exited;
  });
  const [, url] = await app.waitFor(LISTENING, 30_000);
  return { app, url: url! };
}

const chatsFrom = (first: number, count: number): ChatSpec[] =>
  Array.from({ length: count }, (_, index) => ({ id: first + index, type: "private" as const }));
const userOf = (chat: ChatSpec) => ({ id: chat.id, first_name: `U${chat.id}`, language_code: "en" });

/**
 * Each chat asks for a new discussion, sends its topic once asked, then taps «Start» on the setup
 * card; `deliver` routes each update the fake queued (polling reads them itself; a webhook is posted).
 */
async function openDebates(chats: ChatSpec[], deliver: (update: Update) => void) {
  for (const chat of chats) deliver(telegram.sendText(chat, "/new", userOf(chat)));
  await Promise.all(
    chats.map((chat) =>
      telegram.waitForSent(
        (message) => message.chat_id === chat.id && message.text.startsWith("Send the discussion topic"),
        30_000,
      ),
    ),
  );
  for (const chat of chats) {
    deliver(
      telegram.sendText(chat, `Topic of chat ${chat.id}: should towns plant more trees?`, userOf(chat)),
    );
  }
  const cards = await Promise.all(
    chats.map((chat) =>
      telegram.waitForSent((message) => message.chat_id === chat.id && isSetupCard(message), 30_000),
    ),
  );
  cards.forEach((card, index) => {
    const chat = chats[index]!;
    deliver(telegram.pressButton(chat, card.message_id, setupButtonOf(card, "start")!, userOf(chat)));
  });
}

/** Polling: the bot reads the queued updates itself. */
const viaPolling = () => {};

/** How many model turns are stored so far (the fault is injected mid-debate). */
async function storedTurns(database: TestDatabase): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    database.database.db,
    sql`select count(*)::int as n from messages where author_type = 'model'`,
  );
  return row!.n;
}

/**
 * Every debate ended with max_rounds, turn indexes are contiguous, and each chat got each turn
 * exactly once (the headers in the chat are the stored turns, in order, none twice), then one
 * closing line.
 */
async function expectHealed(
  database: TestDatabase,
  chats: ChatSpec[],
  products: Product[],
  timeoutMs = 60_000,
) {
  try {
    await expectHealedNow(database, chats, timeoutMs);
  } catch (error) {
    // What the app said went wrong is the first thing to read when this fails.
    for (const product of products) {
      const problems = product.app
        .output()
        .split("\n")
        .filter((line) => /"level":"(warn|error)"/.test(line));
      console.error(`app warnings and errors:\n${problems.map((line) => line.slice(0, 400)).join("\n")}`);
    }
    throw error;
  }
}

async function expectHealedNow(database: TestDatabase, chats: ChatSpec[], timeoutMs: number) {
  const closings = (chatId: number) =>
    telegram.sent.filter(
      (message) => message.chat_id === chatId && message.text.startsWith("Discussion ended"),
    );
  await eventually(() => chats.every((chat) => closings(chat.id).length > 0), {
    timeoutMs,
    intervalMs: 100,
    message: () =>
      `closing lines in every chat (missing: ${chats.filter((chat) => closings(chat.id).length === 0).map((chat) => chat.id)})`,
  });
  const sessions = await queryRows<{ id: string; chat_id: string; status: string; stop_reason: string }>(
    database.database.db,
    sql`select id, chat_id::text, status::text, stop_reason::text from sessions order by chat_id`,
  );
  expect(sessions).toHaveLength(chats.length);
  for (const session of sessions) {
    expect({ chat: session.chat_id, status: session.status, reason: session.stop_reason }).toEqual({
      chat: session.chat_id,
      status: "finished",
      reason: "max_rounds",
    });
    const rows = await queryRows<{
      turn_index: number;
      author_type: string;
      author_name: string;
      round: number;
    }>(
      database.database.db,
      sql`select turn_index, author_type::text, author_name, round from messages
          where session_id = ${session.id} order by turn_index`,
    );
    expect(rows.map((row) => row.turn_index)).toEqual(rows.map((_, index) => index));
    const turns = rows.filter((row) => row.author_type === "model");
    // A turn whose every attempt failed is a notice instead: every turn is one or the other.
    expect(turns.length + rows.filter((row) => row.author_type === "system").length).toBeGreaterThanOrEqual(
      TURNS,
    );
    expect(turns.length).toBeGreaterThan(0);
    const posted = telegram.sent
      .filter((message) => message.chat_id === Number(session.chat_id) && message.text.startsWith("🤖"))
      .map((message) => message.text.split("\n")[0]!);
    // One post per stored turn, in order: the speaker and the round of each header.
    expect(posted.map((header) => [header.split(" · ")[0], header.split(" · ").at(-1)])).toEqual(
      turns.map((turn) => [`🤖 ${turn.author_name}`, `round ${turn.round}/${ROUNDS}`]),
    );
    expect(closings(Number(session.chat_id))).toHaveLength(1);
  }
}

/** Turns off the flood limits of the fake after a test that set them. */
function resetTelegram() {
  telegram.clearFailures();
  telegram.setRateLimit({});
}

describe("self-healing", () => {
  test("Redis killed with SIGKILL mid-debate and restarted empty: every debate resumes, every turn posted once", async () => {
    const redis = await startPrivateRedis();
    const database = await createTestDatabase({ empty: true });
    cleanups.push(() => database.drop());
    llm.reset();
    // Slow turns: the debates are still running when Redis comes back, and its leases are gone.
    llm.setResponder(() => ({ delayMs: 2500 }));
    const product = await startProduct(database, { REDIS_URL: redis.url });
    await telegram.waitForPoll();
    const chats = chatsFrom(71_000, 8);
    await openDebates(chats, viaPolling);
    await eventually(async () => (await storedTurns(database)) >= 8, { timeoutMs: 30_000 });
    await redis.kill();
    // Down for a while: /health says so.
    await eventually(async () => (await fetch(`${product.url}/health`)).status === 503, {
      timeoutMs: 10_000,
    });
    await redis.restart();
    await eventually(async () => (await fetch(`${product.url}/health`)).status === 200, {
      timeoutMs: 15_000,
    });
    await expectHealed(database, chats, [product]);
    // The runs noticed their leases were gone and the debates were taken up again from Postgres.
    expect(product.app.output()).toContain('"msg":"lease lost; stopping local run"');
    product.app.kill("SIGTERM");
    expect(await product.app.exited).toBe(0);
  }, 120_000);

  test("Postgres connections cut mid-turn: the app reconnects and carries on", async () => {
    const database = await createTestDatabase({ empty: true });
    cleanups.push(() => database.drop());
    llm.reset();
    llm.setResponder(() => ({ delayMs: 150 }));
    const redis = await startPrivateRedis();
    const product = await startProduct(database, { REDIS_URL: redis.url });
    await telegram.waitForPoll();
    const chats = chatsFrom(72_000, 8);
    await openDebates(chats, viaPolling);
    await eventually(async () => (await storedTurns(database)) >= 6, { timeoutMs: 30_000 });
    const [cut] = await queryRows<{ n: number }>(
      database.database.db,
      sql`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()`,
    );
    expect(cut!.n).toBeGreaterThan(0);
    await expectHealed(database, chats, [product]);
    product.app.kill("SIGTERM");
    expect(await product.app.exited).toBe(0);
  }, 120_000);

  test("Telegram answering 502 for several seconds, and a provider failing every third call", async () => {
    const database = await createTestDatabase({ empty: true });
    cleanups.push(() => database.drop());
    llm.reset();
    llm.setResponder((_, index) =>
      index % 3 === 2 ? { status: 500, errorMessage: "upstream hiccup" } : { delayMs: 100 },
    );
    const redis = await startPrivateRedis();
    const product = await startProduct(database, { REDIS_URL: redis.url });
    await telegram.waitForPoll();
    const chats = chatsFrom(73_000, 8);
    await openDebates(chats, viaPolling);
    await eventually(async () => (await storedTurns(database)) >= 4, { timeoutMs: 30_000 });
    const outage = { error_code: 502, description: "Bad Gateway" };
    telegram.failNext("sendMessage", outage, Number.POSITIVE_INFINITY);
    // The debates go on while nothing can be posted.
    await eventually(async () => (await storedTurns(database)) >= 12, { timeoutMs: 30_000 });
    telegram.clearFailures();
    await expectHealed(database, chats, [product]);
    // Every third call failed and was retried: more calls than turns.
    expect(llm.requests.length).toBeGreaterThan(chats.length * TURNS);
    product.app.kill("SIGTERM");
    expect(await product.app.exited).toBe(0);
    resetTelegram();
  }, 120_000);
});

describe("Telegram's limits are the bot token's", () => {
  test("two instances, one token, 40 chats debating at once: not a single 429", async () => {
    const database = await createTestDatabase({ empty: true });
    cleanups.push(() => database.drop());
    llm.reset();
    llm.setResponder(() => ({ delayMs: 50 }));
    // The fake answers 429 like Telegram beyond ~30/s in all and ~1/s per chat (a burst of 2).
    telegram.setRateLimit({ perChatPerSecond: 2, perGroupPerMinute: 20, globalPerSecond: 30 });
    const redis = await startPrivateRedis();
    const webhook = {
      REDIS_URL: redis.url,
      TELEGRAM_WEBHOOK_URL: "https://bot.example.com/telegram/webhook",
      TELEGRAM_WEBHOOK_SECRET: "two-instances-secret",
    };
    const first = await startProduct(database, webhook);
    const second = await startProduct(database, webhook);
    // A load balancer in front of both: updates alternate between the instances.
    let next = 0;
    const viaWebhook = (update: Update) => {
      const target = next++ % 2 === 0 ? first : second;
      void fetch(`${target.url}/telegram/webhook`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-telegram-bot-api-secret-token": "two-instances-secret",
        },
        body: JSON.stringify(update),
      });
    };
    const chats = chatsFrom(74_000, 40);
    await openDebates(chats, viaWebhook);
    await expectHealed(database, chats, [first, second], 120_000);
    expect(telegram.violations).toEqual([]);
    expect(
      telegram.calls.filter((call) => call.response?.ok === false && call.response.error_code === 429),
    ).toEqual([]);
    for (const product of [first, second]) product.app.kill("SIGTERM");
    expect(await first.app.exited).toBe(0);
    expect(await second.app.exited).toBe(0);
    resetTelegram();
  }, 180_000);
});
