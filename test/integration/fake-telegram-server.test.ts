import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Bot, bold, format, InlineKeyboard, TelegramError } from "gramio";
import {
  type ChatSpec,
  type FakeTelegramServer,
  startFakeTelegramServer,
  type TelegramResponseBody,
  textsOf,
  type Update,
} from "../helpers/fake-telegram-server";

const alice: ChatSpec = { id: 4242, type: "private" };
const club: ChatSpec = { id: -100777, type: "supergroup", title: "Debate club" };

/** The bot under test: echoes texts, shows a menu with a button, answers the button. */
function createBot(server: FakeTelegramServer, handled: string[]) {
  return new Bot(server.token, { api: { baseURL: `${server.url}/bot` } })
    .command("menu", (context) =>
      context.send("Pick one", { reply_markup: new InlineKeyboard().text("Go", "go") }),
    )
    .callbackQuery("go", (context) => context.answer("Going"))
    .on("message", (context) => {
      const text = context.text ?? "(sticker)";
      handled.push(text);
      return context.send(`echo: ${text}`);
    });
}

/** Awaits a promise expected to reject with a GramIO TelegramError and returns it. */
async function telegramError(promise: Promise<unknown>): Promise<TelegramError<"sendMessage">> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TelegramError);
  return error as TelegramError<"sendMessage">;
}

/** A raw Bot API request, JSON-encoded like GramIO does. */
async function raw(
  server: FakeTelegramServer,
  method: string,
  params: Record<string, unknown> = {},
  token = server.token,
): Promise<{ status: number; body: TelegramResponseBody }> {
  const response = await fetch(`${server.url}/bot${token}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(params),
  });
  return { status: response.status, body: (await response.json()) as TelegramResponseBody };
}

function updateIds(body: TelegramResponseBody): number[] {
  if (!body.ok) throw new Error(`expected ok, got ${body.description}`);
  return (body.result as Update[]).map((update) => update.update_id);
}

describe("fake Telegram server with a real GramIO bot on long polling", () => {
  let server: FakeTelegramServer;
  let bot: ReturnType<typeof createBot>;
  const handled: string[] = [];

  beforeAll(async () => {
    server = await startFakeTelegramServer();
    bot = createBot(server, handled);
    await bot.start();
  });

  afterAll(async () => {
    await bot.stop();
    await server.stop();
  });

  test("the bot receives a text update and its reply is recorded", async () => {
    expect(server.calls[0]?.method).toBe("getMe");
    const poll = await server.waitForPoll();
    expect(poll.encoding).toBe("json");
    expect(poll.params.timeout).toBe(30);

    const update = server.sendText(alice, "hello");
    const reply = await server.waitForSent((message) => message.chat_id === alice.id);

    expect(reply.text).toBe("echo: hello");
    expect(reply.message_id).toBe(update.message!.message_id + 1);
    const call = await server.waitForCall("sendMessage", (c) => c.chatId === alice.id);
    expect(call.params).toMatchObject({ chat_id: alice.id, text: "echo: hello" });
    expect(call.response).toMatchObject({
      ok: true,
      result: { message_id: reply.message_id, from: { is_bot: true, username: server.botUsername } },
    });
  });

  test("each update is delivered once: GramIO confirms it with the next offset", async () => {
    const chat: ChatSpec = { id: 5001, type: "private" };
    const sentIds = ["one", "two", "three"].map((text) => server.sendText(chat, text).update_id);
    await server.waitForSentCount(chat.id, 3);
    // One more round trip: a duplicate delivery of the first batch would have been handled by now.
    const last = server.sendText(chat, "four").update_id;
    await server.waitForSentCount(chat.id, 4);
    await server.waitForPoll();

    expect(textsOf(server, chat.id).sort()).toEqual(["echo: four", "echo: one", "echo: three", "echo: two"]);
    expect(handled.filter((text) => ["one", "two", "three", "four"].includes(text)).sort()).toEqual([
      "four",
      "one",
      "three",
      "two",
    ]);
    const offsets = server.calls
      .filter((c) => c.method === "getUpdates")
      .map((c) => c.params.offset as number);
    expect(offsets).toContain(sentIds.at(-1)! + 1);
    expect(offsets).toContain(last + 1);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(server.pendingUpdateIds()).toEqual([]);
  });

  test("commands get bot_command entities; inline buttons produce answered callback queries", async () => {
    server.sendText(alice, "/menu");
    const menu = await server.waitForSent((message) => message.text === "Pick one");
    expect(menu.reply_markup).toEqual({ inline_keyboard: [[{ text: "Go", callback_data: "go" }]] });
    expect(() => server.pressButton(alice, menu.message_id, "nope")).toThrow(/no button "nope"/);

    const update = server.pressButton(alice, menu.message_id, "go");
    const answer = await server.waitForCall("answerCallbackQuery");
    expect(answer.params.callback_query_id).toBe(update.callback_query!.id);
    expect(server.callbackAnswers.at(-1)).toMatchObject({ text: "Going" });
    expect(server.unansweredCallbackQueries()).toEqual([]);

    server.sendSticker(alice);
    await server.waitForSent((message) => message.text === "echo: (sticker)");
  });

  test("failNext: a 429 rejects with TelegramError, code and payload.retry_after set", async () => {
    server.failNext("sendMessage", {
      error_code: 429,
      description: "Too Many Requests: retry after 7",
      retry_after: 7,
    });
    const error = await telegramError(bot.api.sendMessage({ chat_id: alice.id, text: "too fast" }));
    expect(error.code).toBe(429);
    expect(error.payload?.retry_after).toBe(7);
    expect(error.message).toBe("Too Many Requests: retry after 7");
    expect(error.method).toBe("sendMessage");

    server.failNext(
      "sendMessage",
      { error_code: 403, description: "Forbidden: bot was blocked by the user" },
      2,
    );
    const suppressed = await bot.api.sendMessage({ chat_id: alice.id, text: "hi", suppress: true });
    expect(suppressed).toBeInstanceOf(TelegramError);
    expect((await telegramError(bot.api.sendMessage({ chat_id: alice.id, text: "hi" }))).code).toBe(403);
    expect((await bot.api.sendMessage({ chat_id: alice.id, text: "recovered" })).text).toBe("recovered");
  });

  test("text length counts UTF-16 code units after entity parsing; empty text is rejected", async () => {
    const tooLong = await telegramError(bot.api.sendMessage({ chat_id: alice.id, text: "x".repeat(4097) }));
    expect([tooLong.code, tooLong.message]).toEqual([400, "Bad Request: message is too long"]);
    // 2049 emoji are 4098 UTF-16 code units.
    expect(
      (await telegramError(bot.api.sendMessage({ chat_id: alice.id, text: "😀".repeat(2049) }))).code,
    ).toBe(400);
    expect((await bot.api.sendMessage({ chat_id: alice.id, text: "😀".repeat(2048) })).text).toHaveLength(
      4096,
    );
    const html = await bot.api.sendMessage({
      chat_id: alice.id,
      text: `<b>${"x".repeat(4096)}</b>`,
      parse_mode: "HTML",
    });
    expect(html.entities).toEqual([{ type: "bold", offset: 0, length: 4096 }]);

    const empty = await telegramError(bot.api.sendMessage({ chat_id: alice.id, text: "  " }));
    expect(empty.message).toBe("Bad Request: message text is empty");
  });

  test("entities must lie within the text; parse_mode markup is validated", async () => {
    const formatted = await bot.api.sendMessage({ chat_id: alice.id, text: format`${bold("Round")} table` });
    expect(formatted.entities).toEqual([{ type: "bold", offset: 0, length: 5 }]);
    expect(server.sent.at(-1)).toMatchObject({
      text: "Round table",
      entities: [{ type: "bold", offset: 0, length: 5 }],
    });

    // "😀" is two UTF-16 code units: offset 2 is the "x".
    await bot.api.sendMessage({
      chat_id: alice.id,
      text: "😀x",
      entities: [{ type: "bold", offset: 2, length: 1 }],
    });
    const beyond = await telegramError(
      bot.api.sendMessage({
        chat_id: alice.id,
        text: "😀x",
        entities: [{ type: "bold", offset: 2, length: 2 }],
      }),
    );
    expect(beyond.code).toBe(400);
    expect(beyond.message).toStartWith("Bad Request: can't parse entities:");

    const markdown = await telegramError(
      bot.api.sendMessage({ chat_id: alice.id, text: "Done.", parse_mode: "MarkdownV2" }),
    );
    expect(markdown.message).toContain("Character '.' is reserved");
    const unclosed = await telegramError(
      bot.api.sendMessage({ chat_id: alice.id, text: "<b>open", parse_mode: "HTML" }),
    );
    expect(unclosed.message).toStartWith("Bad Request: can't parse entities:");
    const escaped = await bot.api.sendMessage({
      chat_id: alice.id,
      text: "*A* \\& b\\.",
      parse_mode: "MarkdownV2",
    });
    expect(escaped.text).toBe("A & b.");
  });

  test("sendMessageDraft works in private chats only", async () => {
    expect(await bot.api.sendMessageDraft({ chat_id: alice.id, draft_id: 7, text: "Thinking" })).toBe(true);
    expect(server.drafts.at(-1)).toMatchObject({ chat_id: alice.id, draft_id: 7, text: "Thinking" });

    server.sendText(club, "hello club");
    await server.waitForSent((message) => message.chat_id === club.id);
    const error = await telegramError(
      bot.api.sendMessageDraft({ chat_id: club.id, draft_id: 7, text: "Thinking" }),
    );
    expect([error.code, error.message]).toEqual([400, "Bad Request: TEXTDRAFT_PEER_INVALID"]);
    expect(server.drafts.filter((draft) => draft.chat_id === club.id)).toEqual([]);
  });

  test("drafts: entities and can_stop recorded, 4096 after parsing, the stop button as an update", async () => {
    expect(() => server.stopDraft(alice.id, 7)).toThrow(/without can_stop/);
    expect(
      await bot.api.sendMessageDraft({
        chat_id: alice.id,
        draft_id: 8,
        ...format`${bold("Header")} body`,
        can_stop: true,
      }),
    ).toBe(true);
    expect(server.drafts.at(-1)).toMatchObject({
      draft_id: 8,
      text: "Header body",
      entities: [{ type: "bold", offset: 0, length: 6 }],
      can_stop: true,
    });
    const tooLong = await telegramError(
      bot.api.sendMessageDraft({ chat_id: alice.id, draft_id: 9, text: "x".repeat(4097) }),
    );
    expect([tooLong.code, tooLong.message]).toEqual([400, "Bad Request: message is too long"]);
    const flag = await raw(server, "sendMessageDraft", {
      chat_id: alice.id,
      draft_id: 9,
      text: "x",
      can_stop: "yes",
    });
    expect(flag.status).toBe(400);

    const update = server.stopDraft(alice.id);
    expect(Object.keys(update)).toEqual(["update_id", "stopped_message_generation"]);
    expect(update.stopped_message_generation).toEqual({
      chat: expect.objectContaining({ id: alice.id, type: "private" }),
      draft_id: 8,
    });
    expect(() => server.stopDraft(club.id)).toThrow(/no draft/);
  });

  test("sendDocument: an uploaded file is kept with its name, type, content and caption", async () => {
    const sent = await bot.api.sendDocument({
      chat_id: alice.id,
      document: new File(["# Transcript\n\nЁжик 🦔"], "debate.md", { type: "text/markdown" }),
      caption: "Transcript",
    });
    expect(sent.document?.file_name).toBe("debate.md");
    expect(server.documents.at(-1)).toMatchObject({
      chat_id: alice.id,
      message_id: sent.message_id,
      file_name: "debate.md",
      mime_type: "text/markdown",
      content: "# Transcript\n\nЁжик 🦔",
      caption: "Transcript",
    });
    const missing = await raw(server, "sendDocument", { chat_id: alice.id, document: "not-a-file-id" });
    expect(missing.status).toBe(400);
  });

  test("editMessageText refuses unchanged content; deleted messages cannot be edited", async () => {
    const message = await bot.api.sendMessage({ chat_id: alice.id, text: "draft" });
    const same = await telegramError(
      bot.api.editMessageText({ chat_id: alice.id, message_id: message.message_id, text: "draft" }),
    );
    expect(same.message).toStartWith("Bad Request: message is not modified");
    await bot.api.editMessageText({ chat_id: alice.id, message_id: message.message_id, text: "final" });
    const sent = server.sent.find((m) => m.chat_id === alice.id && m.message_id === message.message_id);
    expect(sent?.versions).toEqual(["draft", "final"]);
    expect(textsOf(server, alice.id).at(-1)).toBe("final");

    expect(await bot.api.deleteMessage({ chat_id: alice.id, message_id: message.message_id })).toBe(true);
    const gone = await telegramError(
      bot.api.editMessageText({ chat_id: alice.id, message_id: message.message_id, text: "again" }),
    );
    expect(gone.message).toBe("Bad Request: message to edit not found");
    expect(textsOf(server, alice.id)).not.toContain("final");
  });

  test("bot.stop() ends polling cleanly and server.stop() does not hang", async () => {
    const poll = await server.waitForPoll();
    await bot.stop();
    const started = performance.now();
    await server.stop();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(poll.response).toEqual({ ok: true, result: [] });
    expect(bot.updates.isStarted).toBe(false);
  });
});

describe("fake Telegram server: Bot API protocol", () => {
  let server: FakeTelegramServer;

  beforeAll(async () => {
    server = await startFakeTelegramServer({ token: "42:protocol-token", botUsername: "protocol_bot" });
  });

  afterAll(async () => {
    await server.stop();
  });

  test("checks the token, rejects unknown methods and paths", async () => {
    expect(await raw(server, "getMe", {}, "42:wrong")).toEqual({
      status: 401,
      body: { ok: false, error_code: 401, description: "Unauthorized" },
    });
    expect(await raw(server, "sendTelepathy")).toEqual({
      status: 404,
      body: { ok: false, error_code: 404, description: "Not Found: method not found" },
    });
    expect((await fetch(`${server.url}/elsewhere`)).status).toBe(404);
    const me = await raw(server, "getme");
    expect(me.body).toMatchObject({ ok: true, result: { id: 42, is_bot: true, username: "protocol_bot" } });
  });

  test("accepts query parameters, url-encoded and multipart forms", async () => {
    const viaQuery = await fetch(`${server.url}/bot${server.token}/sendMessage?chat_id=11&text=007`);
    expect(await viaQuery.json()).toMatchObject({ ok: true, result: { chat: { id: 11 }, text: "007" } });

    const form = new FormData();
    form.set("chat_id", "11");
    form.set("text", "Hi there");
    form.set("entities", JSON.stringify([{ type: "italic", offset: 0, length: 2 }]));
    const viaForm = await fetch(`${server.url}/bot${server.token}/sendMessage`, {
      method: "POST",
      body: form,
    });
    expect(await viaForm.json()).toMatchObject({ ok: true, result: { entities: [{ type: "italic" }] } });

    const viaUrlencoded = await fetch(`${server.url}/bot${server.token}/sendChatAction`, {
      method: "POST",
      body: new URLSearchParams({ chat_id: "11", action: "typing" }),
    });
    expect(await viaUrlencoded.json()).toEqual({ ok: true, result: true });
    expect(server.calls.slice(-3).map((call) => [call.encoding, call.chatId])).toEqual([
      ["query", 11],
      ["multipart", 11],
      ["urlencoded", 11],
    ]);
    expect(textsOf(server, 11)).toEqual(["007", "Hi there"]);
  });

  test("getUpdates: unconfirmed updates come again; offset confirms; limit and negative offset", async () => {
    const ids = ["a", "b", "c"].map((text) => server.sendText(alice, text).update_id);
    expect(updateIds((await raw(server, "getUpdates")).body)).toEqual(ids);
    expect(updateIds((await raw(server, "getUpdates")).body)).toEqual(ids);
    expect(updateIds((await raw(server, "getUpdates", { limit: 1 })).body)).toEqual(ids.slice(0, 1));
    expect(updateIds((await raw(server, "getUpdates", { offset: ids[1] })).body)).toEqual(ids.slice(1));
    expect(server.pendingUpdateIds()).toEqual(ids.slice(1));
    expect(updateIds((await raw(server, "getUpdates", { offset: -1 })).body)).toEqual(ids.slice(2));
    expect(updateIds((await raw(server, "getUpdates", { offset: ids[2]! + 1 })).body)).toEqual([]);
    expect(server.pendingUpdateIds()).toEqual([]);
  });

  test("a long poll is answered as soon as an update is queued; a newer poll terminates it", async () => {
    const first = raw(server, "getUpdates", { timeout: 20 });
    await server.waitForPoll();
    const second = raw(server, "getUpdates", { timeout: 20 });
    expect(await first).toMatchObject({ status: 409, body: { error_code: 409 } });

    await server.waitForPoll();
    const started = performance.now();
    const update = server.sendText(alice, "wake up");
    const answered = await second;
    expect(performance.now() - started).toBeLessThan(500);
    expect(updateIds(answered.body)).toEqual([update.update_id]);
    await raw(server, "getUpdates", { offset: update.update_id + 1 });
  });

  test("webhooks block getUpdates; commands are kept per language code", async () => {
    await raw(server, "setWebhook", { url: "https://example.invalid/hook" });
    expect((await raw(server, "getWebhookInfo")).body).toMatchObject({
      result: { url: "https://example.invalid/hook" },
    });
    expect((await raw(server, "getUpdates")).status).toBe(409);
    await raw(server, "deleteWebhook", { drop_pending_updates: true });
    expect((await raw(server, "getUpdates")).status).toBe(200);

    await raw(server, "setMyCommands", { commands: [{ command: "start", description: "Start" }] });
    await raw(server, "setMyCommands", {
      commands: [{ command: "start", description: "Начать" }],
      language_code: "ru",
    });
    expect(server.getCommands()).toEqual([{ command: "start", description: "Start" }]);
    expect(server.getCommands("ru")).toEqual([{ command: "start", description: "Начать" }]);
    expect((await raw(server, "getMyCommands", { language_code: "ru" })).body).toMatchObject({
      result: [{ description: "Начать" }],
    });
    expect(
      (await raw(server, "setMyCommands", { commands: [{ command: "Bad!", description: "x" }] })).status,
    ).toBe(400);
  });

  test("rate limits answer 429 with retry_after and record violations", async () => {
    server.setRateLimit({ perChatPerSecond: 1 });
    expect((await raw(server, "sendMessage", { chat_id: 31, text: "first" })).status).toBe(200);
    const limited = await raw(server, "sendMessage", { chat_id: 31, text: "second" });
    expect(limited).toMatchObject({ status: 429, body: { error_code: 429, parameters: { retry_after: 1 } } });
    expect(server.violations).toMatchObject([
      { method: "sendMessage", chatId: 31, rule: "perChatPerSecond" },
    ]);

    server.setRateLimit({ perGroupPerMinute: 2, retryAfter: 30 });
    for (const text of ["1", "2"])
      expect((await raw(server, "sendMessage", { chat_id: -5, text })).status).toBe(200);
    expect((await raw(server, "sendMessage", { chat_id: -5, text: "3" })).body).toMatchObject({
      parameters: { retry_after: 30 },
    });

    server.setRateLimit({ globalPerSecond: 1, enforce: false });
    expect((await raw(server, "sendMessage", { chat_id: 33, text: "recorded, not refused" })).status).toBe(
      200,
    );
    expect(server.violations.at(-1)).toMatchObject({ chatId: 33, rule: "globalPerSecond" });
    server.setRateLimit({});
  });

  test("stop() answers a held long poll and closes promptly", async () => {
    const poll = raw(server, "getUpdates", { timeout: 30 });
    await server.waitForPoll();
    const started = performance.now();
    await server.stop();
    expect(await poll).toEqual({ status: 200, body: { ok: true, result: [] } });
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(fetch(`${server.url}/bot${server.token}/getMe`)).rejects.toThrow();
  });
});
