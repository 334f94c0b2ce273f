import { Elysia } from "elysia";
import {
  Bot,
  EventQueue,
  type TelegramCallbackQuery,
  type TelegramMessage,
  type TelegramMessageGenerationStopped,
  type TelegramUpdate,
  type TelegramUser,
} from "gramio";
import type { DebateEventBus } from "../debate/debate-events";
import type { DebateService } from "../debate/debate-service";
import { type Clock, systemClock } from "../platform/clock";
import { constantTimeEqual } from "../platform/constant-time";
import type { Coordination } from "../platform/coordination";
import type { Logger } from "../platform/logger";
import { MIB, readBody } from "../platform/read-body";
import type { SettingsService } from "../settings/settings-service";
import type { UserService } from "../users/user-service";
import type { DeliveryStore } from "./delivery/delivery-store";
import { createFloodControlledSender, type FloodLimits } from "./delivery/flood-control";
import { startLiveDelivery } from "./delivery/live-delivery";
import { createOutbox, type Outbox } from "./delivery/outbox";
import { refuseBlocked, tellBlockedNow } from "./features/admission";
import { pressButton } from "./features/buttons";
import { createChatAdminCheck } from "./features/chat-admins";
import { donateFeature } from "./features/donate";
import { sendTranscript } from "./features/export";
import { awaitingTopicKey, type FeatureContext, type FeatureDeps } from "./features/feature-context";
import { interjectIfRunning } from "./features/interjection";
import { askTopic, isAwaitingTopic, receiveTopic, rejectNonTextTopic } from "./features/new-debate";
import { createSpamGuard } from "./features/spam-guard";
import { showHelp, showStart, showUnknownCommand } from "./features/start";
import { stopDebate } from "./features/stop";
import { showUsage } from "./features/usage";
import { actionOfButton, type BotLanguage, languageOf, type MenuAction, TEXTS } from "./i18n/texts";

/** Dependencies of the Telegram door. */
export interface CreateBotDeps {
  token: string;
  /** Bot API server, e.g. `https://api.telegram.org` (GramIO gets `${apiUrl}/bot`). */
  apiUrl: string;
  /** Webhook mode (multi-instance): Telegram posts updates to `url` with `secret` in a header. */
  webhook?: { url: string; secret: string } | null;
  debate: DebateService;
  events: DebateEventBus;
  /** The bot's own record of what it posted where. */
  deliveries: DeliveryStore;
  users: UserService;
  settings: SettingsService;
  coordination: Coordination;
  logger: Logger;
  /** Time for the outbox's retries and sweeps, the spam guard and caches (tests advance a manual one). */
  clock?: Clock;
  /** Told of every 429 answer of the Bot API, with its method (metrics). */
  onRateLimited?: (method: string) => void;
  /** Messages a user may send per minute before the rest are dropped. Default 20. */
  messagesPerMinute?: number;
  delivery?: FloodLimits & {
    /** Minimum gap between drafts in one chat. Default 1000 ms. */
    draftIntervalMs?: number;
    /** Delay before a chat's delivery is retried after a transient failure. Default 2000 ms. */
    retryDelayMs?: number;
    /** How often the outbox looks for work events may have missed. Default 10 s. */
    sweepIntervalMs?: number;
  };
}

export interface TelegramBotDoor {
  // biome-ignore lint/suspicious/noExplicitAny: the GramIO bot, exposed for tests and wiring.
  bot: Bot<any, any>;
  outbox: Outbox;
  /** Registers commands (ru default + en), resumes undelivered chats, then polls or sets the webhook. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `POST /telegram/webhook`, checking `X-Telegram-Bot-Api-Secret-Token`; only in webhook mode. */
  webhookRoutes?: ReturnType<typeof createWebhookRoutes>;
}

const COMMAND = /^\/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?:\s|$)/;

type Action = MenuAction | "start" | "help" | "export";
const COMMANDS: Record<string, Action> = {
  start: "start",
  help: "help",
  new: "new",
  stop: "stop",
  usage: "usage",
  export: "export",
  donate: "donate",
};

/**
 * The Telegram door: menu, new discussion, stop, donate, and delivery of debates within Telegram's
 * limits. Handlers only start and stop debates; the engine runs them and the outbox posts them.
 */
export function createBot(deps: CreateBotDeps): TelegramBotDoor {
  const logger = deps.logger.child({ component: "bot" });
  const bot = new Bot(deps.token, { api: { baseURL: `${deps.apiUrl.replace(/\/+$/, "")}/bot` } });
  const sender = createFloodControlledSender({
    bot,
    token: deps.token,
    coordination: deps.coordination,
    logger,
    limits: deps.delivery,
    // Real time always: a flood budget on a test's manual clock would never refill. Its own unit
    // tests give it a clock of their own.
    onRateLimited: deps.onRateLimited,
  });
  const outbox = createOutbox({
    store: deps.deliveries,
    debate: deps.debate,
    sender,
    logger,
    retryDelayMs: deps.delivery?.retryDelayMs,
    clock: deps.clock,
  });
  const clock = deps.clock ?? systemClock;
  const features: FeatureDeps = {
    debate: deps.debate,
    settings: deps.settings,
    users: deps.users,
    coordination: deps.coordination,
    sender,
    outbox,
    isChatAdmin: createChatAdminCheck({ bot, clock, logger }),
    clock,
    logger,
  };
  const spam = createSpamGuard({ clock, limit: deps.messagesPerMinute });
  let unsubscribe: (() => void) | null = null;
  let stopSweeping: (() => void) | null = null;
  const sweep = () =>
    outbox.sweep().catch((error: unknown) => logger.warn("delivery sweep failed", { error }));
  let botUsername: string | undefined;

  /** Updates of one chat are handled in order (GramIO runs updates concurrently). */
  const chatChains = new Map<number, Promise<void>>();
  const inChatOrder = (chatId: number, work: () => Promise<void>) => {
    const previous = chatChains.get(chatId) ?? Promise.resolve();
    const current = previous
      .then(work)
      .catch((error) => logger.error("update handler failed", { chatId, error }));
    chatChains.set(chatId, current);
    void current.then(() => {
      if (chatChains.get(chatId) === current) chatChains.delete(chatId);
    });
    return current;
  };

  const contextFor = async (
    chatId: number,
    chatType: string,
    from: TelegramUser,
  ): Promise<FeatureContext> => {
    const language: BotLanguage = languageOf(from.language_code);
    const user = await deps.users.touch(from);
    return {
      chatId,
      isPrivate: chatType === "private",
      telegramUserId: from.id,
      userId: user.id,
      user,
      language,
      texts: TEXTS[language],
      async reply(text, replyMarkup) {
        await sender.send(
          { chat_id: chatId, text, ...(replyMarkup ? { reply_markup: replyMarkup } : {}) },
          { priority: "reply" },
        );
      },
    };
  };

  /** With GROUP_CHATS=off a group gets one line, whatever it asks or presses, and nothing starts. */
  const groupsClosed = async (context: FeatureContext) =>
    !context.isPrivate && (await deps.settings.getAll()).GROUP_CHATS === "off";

  const forgetTopic = (context: FeatureContext) =>
    features.coordination.deleteValue(awaitingTopicKey(context));

  const runAction = async (action: Action, context: FeatureContext) => {
    if (action !== "new" && action !== "stop") await forgetTopic(context);
    switch (action) {
      case "start":
        return showStart(context);
      case "help":
        return showHelp(context);
      case "new":
        return askTopic(features, context);
      case "stop":
        return stopDebate(features, context);
      case "usage":
        return showUsage(features, context);
      case "export":
        return void (await sendTranscript(features, context));
      case "donate":
        return donateFeature(features, context);
    }
  };

  /** What a text asks of the bot: an action, an unknown command, a command for another bot, or nothing. */
  const parse = (text: string): Action | "unknown" | "elsewhere" | null => {
    const command = COMMAND.exec(text);
    if (command) {
      const [, name = "", addressee] = command;
      // `/cmd@otherbot` in a group is for another bot.
      if (addressee && botUsername && addressee.toLowerCase() !== botUsername.toLowerCase())
        return "elsewhere";
      return COMMANDS[name.toLowerCase()] ?? "unknown";
    }
    return actionOfButton(text);
  };

  const handleMessage = async (message: TelegramMessage, from: TelegramUser) => {
    const text = message.text;
    const asked = text === undefined ? null : parse(text);
    if (asked === "elsewhere") return;
    const context = await contextFor(message.chat.id, message.chat.type, from);
    if (context.user.blocked) {
      // Told when they speak to the bot (at most once an hour); a group's chatter stays quiet.
      if (asked !== null || context.isPrivate) await refuseBlocked(features, context);
      return;
    }
    const awaiting = asked === null && (await isAwaitingTopic(features, context));
    if (asked === null && !awaiting) {
      // While their debate runs, the user's text is a word to the participants.
      if (text !== undefined && (await interjectIfRunning(features, context, text))) return;
      // Other chatter: in private chats point at the menu; in groups stay quiet.
      return context.isPrivate && text !== undefined ? showHelp(context) : undefined;
    }
    // A debate that ran before the switch can still be stopped.
    if (asked !== "stop" && (await groupsClosed(context))) {
      if (awaiting) return forgetTopic(context);
      return context.reply(context.texts.groupsOff);
    }
    if (asked === "unknown") {
      await forgetTopic(context);
      return showUnknownCommand(context);
    }
    if (asked) return runAction(asked, context);
    if (text === undefined) return rejectNonTextTopic(context);
    return receiveTopic(features, context, text);
  };

  const notifyFlood = async (message: TelegramMessage, from: TelegramUser) => {
    await sender.send(
      { chat_id: message.chat.id, text: TEXTS[languageOf(from.language_code)].tooManyMessages },
      { priority: "reply" },
    );
  };

  bot.on("message", (context) => {
    const message = context.payload as TelegramMessage;
    const from = message.from;
    if (!from || from.is_bot) return;
    // Before any work, even a database read: a flood is dropped here.
    const verdict = spam.admit(from.id);
    if (verdict === "drop") return;
    return inChatOrder(message.chat.id, () =>
      verdict === "notify" ? notifyFlood(message, from) : handleMessage(message, from),
    );
  });
  // Edited messages are deliberately ignored: a changed topic after the fact changes nothing.
  // Every callback query is answered, whatever its data and whatever happens while handling it:
  // an unanswered one leaves the button spinning on the user's screen.
  bot.on("callback_query", (context) => {
    const query = context.payload as TelegramCallbackQuery;
    const answer = async (text?: string) => {
      await bot.api.answerCallbackQuery({
        callback_query_id: query.id,
        ...(text ? { text } : {}),
        suppress: true,
      });
    };
    const message = query.message;
    const chat = message?.chat;
    if (!message || !chat || query.from.is_bot || query.data === undefined) return answer();
    const data = query.data;
    const verdict = spam.admit(query.from.id);
    if (verdict === "drop") return answer();
    if (verdict === "notify") return answer(TEXTS[languageOf(query.from.language_code)].tooManyMessages);
    return inChatOrder(chat.id, async () => {
      let text: string | undefined;
      try {
        const pressed = await contextFor(chat.id, chat.type, query.from);
        if (pressed.user.blocked) {
          text = (await tellBlockedNow(features, pressed)) ? pressed.texts.blocked : undefined;
        } else if (await groupsClosed(pressed)) {
          text = pressed.texts.groupsOff;
        } else {
          text = await pressButton(features, pressed, data, message.message_id);
        }
      } catch (error) {
        logger.error("button failed", { chatId: chat.id, error });
        text = TEXTS[languageOf(query.from.language_code)].buttonFailed;
      } finally {
        await answer(text);
      }
    });
  });

  /**
   * Telegram's stop button under a draft (`can_stop`): the same as «Остановить диалог» from the
   * draft's user. Drafts exist only in private chats, where the chat is the user (the update names
   * no sender, so a group's could not be checked and is ignored).
   */
  const handleGenerationStopped = async (stopped: TelegramMessageGenerationStopped) => {
    const { chat } = stopped;
    if (chat.type !== "private") return;
    // The update carries no language: the one recorded for the user keeps replies in it.
    const known = await deps.users.get(chat.id).catch(() => null);
    const username = known ? known.username : chat.username;
    const languageCode = known?.language_code;
    const from: TelegramUser = {
      id: chat.id,
      is_bot: false,
      first_name: chat.first_name ?? "",
      ...(username ? { username } : {}),
      ...(languageCode ? { language_code: languageCode } : {}),
    };
    const context = await contextFor(chat.id, chat.type, from);
    if (context.user.blocked) return;
    await runAction("stop", context);
  };

  /**
   * Every update enters here. GramIO 0.10 has no context for `stopped_message_generation` (its
   * handleUpdate throws "not supported" and the update is lost), so that one is handled first.
   */
  const dispatchUpdate = (update: TelegramUpdate): Promise<unknown> => {
    const stopped = update.stopped_message_generation;
    if (stopped) return inChatOrder(stopped.chat.id, () => handleGenerationStopped(stopped));
    return bot.updates.handleUpdate(update);
  };
  bot.updates.queue = new EventQueue<TelegramUpdate>(dispatchUpdate);

  bot.onError(({ error, kind }) => {
    logger.error("telegram update failed", { kind, error });
  });

  // The command list is a nicety: a Bot API server without setMyCommands (self-hosted, an emulator)
  // or a transient error must not keep the bot from starting. It is retried in the background.
  let stopCommands: (() => void) | null = null;
  const registerCommands = (attempt = 1) => {
    const register = async () => {
      await bot.api.setMyCommands({ commands: TEXTS.ru.commands });
      await bot.api.setMyCommands({ commands: TEXTS.en.commands, language_code: "en" });
    };
    register().then(
      () => {
        stopCommands = null;
      },
      (error: unknown) => {
        const retryInMs = Math.min(10 * 60_000, 5_000 * 2 ** (attempt - 1));
        logger.warn("telegram commands not registered; will retry", {
          attempt,
          retry_in_ms: retryInMs,
          error,
        });
        stopCommands = clock.after(retryInMs, () => registerCommands(attempt + 1));
      },
    );
  };

  const webhookRoutes = deps.webhook
    ? createWebhookRoutes(dispatchUpdate, deps.webhook.secret, logger)
    : undefined;
  return {
    bot,
    outbox,
    webhookRoutes,
    async start() {
      // start() may be retried after a failure further down: never subscribe twice.
      unsubscribe?.();
      unsubscribe = startLiveDelivery({
        sender,
        events: deps.events,
        debate: deps.debate,
        coordination: deps.coordination,
        outbox,
        logger,
        draftIntervalMs: deps.delivery?.draftIntervalMs,
      });
      await outbox.sweep();
      stopSweeping?.();
      // Events lost while Redis was away (or a sweep it failed) are made up for at once when it is back.
      const stopPeriodic = clock.every(deps.delivery?.sweepIntervalMs ?? 10_000, sweep);
      const stopOnReconnect = deps.coordination.onReconnect(() => void sweep());
      stopSweeping = () => {
        stopPeriodic();
        stopOnReconnect();
      };
      if (deps.webhook) {
        // Ours, not GramIO's: its start() retries setWebhook without a cap and without a word;
        // here a failure is logged and retried with backoff by the caller.
        await bot.api.setWebhook({ url: deps.webhook.url, secret_token: deps.webhook.secret });
      }
      const info = deps.webhook
        ? await bot.start({ webhook: true })
        : // A webhook left from webhook mode is removed only if polling conflicts with it.
          await bot.start({ deleteWebhook: "on-conflict-with-polling" });
      botUsername = info.username;
      stopCommands?.();
      registerCommands();
      logger.info("telegram bot started", {
        username: botUsername,
        mode: deps.webhook ? "webhook" : "polling",
      });
    },
    async stop() {
      unsubscribe?.();
      unsubscribe = null;
      stopSweeping?.();
      stopSweeping = null;
      stopCommands?.();
      stopCommands = null;
      await bot.stop();
      sender.stop();
      await outbox.stop();
      await Promise.all([...chatChains.values()]);
    },
  };
}

/** The largest update the webhook reads; Telegram's are a few KiB. */
export const MAX_WEBHOOK_BODY_BYTES = MIB;

/**
 * `POST /telegram/webhook`: checks Telegram's secret header before reading a byte of the body, reads
 * at most {@link MAX_WEBHOOK_BODY_BYTES}, answers at once and handles the update in the background.
 */
function createWebhookRoutes(
  dispatch: (update: TelegramUpdate) => Promise<unknown>,
  secret: string,
  logger: Logger,
) {
  return new Elysia({ name: "telegram-webhook" }).post(
    "/telegram/webhook",
    async ({ request, set }) => {
      if (!constantTimeEqual(request.headers.get("x-telegram-bot-api-secret-token") ?? "", secret)) {
        set.status = 401;
        return { ok: false };
      }
      const body = await readBody(request, MAX_WEBHOOK_BODY_BYTES);
      if (!body) {
        set.status = 413;
        return { ok: false };
      }
      let update: TelegramUpdate;
      try {
        update = JSON.parse(new TextDecoder().decode(body));
      } catch {
        set.status = 400;
        return { ok: false };
      }
      void dispatch(update).catch((error: unknown) => logger.error("webhook update failed", { error }));
      return { ok: true };
    },
    // The body is read above, once the secret is known to be right.
    { parse: "none" },
  );
}
