/**
 * The public bot's access control through its real doors (a fake Bot API, the API and the admin
 * on the same app): the allowlist, blocked users, groups turned off, who may stop a group's
 * debate, the flood guard, the preflight of providers in all three doors, /usage, and one debate
 * at a time per chat until the previous one is fully posted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { formatCost } from "../../src/bot/i18n/texts";
import { sessions } from "../../src/db/schema";
import { STALE_CREATED_MS } from "../../src/debate/session-store";
import { ADMIN_PASSWORD, ADMIN_USERNAME, AdminClient } from "../helpers/admin-client";
import { type ApiClient, createApiClient } from "../helpers/api-client";
import { replyToTopic, setupButtonOf, startTestBot, submitTopic } from "../helpers/bot-harness";
import { eventually } from "../helpers/eventually";
import {
  type ChatSpec,
  type FakeTelegramServer,
  nextSentTo,
  replyTo,
  type UserSpec,
} from "../helpers/fake-telegram-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let bot: Awaited<ReturnType<typeof startTestBot>>;
let telegram: FakeTelegramServer;
let api: ApiClient;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 1 } });
  bot = await startTestBot(stack);
  telegram = bot.telegram;
  api = await createApiClient(stack);
});
afterAll(async () => {
  await bot?.stop();
  await stack?.stop();
});

const privateChat = (id: number): ChatSpec => ({ id, type: "private" });
const person = (id: number, username = `user${id}`): UserSpec => ({ id, username, language_code: "ru" });

const nextSent = (chatId: number, predicate?: (text: string) => boolean) =>
  nextSentTo(telegram, chatId, predicate);
const say = (chat: ChatSpec, from: UserSpec, text: string, predicate?: (text: string) => boolean) =>
  replyTo(telegram, chat, from, text, predicate);

const sessionsOfChat = (chatId: number) =>
  stack.db.select().from(sessions).where(eq(sessions.chatId, chatId));

/** Presses a button and resolves with the text the bot answered the callback query with. */
async function press(chat: ChatSpec, from: UserSpec, messageId: number, data: string) {
  const id = telegram.pressButton(chat, messageId, data, from).callback_query!.id;
  await eventually(() => telegram.callbackAnswers.some((answer) => answer.callback_query_id === id));
  return telegram.callbackAnswers.find((answer) => answer.callback_query_id === id)!.text;
}

async function settings(values: Record<string, string | number>) {
  const answer = await api.request("PUT", "/api/settings", { body: values });
  expect(answer.status).toBe(200);
}

async function patchUser(telegramId: number, body: Record<string, unknown>) {
  const answer = await api.request("PATCH", `/api/users/${telegramId}`, { body });
  expect(answer.status).toBe(200);
  return answer.json;
}

/** Runs a whole debate in a private chat through the bot and waits for its closing line. */
async function runDebate(chat: ChatSpec, from: UserSpec, topic: string) {
  expect(await say(chat, from, "/new")).toContain("Напишите тему");
  const closing = nextSent(chat.id, (text) => text.startsWith("Обсуждение завершено"));
  await submitTopic(telegram, chat, from, topic);
  return (await closing).text;
}

describe("access", () => {
  test("allowlist: others are told their Telegram id and start nothing; once allowed they can", async () => {
    const chat = privateChat(7101);
    const ann = person(7101);
    await settings({ ACCESS_MODE: "allowlist" });
    try {
      const refusal = await say(chat, ann, "/new");
      expect(refusal).toContain("только для приглашённых");
      expect(refusal).toContain("Telegram ID: 7101");
      // Not asked for a topic: a text now is chatter, not a debate.
      expect(await say(chat, ann, "Тема, которой не будет")).toContain("Команды:");
      expect(await sessionsOfChat(chat.id)).toHaveLength(0);

      const allowed = await patchUser(7101, { allowed: true });
      expect(allowed).toMatchObject({ telegram_id: 7101, allowed: true, blocked: false });
      expect((await stack.lastAudit("user.update"))?.target).toBe("user:7101");
      expect(await runDebate(chat, ann, "Разрешено ли мне теперь?")).toContain("достигнут лимит раундов");
    } finally {
      await settings({ ACCESS_MODE: "open" });
    }
  }, 60_000);

  test("blocked: never starts a debate, and hears it once however much they write", async () => {
    const group: ChatSpec = { id: -7102, type: "supergroup" };
    const bob = person(7102);
    const other = person(7109);
    expect(await say(group, bob, "/new")).toContain("Напишите тему");
    await patchUser(7102, { blocked: true });
    telegram.sendText(group, "Тема, пока его блокировали", bob);
    telegram.sendText(group, "/new", bob);
    telegram.sendText(group, "/start", bob);
    telegram.sendText(group, "Новое обсуждение", bob);
    // The updates of a chat are handled in order: once another user is answered, all of Bob's were.
    await say(group, other, "/help", (text) => text.startsWith("Команды:"));
    const texts = telegram.sent
      .filter((message) => message.chat_id === group.id)
      .map((message) => message.text);
    expect(texts).toEqual([
      expect.stringContaining("Напишите тему"),
      "Доступ к этому боту для вас закрыт.",
      expect.stringMatching(/^Команды:/),
    ]);
    expect(await sessionsOfChat(group.id)).toHaveLength(0);
    expect((await api.request("GET", "/api/users?blocked=true")).json.items).toEqual([
      expect.objectContaining({ telegram_id: 7102, blocked: true }),
    ]);
  }, 60_000);

  test("GROUP_CHATS=off: a group gets one line per command and nothing starts; private chats still work", async () => {
    const group: ChatSpec = { id: -7103, type: "supergroup" };
    const cid = person(7103);
    await settings({ GROUP_CHATS: "off" });
    try {
      expect(await say(group, cid, "/new")).toBe(
        "Обсуждения в группах отключены — напишите мне в личные сообщения.",
      );
      expect(await say(group, cid, "Новое обсуждение")).toStartWith("Обсуждения в группах отключены");
      expect(await sessionsOfChat(group.id)).toHaveLength(0);
      expect(await say(privateChat(7103), cid, "/new")).toContain("Напишите тему");
      await say(privateChat(7103), cid, "/stop");
    } finally {
      await settings({ GROUP_CHATS: "on" });
    }
  }, 60_000);

  test("GROUP_CHATS=off: a setup card's button shown before the switch starts nothing", async () => {
    const group: ChatSpec = { id: -7131, type: "supergroup" };
    const cid = person(7131);
    expect(await say(group, cid, "/new")).toContain("Напишите тему");
    const cardShown = nextSent(group.id, (text) => text.startsWith("📝"));
    telegram.sendText(group, "Тема до выключения групп", cid);
    const shown = await cardShown;
    await settings({ GROUP_CHATS: "off" });
    try {
      expect(await press(group, cid, shown.message_id, setupButtonOf(shown, "start")!)).toBe(
        "Обсуждения в группах отключены — напишите мне в личные сообщения.",
      );
      expect(await sessionsOfChat(group.id)).toHaveLength(0);
    } finally {
      await settings({ GROUP_CHATS: "on" });
    }
  }, 60_000);

  test("blocked: a button pressed again and again is refused once an hour, and starts nothing", async () => {
    const chat = privateChat(7132);
    const eve = person(7132);
    expect(await say(chat, eve, "/new")).toContain("Напишите тему");
    const cardShown = nextSent(chat.id, (text) => text.startsWith("📝"));
    telegram.sendText(chat, "Тема перед блокировкой", eve);
    const shown = await cardShown;
    await patchUser(7132, { blocked: true });
    const start = setupButtonOf(shown, "start")!;
    expect(await press(chat, eve, shown.message_id, start)).toBe("Доступ к этому боту для вас закрыт.");
    expect(await press(chat, eve, shown.message_id, start)).toBeUndefined();
    expect(await sessionsOfChat(chat.id)).toHaveLength(0);
  }, 60_000);

  test("in a group only the user who started the debate or a chat administrator can stop it", async () => {
    const group: ChatSpec = { id: -7104, type: "supergroup", title: "Debaters" };
    const starter = person(7104);
    const member = person(7105);
    const admin = person(7106);
    telegram.setChatMember(group, admin, "administrator");
    // Slow answers: the debate is still running when the others try to stop it.
    stack.fakeLlm.setResponder(() => ({ text: "Медленный, но верный ответ.", delayMs: 5_000 }));
    try {
      expect(await say(group, starter, "/new")).toContain("Напишите тему");
      expect(await replyToTopic(telegram, group, starter, "Кто может остановить обсуждение?")).toStartWith(
        "Тема:",
      );
      const [session] = await sessionsOfChat(group.id);
      expect(session!.status).toMatch(/created|running/);

      expect(await say(group, member, "/stop")).toBe(
        "Остановить обсуждение может только тот, кто его начал, или администратор чата.",
      );
      const asked = telegram.calls.filter((call) => call.method === "getChatMember");
      expect(asked.at(-1)?.params).toMatchObject({ chat_id: group.id, user_id: member.id });
      const [still] = await sessionsOfChat(group.id);
      expect(still!.status).toMatch(/created|running/);

      const closing = nextSent(group.id, (text) => text.startsWith("Обсуждение завершено"));
      telegram.sendText(group, "/stop", admin);
      expect((await closing).text).toContain("остановлено пользователем");
      const [stopped] = await sessionsOfChat(group.id);
      expect(stopped).toMatchObject({ status: "stopped", stopReason: "user" });
    } finally {
      stack.fakeLlm.reset();
    }
  }, 60_000);

  test("more than 20 messages a minute from one user: one notice, the rest dropped unread", async () => {
    const group: ChatSpec = { id: -7107, type: "supergroup" };
    const flooder = person(7107);
    const other = person(7108);
    // Chatter the bot answers with silence in a group: only the notice is heard.
    for (let index = 0; index < 25; index++) telegram.sendText(group, `сообщение ${index}`, flooder);
    // Another user's message in the same chat is handled after all of the flood's.
    await say(group, other, "/usage", (text) => text.startsWith("Сегодня:"));
    const texts = telegram.sent.filter((message) => message.chat_id === group.id).map((m) => m.text);
    expect(texts).toEqual([
      "Слишком много сообщений. Минуту я не буду на них отвечать.",
      expect.stringMatching(/^Сегодня:/),
    ]);
  }, 60_000);
});

describe("preflight: a debate needs two enabled providers with an API key", () => {
  test("the bot, the API and the admin all say what is missing, and no session is created", async () => {
    const providers = (await api.request("GET", "/api/providers")).json as { id: number; name: string }[];
    const deepSeek = providers.find((provider) => provider.name === "DeepSeek")!;
    expect(
      (await api.request("PATCH", `/api/providers/${deepSeek.id}`, { body: { api_key: "" } })).status,
    ).toBe(200);
    try {
      const chat = privateChat(7110);
      const before = (await stack.db.select().from(sessions)).length;
      expect(await say(chat, person(7110), "/new")).toBe(
        "Оператор ещё не настроил модели для обсуждений. Попробуйте позже.",
      );

      const refused = await api.request("POST", "/api/sessions", { body: { topic: "Without DeepSeek?" } });
      expect(refused.status).toBe(422);
      expect(refused.json.error.code).toBe("not_enough_participants");
      expect(refused.json.error.message).toBe(
        "A debate needs at least two enabled providers with an API key; only ChatGPT is ready. DeepSeek has no API key.",
      );
      expect(refused.json.error.details.providers).toEqual([
        { id: expect.any(Number), name: "ChatGPT", problem: null },
        { id: deepSeek.id, name: "DeepSeek", problem: "no_api_key" },
      ]);
      expect((await stack.db.select().from(sessions)).length).toBe(before);

      const admin = new AdminClient((request) => stack.app.http.handle(request));
      await admin.login(ADMIN_USERNAME, ADMIN_PASSWORD);
      for (const page of ["/admin", "/admin/providers"]) {
        const html = (await admin.get(page)).text;
        expect(html).toContain('id="preflight-warning"');
        expect(html).toContain("DeepSeek has no API key");
      }
    } finally {
      await api.request("PATCH", `/api/providers/${deepSeek.id}`, {
        body: { api_key: stack.config.providers.deepseek.apiKey },
      });
    }
    const admin = new AdminClient((request) => stack.app.http.handle(request));
    await admin.login(ADMIN_USERNAME, ADMIN_PASSWORD);
    expect((await admin.get("/admin")).text).not.toContain("preflight-warning");
  }, 60_000);
});

describe("usage and pace", () => {
  test("/usage: today's debates and cost against the limits; the announcement gives the expected cost", async () => {
    const chat = privateChat(7120);
    const dan = person(7120);
    expect(await say(chat, dan, "/usage")).toStartWith("Сегодня: обсуждений 0 из 20, стоимость $0 из $0.50.");
    expect(await say(chat, dan, "/new")).toContain("Напишите тему");
    const announce = await replyToTopic(telegram, chat, dan, "Сколько это стоит?", (text) =>
      text.startsWith("Тема:"),
    );
    expect(announce).toMatch(/Ожидаемая стоимость: \$[\d.]+–\$[\d.]+\./);
    await nextSent(chat.id, (text) => text.startsWith("Обсуждение завершено"));
    const [session] = await sessionsOfChat(chat.id);
    const { totals } = await stack.debate.getSession(session!.id);
    expect(Number(totals.cost)).toBeGreaterThan(0);
    const usage = await say(chat, dan, "Мой лимит");
    expect(usage).toContain(`Сегодня: обсуждений 1 из 20, стоимость ${formatCost(totals.cost)} из $0.50.`);
    expect(usage).toMatch(/Лимиты обновятся в 00:00 UTC \(через .+\)\.$/);
  }, 60_000);

  test("a session a crash left `created` keeps its chat busy only until it is stale", async () => {
    const chat = privateChat(7133);
    const cid = person(7133);
    const left = await stack.debate.createSession({
      topic: "Never started",
      chatId: chat.id,
      verdict: false,
    });
    expect(await say(chat, cid, "/new")).toContain("уже идёт");
    await stack.db
      .update(sessions)
      .set({ createdAt: new Date(Date.now() - STALE_CREATED_MS - 1000) })
      .where(eq(sessions.id, left.session.id));
    expect(await say(chat, cid, "/new")).toContain("Напишите тему");
    expect(await stack.debate.getSessionRow(left.session.id)).toMatchObject({
      status: "failed",
      stopDetail: "never started",
    });
    await say(chat, cid, "/stop");
  }, 60_000);

  test("a new debate waits until the previous one is fully posted: no LLM call while it still queues", async () => {
    const chat = privateChat(7121);
    const eve = person(7121);
    // Telegram refuses the transcript's turns for now (a transient error): they stay queued.
    telegram.failNext(
      "sendMessage",
      { error_code: 500, description: "Internal Server Error" },
      Number.POSITIVE_INFINITY,
      (params) => params.chat_id === chat.id && String(params.text).startsWith("🤖"),
    );
    try {
      expect(await say(chat, eve, "/new")).toContain("Напишите тему");
      await submitTopic(telegram, chat, eve, "Успеет ли бот всё опубликовать?");
      await eventually(async () => (await sessionsOfChat(chat.id))[0]?.status === "finished", {
        timeoutMs: 20_000,
      });
      const calls = stack.fakeLlm.requests.length;
      expect(await say(chat, eve, "/new")).toBe(
        "Предыдущее обсуждение ещё публикуется. Дождитесь его завершения и начните новое.",
      );
      expect(stack.fakeLlm.requests.length).toBe(calls);
      expect(await sessionsOfChat(chat.id)).toHaveLength(1);
    } finally {
      telegram.clearFailures();
    }
    await nextSent(chat.id, (text) => text.startsWith("Обсуждение завершено"));
    expect(await say(chat, eve, "/new")).toContain("Напишите тему");
    await say(chat, eve, "/stop");
  }, 60_000);
});
