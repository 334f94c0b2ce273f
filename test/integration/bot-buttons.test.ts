/**
 * The bot's inline buttons through the fake Bot API: every callback query answered (unknown data
 * included), buttons of an older debate refused, the setup keyboard after the topic, interjections
 * while a debate runs, and the buttons under the closing line (one more round, verdict, export,
 * new discussion) and /export.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { endButton } from "../../src/bot/callback-data";
import { DEBATE_FORMATS } from "../../src/debate/debate-formats";
import { replyToTopic, setupButtonOf, startTestBot, submitTopic } from "../helpers/bot-harness";
import { eventually } from "../helpers/eventually";
import {
  type ChatSpec,
  type FakeTelegramServer,
  nextSentTo,
  replyTo,
  type SentMessage,
  type UserSpec,
} from "../helpers/fake-telegram-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let bot: Awaited<ReturnType<typeof startTestBot>>;
let telegram: FakeTelegramServer;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 1 } });
  bot = await startTestBot(stack);
  telegram = bot.telegram;
});
afterAll(async () => {
  await bot?.stop();
  await stack?.stop();
});

const privateChat = (id: number, language_code = "en"): { chat: ChatSpec; user: UserSpec } => ({
  chat: { id, type: "private" },
  user: { id, first_name: "Tess", language_code },
});

/** Presses a button and resolves with the bot's answer to that callback query. */
async function press(chat: ChatSpec, user: UserSpec, messageId: number, data: string, force = false) {
  const update = telegram.pressButton(chat, messageId, data, user, { force });
  const id = update.callback_query!.id;
  await eventually(() => telegram.callbackAnswers.some((answer) => answer.callback_query_id === id));
  return telegram.callbackAnswers.find((answer) => answer.callback_query_id === id)!;
}

/** Starts a debate for the chat straight through the core, as if the bot had been asked. */
async function debateIn(chatId: number) {
  const created = await stack.debate.createSession({ topic: "Tabs or spaces?", chatId, source: "telegram" });
  await bot.door.outbox.track(created.session.id, chatId);
  return created.session.id;
}

describe("callback queries", () => {
  test("unknown or malformed data is answered, saying the button no longer works", async () => {
    const { chat, user } = privateChat(8101);
    for (const data of ["nonsense", "end", `${endButton.pack({ session: "x", action: "new" })};;`]) {
      const answer = await press(chat, user, 1, data, true);
      expect(answer.text).toBe("This button no longer works.");
    }
    expect(telegram.unansweredCallbackQueries()).toEqual([]);
  }, 60_000);

  test("a button of an older debate says it has ended and does nothing", async () => {
    const { chat, user } = privateChat(8102, "ru");
    const older = await debateIn(chat.id);
    const closed = telegram.waitForSent(
      (message) =>
        message.chat_id === chat.id && /^(Discussion ended|Обсуждение завершено)/.test(message.text),
      15_000,
    );
    await stack.debate.stopSession(older, "user");
    await closed;
    await debateIn(chat.id);
    const before = telegram.sent.filter((message) => message.chat_id === chat.id).length;
    const answer = await press(chat, user, 1, endButton.pack({ session: older, action: "new" }), true);
    expect(answer.text).toBe("Это обсуждение уже закончилось.");
    const reply = nextSentTo(telegram, chat.id);
    telegram.sendText(chat, "/help", user);
    expect((await reply).text).toStartWith("Команды:");
    // Only the /help answer: the stale button asked for no topic.
    expect(telegram.sent.filter((message) => message.chat_id === chat.id).length).toBe(before + 1);
    expect(
      telegram.sent.some((message) => message.chat_id === chat.id && /тему|topic/.test(message.text)),
    ).toBe(false);
  }, 60_000);
});

/** The user asks for a new discussion and sends the topic; resolves with the setup card. */
async function cardFor(chat: ChatSpec, user: UserSpec, topic: string) {
  const asked = nextSentTo(telegram, chat.id, (text) => text.includes("topic") || text.includes("тему"));
  telegram.sendText(chat, "/new", user);
  await asked;
  const card = nextSentTo(telegram, chat.id, (text) => text.startsWith("📝"));
  telegram.sendText(chat, topic, user);
  return card;
}

/** /new, the topic, then «Start» on the card: a debate with the defaults; resolves once announced. */
async function newDebate(chat: ChatSpec, user: UserSpec, topic: string) {
  const asked = nextSentTo(telegram, chat.id, (text) => text.includes("topic") || text.includes("тему"));
  telegram.sendText(chat, "/new", user);
  await asked;
  return replyToTopic(telegram, chat, user, topic, (text) => /^(Topic|Тема):/.test(text));
}

/** The current version of a message the bot sent. */
const current = (chatId: number, messageId: number) =>
  telegram.sent.find((message) => message.chat_id === chatId && message.message_id === messageId)!;

const sessionOfChat = async (chatId: number) => {
  const id = await bot.door.outbox.lastSession(chatId);
  return id ? stack.debate.getSessionRow(id) : null;
};

const closingIn = (chatId: number, after = 0) =>
  telegram.waitForSent(
    (message) =>
      message.chat_id === chatId && message.message_id > after && message.text.startsWith("Discussion ended"),
    30_000,
  );

/** The callback data of a closing line's button. */
const endButtonOf = (message: SentMessage, action: string) =>
  (message.reply_markup?.inline_keyboard ?? [])
    .flat()
    .map((button: { callback_data?: string }) => button.callback_data)
    .find(
      (data: string | undefined) =>
        data && endButton.filter(data) && endButton.unpack(data).action === action,
    );

describe("the setup card after the topic", () => {
  test("customize: pick a format, rounds and the verdict, then start; the session has them", async () => {
    const { chat, user } = privateChat(8201);
    const card = await cardFor(chat, user, "Should cities ban cars?");
    expect(card.text).toContain("Format: Round table. Rounds: 1. Participants: ChatGPT, DeepSeek.");
    expect(setupButtonOf(card, "options")).toBeDefined();

    const options = setupButtonOf(card, "options")!;
    expect((await press(chat, user, card.message_id, options)).text).toBeUndefined();
    const open = current(chat.id, card.message_id);
    // A double tap: Telegram answers "message is not modified", which is no failure.
    expect((await press(chat, user, card.message_id, options, true)).text).toBeUndefined();
    expect(open.text).toContain("Pro and contra — sides argue for and against");
    expect(open.text).toContain("Delphi — ");
    const formatIndex = DEBATE_FORMATS.indexOf("pro_contra");
    await press(chat, user, card.message_id, setupButtonOf(open, "format", formatIndex)!);
    await press(chat, user, card.message_id, setupButtonOf(current(chat.id, card.message_id), "rounds", 2)!);
    await press(chat, user, card.message_id, setupButtonOf(current(chat.id, card.message_id), "verdict")!);
    const chosen = current(chat.id, card.message_id);
    expect(chosen.text).toContain("Format: Pro and contra. Rounds: 2. Participants: ChatGPT, DeepSeek.");
    expect(chosen.text).toContain("Moderator's verdict: no.");
    const labels = chosen.reply_markup.inline_keyboard.flat().map((button: { text: string }) => button.text);
    expect(labels).toContain("✓ Pro and contra");
    expect(labels).toContain("✓ 2");
    expect(labels).toContain("Verdict: no");

    // Two providers: unticking one would leave a debate of one.
    const providers = await stack.debate.preflight();
    const deepSeek = providers.providers.find((provider) => provider.name === "DeepSeek")!;
    const untick = await press(
      chat,
      user,
      card.message_id,
      setupButtonOf(chosen, "participant", deepSeek.id)!,
    );
    expect(untick.text).toBe("At least two participants are needed.");

    const announce = nextSentTo(telegram, chat.id, (text) => text.startsWith("Topic:"));
    // Sent messages are kept up to date by edits: the data is read before the card loses its buttons.
    const start = setupButtonOf(chosen, "start")!;
    await press(chat, user, card.message_id, start);
    expect((await announce).text).toContain("Format: Pro and contra.");
    // The card keeps its summary and loses its buttons.
    expect(current(chat.id, card.message_id).reply_markup).toBeUndefined();
    const session = (await sessionOfChat(chat.id))!;
    expect(session).toMatchObject({ format: "pro_contra", maxRounds: 2, verdict: false, language: "en" });
    const closing = await closingIn(chat.id);

    // No verdict was asked for: the closing line offers one, and it is delivered highlighted.
    const endLabels = closing.reply_markup.inline_keyboard
      .flat()
      .map((button: { text: string }) => button.text);
    expect(endLabels).toEqual(["➕ One more round", "⚖️ Verdict", "📄 Export", "🆕 New discussion"]);
    const verdictMessage = nextSentTo(telegram, chat.id, (text) => text.startsWith("⚖️ Moderator's verdict"));
    const closedAgain = closingIn(chat.id, closing.message_id);
    const asked = await press(chat, user, closing.message_id, endButtonOf(closing, "verdict")!);
    expect(asked.text).toBe("The moderator is writing the verdict…");
    expect((await verdictMessage).entities?.[0]).toMatchObject({ type: "bold", offset: 0 });
    const after = await closedAgain;
    expect(after.reply_markup.inline_keyboard.flat().map((button: { text: string }) => button.text)).toEqual([
      "➕ One more round",
      "📄 Export",
      "🆕 New discussion",
    ]);
    const twice = await press(chat, user, after.message_id, endButtonOf(closing, "verdict")!, true);
    expect(twice.text).toBe("There is a verdict already.");

    // Its buttons are gone; pressing the old data anyway starts nothing.
    const again = await press(chat, user, card.message_id, start, true);
    expect(again.text).toBe("These settings have expired. Start again: /new.");
    expect((await sessionOfChat(chat.id))!.id).toBe(session.id);
  }, 60_000);

  test("in a group only the one who proposed the topic sets it up; Russian texts for a Russian user", async () => {
    const group: ChatSpec = { id: -8202, type: "supergroup" };
    const starter: UserSpec = { id: 8202, first_name: "Ann", language_code: "ru" };
    const other: UserSpec = { id: 8203, first_name: "Bob", language_code: "ru" };
    const card = await cardFor(group, starter, "Кошки или собаки?");
    expect(card.text).toContain("Формат: Круглый стол. Раундов: 1.");
    const refused = await press(group, other, card.message_id, setupButtonOf(card, "start")!);
    expect(refused.text).toBe("Настроить обсуждение может только тот, кто предложил тему.");
    expect(await sessionOfChat(group.id)).toBeNull();
    const closing = nextSentTo(telegram, group.id, (text) => text.startsWith("Обсуждение завершено"), 30_000);
    await press(group, starter, card.message_id, setupButtonOf(card, "start")!);
    await closing;
    expect(await sessionOfChat(group.id)).toMatchObject({ format: "roundtable", language: "ru" });
  }, 60_000);
});

describe("while a debate runs", () => {
  test("the user's text is an interjection: acknowledged, and the next speaker's prompt carries it", async () => {
    const { chat, user } = privateChat(8301);
    // Slow answers: the debate is still running when the user speaks.
    stack.fakeLlm.setResponder(() => ({ text: "A considered answer.", delayMs: 400 }));
    try {
      const closing = closingIn(chat.id);
      await newDebate(chat, user, "Is remote work here to stay?");
      await stack.fakeLlm.waitForRequests(1);
      const ack = nextSentTo(telegram, chat.id, (text) => text.startsWith("Got it"));
      telegram.sendText(chat, "What about junior developers?", user);
      expect((await ack).text).toBe("Got it: the next speakers will address your message.");
      // At once again: too soon.
      expect(await replyTo(telegram, chat, user, "And managers?", (text) => !text.startsWith("🤖"))).toBe(
        "Not so fast: let the participants answer your previous message first.",
      );
      await closing;
      const prompts = stack.fakeLlm.requests.map((request) => JSON.stringify(request.messages));
      expect(prompts.some((prompt) => prompt.includes("What about junior developers?"))).toBe(true);
      expect(prompts.some((prompt) => prompt.includes("And managers?"))).toBe(false);
      // The interjection is not posted back as a turn.
      expect(
        telegram.sent.filter((m) => m.chat_id === chat.id && m.text.includes("junior developers")),
      ).toEqual([]);
      // After the end, text is chatter again.
      expect(await replyTo(telegram, chat, user, "Hello?")).toStartWith("Commands:");
    } finally {
      stack.fakeLlm.reset();
    }
  }, 60_000);

  test("in a group only the starter's text is an interjection; commands stay commands", async () => {
    const group: ChatSpec = { id: -8302, type: "supergroup" };
    const starter: UserSpec = { id: 8302, first_name: "Ann", language_code: "en" };
    const other: UserSpec = { id: 8303, first_name: "Bob", language_code: "en" };
    stack.fakeLlm.setResponder(() => ({ text: "Slowly.", delayMs: 3_000 }));
    try {
      await newDebate(group, starter, "Trains or planes?");
      await stack.fakeLlm.waitForRequests(1);
      telegram.sendText(group, "I think trains", other);
      expect(await replyTo(telegram, group, starter, "/usage")).toStartWith("Today:");
      const session = (await sessionOfChat(group.id))!;
      const stored = await stack.debate.listMessages(session.id);
      expect(stored.filter((message) => message.authorType === "user")).toEqual([]);
      expect(await replyTo(telegram, group, starter, "Mind the cost")).toBe(
        "Got it: the next speakers will address your message.",
      );
      expect(
        (await stack.debate.listMessages(session.id)).filter((message) => message.authorType === "user"),
      ).toEqual([expect.objectContaining({ content: "Mind the cost" })]);
      await replyTo(telegram, group, starter, "/stop", (text) => text.startsWith("Discussion ended"));
    } finally {
      stack.fakeLlm.reset();
    }
  }, 60_000);
});

describe("after the closing line", () => {
  test("one more round, the verdict, export and a new discussion", async () => {
    const { chat, user } = privateChat(8401);
    const firstClosing = closingIn(chat.id);
    await newDebate(chat, user, "Is nuclear power green?");
    const closing = await firstClosing;
    const session = (await sessionOfChat(chat.id))!;
    const labels = closing.reply_markup.inline_keyboard.flat().map((button: { text: string }) => button.text);
    // The verdict is in already (on by default): no button for it.
    expect(labels).toEqual(["➕ One more round", "📄 Export", "🆕 New discussion"]);

    // Export: the transcript as a Markdown document.
    const exported = await press(chat, user, closing.message_id, endButtonOf(closing, "export")!);
    expect(exported.text).toBe("Transcript sent.");
    const document = telegram.documents.find((sent) => sent.chat_id === chat.id)!;
    expect(document.file_name).toEndWith(".md");
    expect(document.caption).toBe("Transcript: Is nuclear power green?");
    expect(document.content).toContain("Is nuclear power green?");
    const turns = (await stack.debate.listMessages(session.id)).filter((m) => m.authorType === "model");
    for (const turn of turns) expect(document.content).toContain(turn.content);

    // One more round: the same debate goes on and ends again, with buttons again.
    const secondClosing = closingIn(chat.id, closing.message_id);
    const more = await press(chat, user, closing.message_id, endButtonOf(closing, "more")!);
    expect(more.text).toBe("Going on: one more round.");
    const again = await secondClosing;
    expect(again.text).toContain("Rounds: 2/2");
    expect((await stack.debate.getSessionRow(session.id)).maxRounds).toBe(2);
    expect(
      telegram.sent.filter(
        (m) => m.chat_id === chat.id && m.text.startsWith("🤖") && m.text.includes("round 2/2"),
      ),
    ).toHaveLength(2);

    // New discussion: asks for the topic; the old closing line's buttons are stale once it starts.
    const asked = nextSentTo(telegram, chat.id, (text) => text.startsWith("Send the discussion topic"));
    await press(chat, user, again.message_id, endButtonOf(again, "new")!);
    await asked;
    const thirdClosing = closingIn(chat.id, again.message_id);
    await submitTopic(telegram, chat, user, "Is solar power green?");
    await thirdClosing;
    const stale = await press(chat, user, again.message_id, endButtonOf(again, "more")!);
    expect(stale.text).toBe("This discussion has already ended.");
    expect((await stack.debate.getSessionRow(session.id)).maxRounds).toBe(2);
  }, 90_000);

  test("/export sends the last debate's transcript; with none yet it says so", async () => {
    const { chat, user } = privateChat(8402);
    expect(await replyTo(telegram, chat, user, "/export")).toBe(
      "There has been no discussion in this chat yet.",
    );
    const closing = closingIn(chat.id);
    await newDebate(chat, user, "Cats or dogs?");
    await closing;
    telegram.sendText(chat, "/export", user);
    await eventually(() => telegram.documents.some((sent) => sent.chat_id === chat.id));
    const document = telegram.documents.find((sent) => sent.chat_id === chat.id)!;
    expect(document.mime_type).toStartWith("text/markdown");
    expect(document.content).toContain("Cats or dogs?");
  }, 60_000);

  test("no callback query of this file was left unanswered", () => {
    expect(telegram.callbackAnswers.length).toBeGreaterThan(20);
    expect(telegram.unansweredCallbackQueries()).toEqual([]);
  });
});
