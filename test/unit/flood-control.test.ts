/**
 * The flood budget and its queue without Telegram: a recording stand-in for GramIO's `bot.api`,
 * in-process coordination, and a manual clock, so time only moves when the test says.
 */
import { describe, expect, test } from "bun:test";
import { TelegramError } from "gramio";
import { createFloodControlledSender, type FloodLimits } from "../../src/bot/delivery/flood-control";
import { silentLogger } from "../../src/platform/logger";
import { createMemoryCoordination } from "../../src/platform/memory-coordination";
import { createManualClock } from "../helpers/manual-clock";

interface Sent {
  at: number;
  chatId: number;
  text: string;
}

function harness(
  options: { failWith429?: (params: { chat_id: number; text: string }) => number | null } = {},
) {
  const clock = createManualClock();
  const sent: Sent[] = [];
  const actions: number[] = [];
  let nextId = 1;
  const api = {
    async sendMessage(params: { chat_id: number; text: string }) {
      const retryAfter = options.failWith429?.(params) ?? null;
      if (retryAfter !== null) {
        throw new TelegramError(
          {
            ok: false,
            error_code: 429,
            description: "Too Many Requests",
            parameters: { retry_after: retryAfter },
          },
          "sendMessage",
          params,
        );
      }
      sent.push({ at: clock.now(), chatId: params.chat_id, text: params.text });
      return { message_id: nextId++ };
    },
    async sendChatAction(params: { chat_id: number }) {
      actions.push(params.chat_id);
      return true;
    },
  };
  const coordination = createMemoryCoordination({ now: clock.now });
  const make = (limits?: FloodLimits) =>
    createFloodControlledSender({
      // biome-ignore lint/suspicious/noExplicitAny: a stand-in for GramIO's bot, only `api` is used.
      bot: { api } as any,
      token: "123:token",
      coordination,
      logger: silentLogger,
      clock,
      limits,
    });
  return { clock, sent, actions, sender: make(), make };
}

/** Advances the clock in steps until `done`, as time passing would. */
async function advanceUntil(clock: ReturnType<typeof createManualClock>, done: () => boolean, stepMs = 100) {
  for (let elapsed = 0; !done(); elapsed += stepMs) {
    if (elapsed > 120_000) throw new Error("not done after two simulated minutes");
    await clock.advance(stepMs);
  }
}

describe("flood budget", () => {
  test("one chat gets a burst of 2, then about one message a second; nothing is dropped", async () => {
    const { clock, sent, sender } = harness();
    const start = clock.now();
    const results = Array.from({ length: 6 }, (_, index) => sender.send({ chat_id: 1, text: `m${index}` }));
    await advanceUntil(clock, () => sent.length === 6);
    await Promise.all(results);
    expect(sent.map((message) => message.text)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    // Never more than 2 within any second, and the whole backlog takes about 4 s more than its burst.
    for (const message of sent) {
      expect(
        sent.filter((other) => other.at > message.at - 1000 && other.at <= message.at).length,
      ).toBeLessThanOrEqual(2);
    }
    expect(sent.at(-1)!.at - start).toBeGreaterThanOrEqual(3500);
  });

  test("chats are served round-robin, replies ahead of transcripts: one chat's backlog never delays another's reply", async () => {
    const { clock, sent, sender } = harness();
    const backlog = Array.from({ length: 10 }, (_, index) =>
      sender.send({ chat_id: 1, text: `turn ${index}` }),
    );
    await clock.advance(10);
    const reply = sender.send({ chat_id: 2, text: "asked for a topic" }, { priority: "reply" });
    await advanceUntil(clock, () => sent.some((message) => message.chatId === 2));
    await reply;
    const index = sent.findIndex((message) => message.chatId === 2);
    // Chat 1's first messages went out at once; chat 2's reply did not wait for the other eight.
    expect(index).toBeLessThanOrEqual(2);
    await advanceUntil(clock, () => sent.length === 11);
    await Promise.all(backlog);
  });

  test("under a global flood every chat's first reply goes before any chat's follow-up queued later", async () => {
    const { clock, sent, sender } = harness();
    // 60 chats ask within 300 ms (their updates take time to handle), faster than the global budget
    // of about 27/s lets the answers out; each chat answers the moment it is asked, and the bot's
    // reply to that answer is a reply too.
    const followUps: Promise<unknown>[] = [];
    const asks: Promise<unknown>[] = [];
    for (let index = 0; index < 60; index++) {
      asks.push(
        sender.send({ chat_id: 100 + index, text: "asked" }, { priority: "reply" }).then(() => {
          followUps.push(sender.send({ chat_id: 100 + index, text: "announced" }, { priority: "reply" }));
        }),
      );
      await clock.advance(5);
    }
    await advanceUntil(clock, () => sent.length === 120, 20);
    await Promise.all([...asks, ...followUps]);
    const lastAsk = sent.findLastIndex((message) => message.text === "asked");
    const firstFollowUp = sent.findIndex((message) => message.text === "announced");
    expect(lastAsk).toBe(59);
    expect(firstFollowUp).toBe(60);
  });

  test("the whole bot stays under its global budget across many chats", async () => {
    const { clock, sent, sender } = harness();
    const chats = Array.from({ length: 100 }, (_, index) => 1000 + index);
    const all = chats.map((chatId) => sender.send({ chat_id: chatId, text: "hello" }));
    await advanceUntil(clock, () => sent.length === chats.length, 50);
    await Promise.all(all);
    for (const message of sent) {
      expect(
        sent.filter((other) => other.at > message.at - 1000 && other.at <= message.at).length,
      ).toBeLessThanOrEqual(28);
    }
  });

  test("a 429 holds the chat for retry_after — for every sender of the token — and the message goes once", async () => {
    let refusals = 0;
    const { clock, sent, sender, make } = harness({
      failWith429: (params) => (params.text === "limited" && refusals++ === 0 ? 3 : null),
    });
    const other = make();
    const start = clock.now();
    const first = sender.send({ chat_id: 5, text: "limited" });
    await clock.advance(10);
    // Another instance sending to the same chat waits out the same hold.
    const second = other.send({ chat_id: 5, text: "from the other instance" });
    await clock.advance(2_900);
    expect(sent).toEqual([]);
    await advanceUntil(clock, () => sent.length === 2);
    await Promise.all([first, second]);
    expect(sent.map((message) => message.text).sort()).toEqual(["from the other instance", "limited"]);
    expect(Math.min(...sent.map((message) => message.at))).toBeGreaterThanOrEqual(start + 3000);
  });

  test("two instances sending to one chat: a burst of 2 and the next send leave ≥ 1.25 s apart", async () => {
    // One instance answers the user while another posts the transcript: only the shared bucket
    // spaces them, and a send that arrives late must still not make three within Telegram's second.
    const { clock, sent, sender, make } = harness();
    const other = make();
    const sends = [
      sender.send({ chat_id: 9, text: "reply" }, { priority: "reply" }),
      other.send({ chat_id: 9, text: "turn 1" }),
      other.send({ chat_id: 9, text: "turn 2" }),
      sender.send({ chat_id: 9, text: "menu" }, { priority: "reply" }),
      other.send({ chat_id: 9, text: "turn 3" }),
    ];
    await advanceUntil(clock, () => sent.length === 5, 10);
    await Promise.all(sends);
    const times = sent.map((message) => message.at).sort((a, b) => a - b);
    for (let index = 2; index < times.length; index += 1) {
      expect(times[index]! - times[index - 2]!).toBeGreaterThanOrEqual(1250);
    }
  });

  test("typing goes only when the budget has room now; it is never queued", async () => {
    const { clock, actions, sender } = harness();
    expect(await sender.tryNow(7, "sendChatAction", { chat_id: 7, action: "typing" })).toBe(true);
    expect(await sender.tryNow(7, "sendChatAction", { chat_id: 7, action: "typing" })).toBe(true);
    // The chat's burst is spent: a third goes nowhere, and nothing is left waiting.
    expect(await sender.tryNow(7, "sendChatAction", { chat_id: 7, action: "typing" })).toBe(false);
    expect(sender.queued()).toBe(0);
    // One token back takes 1.25 s (0.8/s).
    await clock.advance(1000);
    expect(await sender.tryNow(7, "sendChatAction", { chat_id: 7, action: "typing" })).toBe(false);
    await clock.advance(250);
    expect(await sender.tryNow(7, "sendChatAction", { chat_id: 7, action: "typing" })).toBe(true);
    expect(actions).toEqual([7, 7, 7]);
  });

  test("a send whose guard was slow takes a fresh token: it never arrives together with a later send", async () => {
    const { clock, sent, make } = harness();
    // One send a second in all, so any two sends must arrive a second apart.
    const sender = make({ globalPerSecond: 1, globalBurst: 1 });
    // The first send's lease check takes 300 ms (Postgres under load), the second has none.
    const slowGuard = () => clock.sleep(300).then(() => true);
    const first = sender.send({ chat_id: 1, text: "after a slow guard" }, { guard: slowGuard });
    await clock.advance(1);
    const second = sender.send({ chat_id: 2, text: "no guard" });
    await advanceUntil(clock, () => sent.length === 2, 10);
    await Promise.all([first, second]);
    expect(sent.map((message) => message.text).sort()).toEqual(["after a slow guard", "no guard"]);
    expect(Math.abs(sent[1]!.at - sent[0]!.at)).toBeGreaterThanOrEqual(1000);
  });

  test("a guard that says no stops the send right before Telegram is called", async () => {
    const { clock, sent, sender } = harness();
    let allowed = true;
    const settled = Promise.allSettled(
      [1, 2, 3].map((n) => sender.send({ chat_id: 9, text: `m${n}` }, { guard: async () => allowed })),
    );
    await advanceUntil(clock, () => sent.length === 2);
    allowed = false;
    await advanceUntil(clock, () => sender.queued() === 0);
    const outcomes = await settled;
    expect(sent.map((message) => message.text)).toEqual(["m1", "m2"]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
  });
});
