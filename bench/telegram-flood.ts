/**
 * Telegram-bound benchmark (`bun run bench:flood`): N users (default 300) press «New discussion» at
 * the same moment, send their topic as soon as they are asked and tap «Start» on the setup card
 * that follows (the one-tap start). The product runs as built by
 * `createApp` (bot on, real Postgres and Redis) against the fake Bot API enforcing Telegram's limits
 * (30 messages/s in all, ~1/s per chat with a burst, 20/min per group: answers 429 beyond) and the
 * fake LLM.
 *
 * It prints the time until every user was asked for a topic and until every user had the first
 * turn of their debate, each against the Telegram-bound ideal (the sends needed ÷ 30/s), the 429
 * answers provoked, and the peak RSS.
 *
 *   bun run bench:flood [--users 300] [--llm-latency 200] [--instances 1]
 *
 * Environment: BENCH_DATABASE_URL (admin connection, default postgres://root@127.0.0.1:5432/postgres),
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379/0).
 */
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import postgres from "postgres";
import { type App, createApp } from "../src/app";
import { createConfig } from "../src/config";
import { createPostgresDatabase } from "../src/platform/db";
import { createLogger } from "../src/platform/logger";
import { createRedisCoordination } from "../src/platform/redis-coordination";
import { generateSecretKey } from "../src/platform/secret-box";
import { isSetupCard, setupButtonOf } from "../test/helpers/bot-harness";
import { startFakeOpenAiServer } from "../test/helpers/fake-openai-server";
import { type ChatSpec, startFakeTelegramServer, type Update } from "../test/helpers/fake-telegram-server";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    users: { type: "string", default: "300" },
    "llm-latency": { type: "string", default: "200" },
    instances: { type: "string", default: "1" },
  },
});
const users = Number(values.users);
const llmLatencyMs = Number(values["llm-latency"]);
const instances = Number(values.instances);
/** Telegram's global limit: the ideal is every message at exactly this rate. */
const TELEGRAM_PER_SECOND = 30;
/**
 * Sends of the bot before a user's first turn, each a token of the budget: the topic prompt, the
 * setup card, the card's redraw when «Start» is tapped (editMessageText), the announcement, the turn.
 */
const SENDS_TO_FIRST_TURN = 5;

const cleanups: (() => Promise<unknown>)[] = [];
const cleanup = async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => {});
};

async function main() {
  const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/postgres";
  const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/0";
  const dbName = `rt_bench_flood_${process.pid}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${dbName}"`);
  await admin.end();
  cleanups.push(async () => {
    const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await dropper.unsafe(`drop database if exists "${dbName}" with (force)`);
    await dropper.end();
  });
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${dbName}`;
  const prefix = `rt-bench-flood:${crypto.randomUUID()}:`;
  cleanups.push(async () => {
    const redis = new Redis(redisUrl);
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
    await redis.quit();
  });

  const telegram = await startFakeTelegramServer();
  cleanups.push(() => telegram.stop());
  // Telegram's limits as the real server applies them: 429 with retry_after beyond.
  telegram.setRateLimit({ perChatPerSecond: 2, perGroupPerMinute: 20, globalPerSecond: TELEGRAM_PER_SECOND });
  const llm = await startFakeOpenAiServer();
  cleanups.push(() => llm.stop());
  llm.setResponder(() => ({ delayMs: llmLatencyMs }));

  const config = createConfig({
    NODE_ENV: "production",
    SECRETS_KEY: generateSecretKey(),
    LOG_LEVEL: "warn",
    MAX_ROUNDS: "1",
    TELEGRAM_BOT_TOKEN: telegram.token,
    TELEGRAM_API_URL: telegram.url,
    // Several instances share the token: webhook mode, updates spread by the bench (a load balancer).
    ...(instances > 1
      ? { TELEGRAM_WEBHOOK_URL: "https://bench.example/telegram/webhook", TELEGRAM_WEBHOOK_SECRET: "bench" }
      : {}),
    OPENAI_API_KEY: "sk-bench-openai-000000000000",
    DEEPSEEK_API_KEY: "sk-bench-deepseek-0000000000",
    OPENAI_BASE_URL: llm.url,
    DEEPSEEK_BASE_URL: llm.url,
  });
  const logger = createLogger({ level: "warn", write: () => {} });
  const apps: App[] = [];
  const urls: string[] = [];
  for (let index = 0; index < instances; index++) {
    const database = createPostgresDatabase(dbUrl.toString(), { max: 10 });
    if (index === 0) await database.migrate();
    const coordination = await createRedisCoordination({ url: redisUrl, prefix });
    const app = await createApp({ config, logger, database, coordination, seed: index === 0 });
    cleanups.push(async () => {
      await app.stop();
      await coordination.close();
      await database.close();
    });
    urls.push(app.listen({ hostname: "127.0.0.1", port: 0 }));
    await app.start();
    apps.push(app);
  }
  if (instances === 1) await telegram.waitForPoll(20_000);
  else await telegram.waitForCall("setWebhook", undefined, 20_000);

  const chats: ChatSpec[] = Array.from({ length: users }, (_, index) => ({
    id: 900_000 + index,
    type: "private",
  }));
  let nextInstance = 0;
  const userOf = (chat: ChatSpec) => ({ id: chat.id, first_name: "Bench", language_code: "en" });
  const deliver = (update: Update) => {
    if (instances === 1) return;
    const url = urls[nextInstance++ % instances]!;
    void fetch(`${url}/telegram/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": "bench" },
      body: JSON.stringify(update),
    });
  };

  let peakRss = process.memoryUsage.rss();
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 100);
  const asked = new Map<number, number>();
  const tapped = new Set<number>();
  const firstTurn = new Map<number, number>();
  const started = performance.now();
  for (const chat of chats) deliver(telegram.sendText(chat, "/new", userOf(chat)));
  // Each user sends the topic the moment the question arrives, and taps «Start» on the card.
  const watcher = setInterval(() => {
    for (const message of telegram.sent) {
      const now = performance.now();
      const chat: ChatSpec = { id: message.chat_id, type: "private" };
      if (!asked.has(message.chat_id) && message.text.startsWith("Send the discussion topic")) {
        asked.set(message.chat_id, now);
        deliver(
          telegram.sendText(chat, `Flood topic ${message.chat_id}: do cities need more parks?`, userOf(chat)),
        );
      }
      if (!tapped.has(message.chat_id) && isSetupCard(message)) {
        tapped.add(message.chat_id);
        deliver(
          telegram.pressButton(chat, message.message_id, setupButtonOf(message, "start")!, userOf(chat)),
        );
      }
      if (!firstTurn.has(message.chat_id) && message.text.startsWith("🤖"))
        firstTurn.set(message.chat_id, now);
    }
  }, 20);
  const deadline = started + 10 * 60_000;
  while (firstTurn.size < users && performance.now() < deadline) await Bun.sleep(50);
  clearInterval(watcher);
  clearInterval(rssTimer);

  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  // Until the last of the users reached it (NaN when one never did: the run is not a figure).
  const last = (times: Map<number, number>) =>
    times.size === users ? Math.max(...times.values()) - started : Number.NaN;
  const askedAll = last(asked);
  const firstAll = last(firstTurn);
  // Sends needed before the last user sees each milestone, at exactly 30/s.
  const idealAsk = (users / TELEGRAM_PER_SECOND) * 1000;
  const idealFirst = ((SENDS_TO_FIRST_TURN * users) / TELEGRAM_PER_SECOND) * 1000;
  const tooMany = telegram.calls.filter(
    (call) => call.response?.ok === false && call.response.error_code === 429,
  );
  console.log(
    `\n── Telegram flood: ${users} users at once, ${instances} instance(s), LLM ${llmLatencyMs} ms ──`,
  );
  console.log(
    `  all asked for a topic   ${seconds(askedAll)} s   (ideal ${seconds(idealAsk)} s: ${users} messages ÷ 30/s)  ×${(askedAll / idealAsk).toFixed(2)}`,
  );
  console.log(
    `  all had their first turn ${seconds(firstAll)} s   (ideal ${seconds(idealFirst)} s: ${SENDS_TO_FIRST_TURN * users} sends ÷ 30/s)  ×${(firstAll / idealFirst).toFixed(2)}`,
  );
  console.log(`  users with a first turn  ${firstTurn.size} / ${users}`);
  const rules = Object.entries(Object.groupBy(telegram.violations, (violation) => violation.rule))
    .map(([rule, list]) => `${rule} ${list?.length}`)
    .join(", ");
  console.log(`  429 answers provoked     ${tooMany.length}${rules ? ` (${rules})` : ""}`);
  console.log(`  messages sent            ${telegram.sent.length}`);
  console.log(
    `  peak RSS                 ${(peakRss / 1024 / 1024).toFixed(0)} MB (bench, fake Bot API and fake LLM in this process)`,
  );
  console.log("  targets: ×1.2 of the ideal or better, 0 answers of 429, < 300 MB");
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(cleanup);
