import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { and, asc, eq } from "drizzle-orm";
import { deliveries } from "../../src/bot/delivery/delivery-table";
import { messages, sessions } from "../../src/db/schema";
import { pressDraftStop, startTestBot, submitTopic } from "../helpers/bot-harness";
import { sessionInStatus } from "../helpers/debate-test-utils";
import { closingStatus, deliveriesOf } from "../helpers/deliveries";
import { eventually } from "../helpers/eventually";
import {
  type ChatSpec,
  type FakeTelegramServer,
  startFakeTelegramServer,
} from "../helpers/fake-telegram-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let running: Awaited<ReturnType<typeof startTestBot>> | null = null;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 2 } });
});
afterEach(async () => {
  await running?.stop();
  running = null;
  stack.fakeLlm.reset();
});
afterAll(async () => {
  await stack?.stop();
});

async function bot(options: Parameters<typeof startTestBot>[1] = {}) {
  running = await startTestBot(stack, options);
  return running.telegram;
}

/** Starts a session for a chat straight through the core (as if the bot had been asked). */
async function startDebate(
  chatId: number,
  topic = "Should cities ban cars from their centres?",
  options: { verdict?: boolean; language?: "ru" | "en"; maxRounds?: number } = {},
) {
  const created = await stack.debate.createSession({
    topic,
    chatId,
    source: "telegram",
    language: options.language ?? "en",
    verdict: options.verdict ?? false,
    maxRounds: options.maxRounds,
  });
  await stack.debate.startSession(created.session.id);
  return created.session.id;
}

const closingOf = (telegram: FakeTelegramServer, chatId: number, timeoutMs = 20_000) =>
  telegram.waitForSent((m) => m.chat_id === chatId && m.text.startsWith("Discussion ended"), timeoutMs);

const turnsIn = (telegram: FakeTelegramServer, chatId: number) =>
  telegram.sent.filter((m) => m.chat_id === chatId && m.text.startsWith("🤖"));

/** Every row of the session (author type) with its delivery status. */
async function deliveryStatusOf(sessionId: string) {
  const rows = await stack.db
    .select()
    .from(messages)
    .where(eq(messages.sessionId, sessionId))
    .orderBy(asc(messages.turnIndex));
  const { byMessage } = await deliveriesOf(stack.db, sessionId);
  return rows.map((row) => [row.authorType, byMessage.get(row.id)?.status]);
}

/** The session's model turns, each with the bot's delivery row (status, Telegram ids) if it has one. */
async function rowsOf(sessionId: string) {
  const rows = await stack.db
    .select()
    .from(messages)
    .where(and(eq(messages.sessionId, sessionId), eq(messages.authorType, "model")))
    .orderBy(asc(messages.turnIndex));
  const { byMessage } = await deliveriesOf(stack.db, sessionId);
  return rows.map((row) => ({
    ...row,
    deliveryStatus: byMessage.get(row.id)?.status,
    telegramMessageIds: byMessage.get(row.id)?.telegramMessageIds ?? null,
  }));
}

describe("bot delivery", () => {
  test("a 10 000-character answer is split at ≤ 4096 and delivered in order", async () => {
    const telegram = await bot();
    const paragraphs = Array.from(
      { length: 40 },
      (_, index) => `Paragraph ${index} — ёжик 🦔 says: ${"the argument continues steadily. ".repeat(7)}`,
    );
    stack.fakeLlm.enqueue({ text: paragraphs.join("\n\n") });
    const sessionId = await startDebate(7001);
    await closingOf(telegram, 7001);
    const rows = await rowsOf(sessionId);
    const first = rows[0]!;
    expect(first.content.length).toBeGreaterThan(10_000);
    expect(first.telegramMessageIds!.length).toBeGreaterThanOrEqual(3);
    const parts = first.telegramMessageIds!.map(
      (id) => telegram.sent.find((m) => m.message_id === id && m.chat_id === 7001)!,
    );
    for (const part of parts) expect(part.text.length).toBeLessThanOrEqual(4096);
    const joined = parts.map((part) => part.text).join("\n\n");
    let position = 0;
    for (const paragraph of paragraphs) {
      const found = joined.indexOf(paragraph.trim(), position);
      expect(found).toBeGreaterThanOrEqual(position);
      position = found;
    }
    // The next turn comes after every part of the long one.
    expect(rows[1]!.telegramMessageIds![0]).toBeGreaterThan(Math.max(...first.telegramMessageIds!));
  }, 60_000);

  test("hostile Markdown never fails delivery: a parse-entities 400 falls back to plain text", async () => {
    const telegram = await bot();
    const hostile = "**bold _italic `code [link](javascript:alert(1)) <b>x</b> ```js\nunclosed\n*** __ [](";
    stack.fakeLlm.enqueue({ text: hostile });
    telegram.failNext("sendMessage", {
      error_code: 400,
      description:
        "Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 3",
    });
    const sessionId = await startDebate(7002);
    await closingOf(telegram, 7002);
    const rows = await rowsOf(sessionId);
    expect(rows.map((row) => row.deliveryStatus)).toEqual(["sent", "sent", "sent", "sent"]);
    const first = telegram.sent.find(
      (m) => m.message_id === rows[0]!.telegramMessageIds![0] && m.chat_id === 7002,
    )!;
    expect(first.text).toContain("<b>x</b>");
    expect(first.text).toContain("unclosed");
    expect(first.entities ?? []).toEqual([]);
    expect(turnsIn(telegram, 7002)).toHaveLength(4);
  }, 60_000);

  test("429 storm: nothing lost, nothing twice, no rate limit broken", async () => {
    const telegram = await bot({
      // Telegram's own numbers (the fake enforces them below), as production runs.
      delivery: {
        perChatPerSecond: 1,
        chatBurst: 2,
        groupPerMinute: 18,
        groupBurst: 2,
        globalPerSecond: 25,
        globalBurst: 5,
      },
    });
    telegram.setRateLimit({ perChatPerSecond: 2, perGroupPerMinute: 20, globalPerSecond: 30 });
    telegram.failNext(
      "sendMessage",
      { error_code: 429, description: "Too Many Requests: retry after 1", retry_after: 1 },
      3,
    );
    const sessionId = await startDebate(-7003);
    await closingOf(telegram, -7003, 30_000);
    const turns = turnsIn(telegram, -7003);
    expect(turns.map((m) => m.text.split("\n")[0]!.split(" · ")[0])).toEqual([
      "🤖 ChatGPT",
      "🤖 DeepSeek",
      "🤖 ChatGPT",
      "🤖 DeepSeek",
    ]);
    expect((await deliveryStatusOf(sessionId)).every(([, status]) => status === "sent")).toBe(true);
    expect(telegram.violations).toEqual([]);
    expect(telegram.calls.filter((c) => c.method === "sendMessage" && c.response?.ok === false).length).toBe(
      3,
    );
    telegram.setRateLimit({});
  }, 60_000);

  test("restart with undelivered turns: pending rows delivered once, sent rows not re-sent", async () => {
    // No bot runs while the debate happens: nothing is posted.
    const sessionId = await startDebate(7004);
    await sessionInStatus(stack, sessionId, ["finished"]);
    const rows = await rowsOf(sessionId);
    expect(rows.map((row) => row.deliveryStatus)).toEqual([undefined, undefined, undefined, undefined]);
    // The bot had tracked it, and the first turn went out before the "crash".
    await stack.db.insert(deliveries).values([
      { sessionId, chatId: 7004, kind: "closing" },
      {
        sessionId,
        chatId: 7004,
        kind: "turn",
        messageId: rows[0]!.id,
        turnIndex: rows[0]!.turnIndex,
        status: "sent",
        telegramMessageIds: [424242],
        deliveredAt: new Date(),
      },
    ]);
    const telegram = await bot();
    await closingOf(telegram, 7004);
    await running!.door.outbox.idle();
    const turns = turnsIn(telegram, 7004);
    expect(turns.map((m) => m.text.split("\n")[0]!.split(" · ")[0])).toEqual([
      "🤖 DeepSeek",
      "🤖 ChatGPT",
      "🤖 DeepSeek",
    ]);
    expect(
      telegram.sent.filter((m) => m.chat_id === 7004 && m.text.startsWith("Discussion ended")),
    ).toHaveLength(1);
    expect((await rowsOf(sessionId)).map((row) => row.deliveryStatus)).toEqual([
      "sent",
      "sent",
      "sent",
      "sent",
    ]);
    // A second restart sends nothing more.
    await running!.stop();
    running = null;
    const again = await bot();
    // start() kicked every chat with undelivered rows; once those passes are done, nothing is due.
    await running!.door.outbox.idle();
    expect(again.sent.filter((m) => m.chat_id === 7004)).toEqual([]);
  }, 60_000);

  test("two chats debating at once each get their full debate in order, with typing", async () => {
    const telegram = await bot();
    stack.fakeLlm.setResponder((_, index) => ({
      chunks: [`Point ${index}: `, "one argument ", "after ", `another ${index}.`],
      chunkDelayMs: 80,
    }));
    const a: ChatSpec = { id: 7005, type: "private" };
    const b: ChatSpec = { id: 7006, type: "private" };
    for (const chat of [a, b]) telegram.sendText(chat, "/new", { id: chat.id, language_code: "en" });
    await telegram.waitForSentCount(a.id, 1);
    await telegram.waitForSentCount(b.id, 1);
    await Promise.all(
      [a, b].map((chat) =>
        submitTopic(telegram, chat, { id: chat.id, language_code: "en" }, `Topic for chat ${chat.id}`),
      ),
    );
    await Promise.all([closingOf(telegram, a.id, 30_000), closingOf(telegram, b.id, 30_000)]);
    for (const chat of [a, b]) {
      expect(turnsIn(telegram, chat.id).map((m) => m.text.split("\n")[0])).toEqual([
        expect.stringMatching(/^🤖 ChatGPT · .* · round 1\/2$/),
        expect.stringMatching(/^🤖 DeepSeek · .* · round 1\/2$/),
        expect.stringMatching(/^🤖 ChatGPT · .* · round 2\/2$/),
        expect.stringMatching(/^🤖 DeepSeek · .* · round 2\/2$/),
      ]);
      expect(telegram.calls.some((c) => c.method === "sendChatAction" && c.chatId === chat.id)).toBe(true);
    }
  }, 60_000);

  test("bad inputs: empty and huge topics, sticker, edited message, unknown command, commands not topics", async () => {
    const telegram = await bot();
    const chat: ChatSpec = { id: 7007, type: "private" };
    const from = { id: 7007, language_code: "en" };
    const next = async (count: number) => (await telegram.waitForSentCount(chat.id, count)).at(-1)!.text;
    telegram.sendText(chat, "/new", from);
    expect(await next(1)).toContain("Send the discussion topic");
    telegram.sendText(chat, "    ", from);
    expect(await next(2)).toBe(
      "The topic cannot be empty.\nSend the discussion topic (up to 1000 characters).",
    );
    telegram.sendText(chat, "x".repeat(1001), from);
    expect(await next(3)).toContain("too long: 1001");
    telegram.sendSticker(chat, from);
    expect(await next(4)).toBe("Please send the topic as text.");
    telegram.sendText(chat, "/frobnicate", from);
    expect(await next(5)).toContain("Unknown command");
    // The unknown command cleared the question: plain text now only gets the help.
    telegram.sendText(chat, "New discussion", from);
    expect(await next(6)).toContain("Send the discussion topic");
    telegram.sendText(chat, "/help@roundtable_test_bot", from);
    expect(await next(7)).toContain("Commands:");
    expect(await stack.debate.activeSessionForChat(chat.id)).toBeNull();
    // Edited messages are ignored.
    const original = telegram.sendText(chat, "/new", from);
    expect(await next(8)).toContain("Send the discussion topic");
    telegram.editText(chat, original.message!.message_id, "An edited topic");
    // A probe after the edit: its answer is the next message, so the edit produced none.
    telegram.sendText(chat, "/help", from);
    expect(await next(9)).toContain("Commands:");
    expect(await stack.debate.activeSessionForChat(chat.id)).toBeNull();
    // A command for another bot in a group is not ours.
    const group: ChatSpec = { id: -7008, type: "group" };
    telegram.sendText(group, "/help@other_bot", { id: 1000 });
    telegram.sendText(group, "/start@roundtable_test_bot", { id: 1000 });
    const answer = await telegram.waitForSent((m) => m.chat_id === group.id);
    // Updates of a chat are answered in order: a reply to /help@other_bot would have come first.
    expect(answer.text).toContain("Привет");
    expect(telegram.sent.filter((m) => m.chat_id === group.id)).toHaveLength(1);
  }, 60_000);

  test("403 (bot blocked) stops the chat's debate with reason error and fails its rows", async () => {
    const telegram = await bot();
    stack.fakeLlm.setResponder((_, index) => ({
      chunks: [`Slow ${index} `, `words ${index}.`],
      chunkDelayMs: 300,
    }));
    const sessionId = await startDebate(7009);
    await telegram.waitForSent((m) => m.chat_id === 7009 && m.text.startsWith("🤖 ChatGPT"), 15_000);
    telegram.failNext(
      "sendMessage",
      { error_code: 403, description: "Forbidden: bot was blocked by the user" },
      Infinity,
    );
    await eventually(
      async () => {
        const [row] = await stack.db.select().from(sessions).where(eq(sessions.id, sessionId));
        return row?.status === "failed" && (await closingStatus(stack.db, sessionId)) === "failed";
      },
      { timeoutMs: 15_000 },
    );
    const [session] = await stack.db.select().from(sessions).where(eq(sessions.id, sessionId));
    expect(session!.stopReason).toBe("error");
    const rows = await rowsOf(sessionId);
    expect(rows[0]!.deliveryStatus).toBe("sent");
    // What was left to post is given up (failed), and nothing after it was posted.
    expect(
      rows.slice(1).every((row) => row.deliveryStatus !== "sent" && row.deliveryStatus !== "pending"),
    ).toBe(true);
    telegram.clearFailures();
  }, 60_000);

  test("a provider's refusal reaches the chat as one short classified line, never the provider's text", async () => {
    const telegram = await bot();
    const providerText =
      "Project `proj_Ab12Cd34Ef56` in organization org-XyZ987654321 does not have access; Insufficient Balance";
    stack.fakeLlm.setResponder((request) =>
      request.model === "gpt-test" ? { status: 403, errorMessage: providerText } : {},
    );
    const sessionId = await startDebate(7020);
    await closingOf(telegram, 7020);
    const chat = telegram.sent.filter((message) => message.chat_id === 7020).map((message) => message.text);
    expect(chat).toContain(
      "ChatGPT could not answer: the provider refused the request (HTTP 403). It was excluded from the debate.",
    );
    for (const leak of ["proj_", "org-XyZ", "Insufficient", "organization"]) {
      expect(chat.join("\n")).not.toContain(leak);
    }
    // The operator still gets the detail, scrubbed of the ids.
    const detail = await stack.debate.getSession(sessionId);
    const reason = detail.participants.find((participant) => participant.displayName === "ChatGPT")!
      .exclusionReason!;
    expect(reason).toContain("403");
    expect(reason).toContain("Insufficient Balance");
    expect(reason).not.toContain("proj_Ab12Cd34Ef56");
    expect(reason).not.toContain("org-XyZ987654321");
  }, 60_000);

  test("typing on turn-start, throttled drafts in private chats only, draft errors ignored", async () => {
    const telegram = await bot();
    const ids: Record<number, string> = {};
    for (const chatId of [7010, -7011]) {
      const created = await stack.debate.createSession({ topic: "Drafts", chatId, source: "telegram" });
      ids[chatId] = created.session.id;
    }
    telegram.failNext("sendMessageDraft", { error_code: 400, description: "Bad Request: draft failed" });
    for (const chatId of [7010, -7011]) {
      const sessionId = ids[chatId]!;
      const base = { sessionId, turnIndex: 0, participantId: 1 };
      await stack.events.publish({ type: "turn-start", ...base, round: 1, name: "ChatGPT" });
      for (let step = 1; step <= 6; step++) {
        await stack.events.publish({ type: "turn-delta", ...base, text: "word ".repeat(step) });
        await Bun.sleep(30);
      }
    }
    await telegram.waitForCall("sendChatAction", (c) => c.chatId === -7011);
    await eventually(() => telegram.drafts.filter((d) => d.chat_id === 7010).length >= 1);
    expect(telegram.calls.some((c) => c.method === "sendChatAction" && c.chatId === 7010)).toBe(true);
    const draftCalls = telegram.calls.filter((c) => c.method === "sendMessageDraft");
    // Never tried in the group (Telegram answers TEXTDRAFT_PEER_INVALID there).
    expect(draftCalls.every((c) => c.chatId === 7010)).toBe(true);
    // Throttled: fewer drafts than deltas.
    expect(draftCalls.length).toBeLessThan(6);
    // Rendered like the final message: the bold header line, then the text; with the stop button.
    const draft = telegram.drafts.find((d) => d.chat_id === 7010)!;
    expect(draft.text).toMatch(/^🤖 ChatGPT · (.+ · )?(round|раунд) 1\/2\n\nword/);
    expect(draft.entities?.[0]).toMatchObject({ type: "bold", offset: 0 });
    expect(draft.can_stop).toBe(true);
    for (const id of Object.values(ids)) await stack.debate.stopSession(id, "user");
  }, 60_000);

  test("a streamed draft carries the final message's text and entities, never raw Markdown", async () => {
    const telegram = await bot({ engine: { deltaIntervalMs: 10 } });
    stack.fakeLlm.setResponder(() => ({
      chunks: ["**Bold** opening", " with `code` and a [link](https://example.org/a)."],
      chunkDelayMs: 150,
    }));
    const sessionId = await startDebate(7020);
    await closingOf(telegram, 7020);
    const [first] = await rowsOf(sessionId);
    const final = telegram.sent.find(
      (m) => m.chat_id === 7020 && m.message_id === first!.telegramMessageIds![0],
    )!;
    const drafts = telegram.drafts.filter((d) => d.chat_id === 7020 && d.draft_id === first!.turnIndex + 1);
    expect(drafts.length).toBeGreaterThan(0);
    for (const draft of drafts) {
      expect(draft.can_stop).toBe(true);
      expect(draft.text).not.toContain("**");
    }
    const last = drafts.at(-1)!;
    expect({ text: last.text, entities: last.entities }).toEqual({
      text: final.text,
      entities: final.entities,
    });
    expect(final.entities?.map((entity) => entity.type)).toEqual(["bold", "bold", "code", "text_link"]);
  }, 60_000);

  test("in webhook mode too, a stopped_message_generation update stops the chat's debate", async () => {
    const telegram = await startFakeTelegramServer();
    const secret = "drafts-webhook-secret";
    const instance = await stack.instance({
      env: {
        TELEGRAM_BOT_TOKEN: telegram.token,
        TELEGRAM_API_URL: telegram.url,
        TELEGRAM_WEBHOOK_URL: "https://bot.example.com/telegram/webhook",
        TELEGRAM_WEBHOOK_SECRET: secret,
      },
    });
    try {
      await telegram.waitForCall("setWebhook", (call) => call.response?.ok === true, 15_000);
      stack.fakeLlm.setResponder(() => ({ text: "Slowly.", delayMs: 5_000 }));
      const sessionId = await startDebate(7023);
      await stack.fakeLlm.waitForRequests(1);
      // What Telegram posts when the user presses stop under the chat's draft.
      const update = telegram.queueUpdate({
        stopped_message_generation: { chat: { id: 7023, type: "private", first_name: "Wes" }, draft_id: 1 },
      });
      const response = await instance.http.handle(
        new Request("http://localhost/telegram/webhook", {
          method: "POST",
          headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": secret },
          body: JSON.stringify(update),
        }),
      );
      expect(response.status).toBe(200);
      const row = await sessionInStatus(stack, sessionId, ["stopped"]);
      expect(row?.stopReason).toBe("user");
    } finally {
      await instance.stop();
      await telegram.stop();
    }
  }, 60_000);

  test("a draft past 4096 shows the part being written, as the final message's last piece", async () => {
    const telegram = await bot({ engine: { deltaIntervalMs: 10 } });
    const paragraph = (index: number) =>
      `Paragraph ${index}: ${"a steady argument goes on. ".repeat(60)}\n\n`;
    stack.fakeLlm.setResponder(() => ({
      chunks: Array.from({ length: 6 }, (_, index) => paragraph(index)),
      chunkDelayMs: 150,
    }));
    const sessionId = await startDebate(7022);
    await closingOf(telegram, 7022);
    const [first] = await rowsOf(sessionId);
    expect(first!.telegramMessageIds!.length).toBeGreaterThan(1);
    const draftCalls = telegram.calls.filter((c) => c.method === "sendMessageDraft" && c.chatId === 7022);
    // Every draft was accepted: none went over Telegram's limit.
    expect(draftCalls.length).toBeGreaterThan(0);
    expect(draftCalls.every((call) => call.response?.ok === true)).toBe(true);
    const drafts = telegram.drafts.filter((d) => d.chat_id === 7022 && d.draft_id === first!.turnIndex + 1);
    for (const draft of drafts) expect(draft.text.length).toBeLessThanOrEqual(4096);
    const lastPiece = telegram.sent.find(
      (m) => m.chat_id === 7022 && m.message_id === first!.telegramMessageIds!.at(-1),
    )!;
    expect(drafts.at(-1)!.text).toBe(lastPiece.text);
  }, 60_000);

  test("Telegram's stop button under a draft stops the debate as «Stop dialog» does", async () => {
    const telegram = await bot({ engine: { deltaIntervalMs: 10 } });
    stack.fakeLlm.setResponder(() => ({
      chunks: Array.from({ length: 60 }, (_, index) => `point${index} `),
      chunkDelayMs: 100,
    }));
    const sessionId = await startDebate(7021);
    const stopped = await pressDraftStop(telegram, 7021);
    expect(stopped.draft_id).toBe(1);
    const closing = await closingOf(telegram, 7021);
    expect(closing.text).toContain("stopped by the user");
    const [row] = await stack.db.select().from(sessions).where(eq(sessions.id, sessionId));
    expect([row?.status, row?.stopReason]).toEqual(["stopped", "user"]);
    // The turn being drafted was aborted: nothing of it is posted.
    expect(turnsIn(telegram, 7021)).toEqual([]);
    await stack.fakeLlm.waitForAbort(0);
  }, 60_000);

  test("the verdict is posted under a bold heading in the session's language; interjections are not posted again", async () => {
    const telegram = await bot();
    stack.fakeLlm.setResponder(async (request) => {
      // The second turn waits for the interjection to be stored.
      if (request.index === 1) await eventually(() => interjected, { message: "interjection" });
      return request.messages[0]!.content.startsWith("You are the impartial moderator")
        ? { text: "**Консенсус:** средний" }
        : {};
    });
    let interjected = false;
    const sessionId = await startDebate(7030, "Нужны ли трамваи?", {
      verdict: true,
      language: "ru",
      maxRounds: 1,
    });
    await stack.fakeLlm.waitForRequests(2);
    await stack.debate.interject(sessionId, { content: "А зимой?", by: "user" });
    interjected = true;
    await telegram.waitForSent(
      (m) => m.chat_id === 7030 && m.text.startsWith("Обсуждение завершено"),
      20_000,
    );
    const texts = telegram.sent.filter((m) => m.chat_id === 7030).map((m) => m.text);
    const verdictMessage = telegram.sent.find((m) => m.chat_id === 7030 && m.text.startsWith("⚖️"))!;
    expect(verdictMessage.text).toBe("⚖️ Вердикт модератора · ChatGPT\n\nКонсенсус: средний");
    const heading = "⚖️ Вердикт модератора · ChatGPT";
    expect(verdictMessage.entities).toContainEqual({ type: "bold", offset: 0, length: heading.length });
    // Model Markdown rendered as entities, not raw asterisks.
    expect(verdictMessage.entities).toContainEqual({ type: "bold", offset: heading.length + 2, length: 10 });
    // The verdict comes after the turns and before the closing line; the interjection is not re-posted.
    expect(texts.indexOf(verdictMessage.text)).toBe(texts.length - 2);
    expect(texts.some((text) => text.includes("А зимой?"))).toBe(false);
    expect(await deliveryStatusOf(sessionId)).toEqual([
      ["model", "sent"],
      ["user", "skipped"],
      ["model", "sent"],
      ["verdict", "sent"],
    ]);
  });

  test("a continued debate posts its new turns and a new closing line; a verdict asked for later is posted too", async () => {
    const telegram = await bot();
    const sessionId = await startDebate(7031, "Trams or buses?", { maxRounds: 1 });
    const closing = (count: number) =>
      eventually(
        () =>
          telegram.sent.filter((m) => m.chat_id === 7031 && m.text.startsWith("Discussion ended")).length >=
          count,
        { timeoutMs: 20_000, message: `closing line #${count}` },
      );
    await closing(1);
    await stack.debate.continueSession(sessionId, 1);
    await closing(2);
    await stack.debate.requestVerdict(sessionId);
    await closing(3);
    const texts = telegram.sent.filter((m) => m.chat_id === 7031).map((m) => m.text);
    const kinds = texts.map((text) =>
      text.startsWith("Discussion ended")
        ? "closing"
        : text.startsWith("⚖️ Moderator's verdict")
          ? "verdict"
          : "turn",
    );
    expect(kinds).toEqual(["turn", "turn", "closing", "turn", "turn", "closing", "verdict", "closing"]);
    expect((await deliveryStatusOf(sessionId)).every(([, status]) => status === "sent")).toBe(true);
  });
});
