/**
 * Oversized posts to the API and the Telegram webhook, against the app as a real process: refused
 * with 413 before being read (the webhook's secret checked first), fast, with the process's memory
 * flat (measured from /proc/<pid>/status).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MAX_SERVER_BODY_BYTES } from "../../src/app";
import { MAX_API_BODY_BYTES } from "../../src/http/api/api-routes";
import { type FakeTelegramServer, startFakeTelegramServer } from "../helpers/fake-telegram-server";
import { chunkedBody, LISTENING, type SpawnedApp, spawnApp } from "../helpers/spawn-app";
import { testSecretsKey } from "../helpers/test-config";
import { createTestDatabase, type TestDatabase } from "../helpers/test-db";

const API_TOKEN = "body-limit-api-token";
const WEBHOOK_SECRET = "body-limit-webhook-secret";
const MB = 1024 * 1024;

let testDatabase: TestDatabase;
let telegram: FakeTelegramServer;
let app: SpawnedApp;
let url: string;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  telegram = await startFakeTelegramServer();
  app = spawnApp({
    env: {
      PORT: "0",
      NODE_ENV: "test",
      DATABASE_URL: testDatabase.url,
      SECRETS_KEY: testSecretsKey,
      API_TOKEN,
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_URL: telegram.url,
      TELEGRAM_WEBHOOK_URL: "https://bot.example.com/telegram/webhook",
      TELEGRAM_WEBHOOK_SECRET: WEBHOOK_SECRET,
      LOG_LEVEL: "info",
    },
  });
  [, url = ""] = await app.waitFor(LISTENING, 30_000);
  await telegram.waitForCall("setWebhook");
});
afterAll(async () => {
  app?.kill("SIGKILL");
  await app?.exited;
  await telegram?.stop();
  await testDatabase?.drop();
});

/** A JSON session whose topic makes the body `size` bytes long. */
const sessionBody = (size: number) => {
  const frame = JSON.stringify({ topic: "" });
  return JSON.stringify({ topic: "a".repeat(size - frame.length) });
};

const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });
const api = (body: BodyInit) => post("/api/sessions", body, { authorization: `Bearer ${API_TOKEN}` });
const webhook = (body: BodyInit, secret = WEBHOOK_SECRET) =>
  post("/telegram/webhook", body, { "x-telegram-bot-api-secret-token": secret });

async function expectTooLarge(response: Response) {
  expect(response.status).toBe(413);
  expect(await response.json()).toEqual({
    error: { code: "payload_too_large", message: "The request body is larger than the API accepts (1 MiB)." },
  });
}

describe("API body limit", () => {
  test("a body up to 1 MiB is read; one byte more is refused in the error shape, chunked or not", async () => {
    // Read and validated: the topic is too long, which only reading the body can tell.
    const fits = await api(sessionBody(MAX_API_BODY_BYTES));
    expect(fits.status).toBe(422);
    expect((await fits.json()).error.code).toBe("invalid_topic");
    await expectTooLarge(await api(sessionBody(MAX_API_BODY_BYTES + 1)));
    await expectTooLarge(
      await api(chunkedBody(new TextEncoder().encode(sessionBody(MAX_API_BODY_BYTES + 1)))),
    );
    // Between the API's limit and the server's, still the API's answer.
    await expectTooLarge(await api(new Uint8Array(MAX_SERVER_BODY_BYTES - 1).fill(97)));
    // Without the token nothing is read: the answer is about the token.
    const anonymous = await post("/api/sessions", new Uint8Array(MAX_SERVER_BODY_BYTES - 1).fill(97));
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.code).toBe("unauthorized");
  });
});

describe("webhook body limit", () => {
  test("the secret is checked before the body; an update over 1 MiB is refused; a real one is handled", async () => {
    const chat = { id: 7171, type: "private" as const };
    const update = telegram.sendText(chat, "/start", { id: 7171, first_name: "Di", language_code: "en" });
    expect((await webhook(JSON.stringify(update), "wrong")).status).toBe(401);
    // Over the limit but with the wrong secret: refused for the secret, the body never read.
    expect((await webhook(new Uint8Array(MB + MB / 2).fill(32), "wrong")).status).toBe(401);
    expect((await webhook(new Uint8Array(MB + 1).fill(32))).status).toBe(413);
    expect((await webhook(chunkedBody(new Uint8Array(MB + 1).fill(32)))).status).toBe(413);
    expect((await webhook("{not json")).status).toBe(400);
    expect((await webhook(JSON.stringify(update))).status).toBe(200);
    const greeting = await telegram.waitForSent((message) => message.chat_id === chat.id);
    expect(greeting.text).toStartWith("Hi!");
  });
});

describe("memory under oversized posts", () => {
  test("5 × 40 MB posts of each kind are refused fast and the process's memory stays flat", async () => {
    const big = new Uint8Array(40 * MB).fill(97);
    // Warm up the routes measured below, so their first compile is not counted as growth.
    await api("{}");
    await webhook("{}", "wrong");
    const before = await app.rssMb();
    const started = performance.now();
    for (let round = 0; round < 5; round++) {
      // A declared length over the server's cap: Bun refuses it itself, before any route.
      expect((await api(big)).status).toBe(413);
      expect((await webhook(big, "wrong")).status).toBe(413);
      // Chunked: the routes refuse it, unread (no token, wrong secret) or read up to their limit.
      await expectTooLarge(await api(chunkedBody(big)));
      expect((await webhook(chunkedBody(big))).status).toBe(413);
      expect((await webhook(chunkedBody(big), "wrong")).status).toBe(401);
      expect((await post("/api/sessions", chunkedBody(big))).status).toBe(401);
    }
    const perPostMs = (performance.now() - started) / 30;
    const after = await app.rssMb();
    // 30 posts of 40 MB: reading any one of them would add ≥ 40 MB.
    expect(after - before).toBeLessThan(30);
    // Reading 40 MB before refusing took ≈ 600 ms here; refusing unread takes a few ms.
    expect(perPostMs).toBeLessThan(200);
    // Still serving.
    expect((await fetch(`${url}/health`)).status).toBe(200);
  }, 60_000);
});
