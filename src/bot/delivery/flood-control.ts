import { createHash } from "node:crypto";
import type { Bot } from "gramio";
import { TelegramError } from "gramio";
import { type Clock, systemClock } from "../../platform/clock";
import type { Coordination, TokenBucket } from "../../platform/coordination";
import type { Logger } from "../../platform/logger";
import { createMemoryCoordination } from "../../platform/memory-coordination";
import type { TelegramEntity } from "./telegram-text";

/**
 * Telegram's flood limits as the bot's budget. They are limits of the bot token, not of a process:
 * every instance takes from the same buckets (Redis; in-process for the embedded default). A token
 * bucket lets through at most `burst + rate × window` in any window, so the sustained rates sit
 * below Telegram's numbers by the burst and a little headroom: ≤ 30/s in all, ≈ 1/s per chat,
 * ≤ 20/min per group. Tokens are taken when a send leaves, but Telegram counts when it arrives: a
 * slow request followed by a quick one would squeeze a burst into less time than the bucket meant.
 * Within an instance, sends to one chat are also spaced by `1 / (rate × burst)` after the previous
 * one completes; across instances (one sends a reply, another the transcript) only the bucket
 * holds, so a chat refills at 0.8/s: a burst of 2 and the next send are ≥ 1.25 s apart when they
 * leave, which keeps them within Telegram's second even when the first arrives 300 ms late (a
 * lease check before it, a busy event loop).
 */
export interface FloodLimits {
  /** Sustained sends per second to one chat. Default 0.8 (Telegram: ≈ 1; the rest is headroom). */
  perChatPerSecond?: number;
  /** Sends one chat may get at once after a pause. Default 2. */
  chatBurst?: number;
  /** Sustained sends per minute to one group. Default 17 (+ a burst of 2, under Telegram's 20). */
  groupPerMinute?: number;
  groupBurst?: number;
  /** Sustained sends per second in all. Default 27 (+ a burst of 2, under Telegram's 30). */
  globalPerSecond?: number;
  globalBurst?: number;
  /** Attempts per message when Telegram answers 429. Default 5. */
  maxAttempts?: number;
}

/** A text message to send: text + entities, never `parse_mode`. */
export interface OutgoingMessage {
  chat_id: number;
  text: string;
  entities?: TelegramEntity[];
  reply_markup?: unknown;
}

/**
 * Who waits for a send: a reply to something the user just did (a command, a button) goes before
 * the transcript being posted, in every chat.
 */
export type SendPriority = "reply" | "delivery";

/** Telegram kept answering 429 beyond the attempt budget; the message was not sent. */
export class FloodWaitError extends Error {
  constructor(
    readonly chatId: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`Telegram flood control: chat ${chatId} still limited (retry_after ${retryAfterSeconds}s)`);
    this.name = "FloodWaitError";
  }
}

/** The caller's guard said no right before the send (it no longer holds what the send was for). */
export class LeaseLostError extends Error {
  constructor() {
    super("the send's lease was lost before Telegram was called");
    this.name = "LeaseLostError";
  }
}

/**
 * How a send waits: its priority, and a guard checked right before Telegram is called (after any
 * wait for the budget), so a send whose right to go was taken over meanwhile is not made.
 */
export interface SendOptions {
  priority?: SendPriority;
  guard?: () => Promise<boolean>;
}

/** Group chats have negative ids (groups, supergroups and channels). */
export const isGroupChat = (chatId: number) => chatId < 0;

/**
 * Every send of the bot goes through here. Sends queue per chat (in call order, replies first) and
 * chats take turns, the least served first, so one chat's backlog never delays another chat's reply; each send
 * takes a token from the shared budget first; a 429 holds that chat for every instance for its
 * `retry_after`. Nothing queued is dropped. Typing and drafts (`tryNow`) are sent only when the
 * budget has room at once: they are worth nothing late.
 */
export interface FloodControlledSender {
  send(message: OutgoingMessage, options?: SendOptions): Promise<{ message_id: number }>;
  /** Any other sending method (a document…), queued like a message. */
  call<T>(chatId: number, method: string, params: object, options?: SendOptions): Promise<T>;
  /** Best effort: true when sent now; never queued, errors ignored. */
  tryNow(chatId: number, method: string, params: object): Promise<boolean>;
  /** Sends waiting for their turn. */
  queued(): number;
  /** Fails every queued send (shutdown). */
  stop(): void;
}

interface Job {
  lane: SendPriority;
  run: () => Promise<unknown>;
  guard?: () => Promise<boolean>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  attempts: number;
  /** When it was queued, on the sender's own sequence. */
  queuedAt: number;
}

interface ChatQueue {
  chatId: number;
  reply: Job[];
  delivery: Job[];
  /** A send to this chat is in flight: the next waits for it (order, and 429s). */
  busy: boolean;
  /** No token for this chat before then (its bucket, or a 429). */
  notBefore: number;
  /** Sends of this chat dispatched while it has been in the map. */
  served: number;
}

/**
 * A guard slower than this (a lease check in Postgres under load: 200 ms and more were measured)
 * makes its send take a fresh token: one taken before the guard would let the send arrive together
 * with sends whose tokens came later, past Telegram's limits.
 */
const GUARD_SLACK_MS = 25;

/** A hash of the token names the budget: never the token itself in Redis keys or logs. */
const budgetName = (token: string) => createHash("sha256").update(token).digest("hex").slice(0, 16);

export function createFloodControlledSender(deps: {
  // biome-ignore lint/suspicious/noExplicitAny: any GramIO bot, whatever its derives.
  bot: Bot<any, any>;
  token: string;
  coordination: Coordination;
  logger: Logger;
  limits?: FloodLimits;
  clock?: Clock;
  /** Told of every 429 Telegram answered, with the method (metrics). */
  onRateLimited?: (method: string) => void;
}): FloodControlledSender {
  const { bot, coordination, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const limits = deps.limits ?? {};
  const maxAttempts = limits.maxAttempts ?? 5;
  const name = budgetName(deps.token);
  const perChatPerSecond = limits.perChatPerSecond ?? 0.8;
  const chatBurst = limits.chatBurst ?? 2;
  const global: TokenBucket = {
    key: `telegram:${name}:global`,
    capacity: limits.globalBurst ?? 2,
    perSecond: limits.globalPerSecond ?? 27,
  };
  const chatBucket = (chatId: number): TokenBucket => ({
    key: `telegram:${name}:chat:${chatId}`,
    capacity: chatBurst,
    perSecond: perChatPerSecond,
  });
  const groupBucket = (chatId: number): TokenBucket => ({
    key: `telegram:${name}:group:${chatId}`,
    capacity: limits.groupBurst ?? 2,
    perSecond: (limits.groupPerMinute ?? 17) / 60,
  });
  const chatGapMs = 1000 / (perChatPerSecond * chatBurst);
  const bucketsOf = (chatId: number) =>
    isGroupChat(chatId) ? [global, chatBucket(chatId), groupBucket(chatId)] : [global, chatBucket(chatId)];

  // While the shared store is unreachable the budget is this process's own: sends go on, within
  // the limits for one instance, instead of stopping the bot.
  const fallback = createMemoryCoordination();
  let fallbackWarned = false;
  const take = async (chatId: number) => {
    const buckets = bucketsOf(chatId);
    try {
      const grant = await coordination.takeTokens(buckets, clock.now());
      fallbackWarned = false;
      return grant;
    } catch (error) {
      if (!fallbackWarned) logger.warn("flood budget unreachable; limiting this instance alone", { error });
      fallbackWarned = true;
      return fallback.takeTokens(buckets, clock.now());
    }
  };
  const hold = (chatId: number, untilMs: number) =>
    Promise.all([
      coordination.holdBucket(chatBucket(chatId).key, untilMs).catch(() => {}),
      fallback.holdBucket(chatBucket(chatId).key, untilMs),
    ]);

  const chats = new Map<number, ChatQueue>();
  /** Orders the queueing of sends (not time: a manual clock stands still). */
  let sequence = 0;
  let globalNotBefore = 0;
  let pumping = false;
  let again = false;
  let cancelWake: (() => void) | null = null;
  let stopped = false;

  const backlog = () =>
    [...chats.values()].reduce((sum, queue) => sum + queue.reply.length + queue.delivery.length, 0);
  const lane = (queue: ChatQueue, priority: SendPriority) =>
    priority === "reply" ? queue.reply : queue.delivery;

  const queueOf = (chatId: number) => {
    let queue = chats.get(chatId);
    if (!queue) {
      queue = { chatId, reply: [], delivery: [], busy: false, notBefore: 0, served: 0 };
      chats.set(chatId, queue);
    }
    return queue;
  };

  /** Drops the chats with nothing queued whose spacing has run out: the map holds only live chats. */
  const forgetIdle = () => {
    const now = clock.now();
    for (const queue of chats.values()) {
      if (queue.busy || queue.reply.length > 0 || queue.delivery.length > 0 || queue.notBefore > now)
        continue;
      chats.delete(queue.chatId);
    }
  };

  /** Waits for a token of this chat's buckets outside the queue (the chat is busy with this send). */
  const takeWhenGranted = async (chatId: number) => {
    for (;;) {
      const grant = await take(chatId);
      if (grant.waitMs === 0 || stopped) return;
      await clock.sleep(grant.waitMs);
    }
  };

  const runJob = async (queue: ChatQueue, job: Job) => {
    queue.busy = true;
    const grantedAt = clock.now();
    try {
      if (job.guard) {
        if (!(await job.guard())) throw new LeaseLostError();
        if (clock.now() - grantedAt > GUARD_SLACK_MS) await takeWhenGranted(queue.chatId);
      }
      job.resolve(await job.run());
    } catch (error) {
      if (error instanceof TelegramError && error.code === 429) {
        const retryAfter = Number(error.payload?.retry_after ?? 1) || 1;
        deps.onRateLimited?.(error.method);
        job.attempts += 1;
        logger.warn("telegram 429, holding the chat", {
          chatId: queue.chatId,
          method: error.method,
          retryAfter,
          attempt: job.attempts,
        });
        const until = clock.now() + retryAfter * 1000;
        queue.notBefore = Math.max(queue.notBefore, until);
        await hold(queue.chatId, until);
        if (job.attempts >= maxAttempts) job.reject(new FloodWaitError(queue.chatId, retryAfter));
        // Back at the head of its chat's line: order within a chat is kept.
        else lane(queue, job.lane).unshift(job);
      } else {
        job.reject(error);
      }
    } finally {
      queue.busy = false;
      queue.notBefore = Math.max(queue.notBefore, clock.now() + chatGapMs);
      void pump();
    }
  };

  /**
   * The chats to try now: those with a reply waiting first; within a lane the chat served least so
   * far, then the send queued first. Backlogged chats take turns (round-robin), and a chat that has
   * heard nothing yet goes before another's follow-up: under a flood every user is answered once
   * before anyone is answered twice.
   */
  const candidates = (now: number) => {
    const open = [...chats.values()].filter((queue) => !queue.busy && queue.notBefore <= now);
    const head = (queue: ChatQueue, priority: SendPriority) => lane(queue, priority)[0]!.queuedAt;
    const waiting = (priority: SendPriority) =>
      open
        .filter(
          (queue) => lane(queue, priority).length > 0 && (priority === "reply" || queue.reply.length === 0),
        )
        .sort((a, b) => a.served - b.served || head(a, priority) - head(b, priority));
    return [...waiting("reply"), ...waiting("delivery")];
  };

  async function pump(): Promise<void> {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      while (!stopped) {
        again = false;
        if (!(await dispatchOne()) && !again) break;
      }
    } finally {
      pumping = false;
    }
  }

  /** Dispatches the next send that has a token now; when none can go, sets a wake-up for the first that can. */
  async function dispatchOne(): Promise<boolean> {
    forgetIdle();
    const now = clock.now();
    if (globalNotBefore > now) {
      wakeAt(globalNotBefore);
      return false;
    }
    for (const queue of candidates(now)) {
      const grant = await take(queue.chatId);
      if (grant.waitMs === 0) {
        const job = lane(queue, queue.reply.length > 0 ? "reply" : "delivery").shift()!;
        queue.served += 1;
        void runJob(queue, job);
        return true;
      }
      if (grant.limitedBy === 0) {
        // The whole bot is out of budget: everyone waits.
        globalNotBefore = clock.now() + grant.waitMs;
        wakeAt(globalNotBefore);
        return false;
      }
      queue.notBefore = clock.now() + grant.waitMs;
    }
    const waiting = [...chats.values()].filter(
      (queue) => !queue.busy && queue.reply.length + queue.delivery.length > 0,
    );
    if (waiting.length > 0) wakeAt(Math.min(...waiting.map((queue) => queue.notBefore)));
    return false;
  }

  let wakeTime = Number.POSITIVE_INFINITY;
  function wakeAt(at: number) {
    if (cancelWake && wakeTime <= at) return;
    cancelWake?.();
    wakeTime = at;
    cancelWake = clock.after(Math.max(1, at - clock.now()), () => {
      cancelWake = null;
      wakeTime = Number.POSITIVE_INFINITY;
      void pump();
    });
  }

  const enqueue = <T>(chatId: number, call: () => Promise<T>, options: SendOptions): Promise<T> => {
    if (stopped) return Promise.reject(new Error("the bot is stopping"));
    const priority = options.priority ?? "delivery";
    return new Promise<T>((resolve, reject) => {
      const queue = queueOf(chatId);
      const job: Job = {
        lane: priority,
        run: call,
        guard: options.guard,
        resolve: resolve as (value: unknown) => void,
        reject,
        attempts: 0,
        queuedAt: ++sequence,
      };
      lane(queue, priority).push(job);
      void pump();
    });
  };

  return {
    send(message, options = {}) {
      return enqueue(
        message.chat_id,
        // biome-ignore lint/suspicious/noExplicitAny: reply_markup is plain Telegram JSON.
        () => bot.api.sendMessage(message as any) as Promise<{ message_id: number }>,
        options,
      );
    },
    call<T>(chatId: number, method: string, params: object, options: SendOptions = {}) {
      return enqueue(
        chatId,
        // biome-ignore lint/suspicious/noExplicitAny: GramIO's api is indexed by method name.
        () => (bot.api as any)[method](params) as Promise<T>,
        options,
      );
    },
    async tryNow(chatId, method, params) {
      const queue = chats.get(chatId);
      // Anything queued goes first (this chat's, or any chat's under a flood): typing and drafts
      // would only take tokens from messages waiting to go.
      if (stopped || queue?.busy || (queue && queue.notBefore > clock.now()) || backlog() > 0) return false;
      const grant = await take(chatId);
      if (grant.waitMs > 0) return false;
      try {
        // biome-ignore lint/suspicious/noExplicitAny: GramIO's api is indexed by method name.
        await (bot.api as any)[method]({ ...params, suppress: true });
      } catch {
        // Best effort.
      }
      return true;
    },
    queued: () =>
      [...chats.values()].reduce((sum, queue) => sum + queue.reply.length + queue.delivery.length, 0),
    stop() {
      stopped = true;
      cancelWake?.();
      for (const queue of chats.values()) {
        for (const job of [...queue.reply, ...queue.delivery]) job.reject(new Error("the bot is stopping"));
      }
      chats.clear();
    },
  };
}
