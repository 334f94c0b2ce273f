import type { Session } from "../../db/schema";
import type { CostEstimate } from "../../debate/cost-estimate";
import type { DailyLimitName } from "../../debate/daily-usage";
import type { SessionTotals } from "../../debate/debate-events";
import { dailyBudgetStopDetail } from "../../debate/stop-conditions";

/** Languages the bot speaks: Russian by default, English for `language_code` en*. */
export type BotLanguage = "ru" | "en";

/** Picks the bot language from a Telegram `language_code`. */
export function languageOf(languageCode: string | null | undefined): BotLanguage {
  return languageCode?.toLowerCase().startsWith("en") ? "en" : "ru";
}

/** The menu actions; each has a command and a reply-keyboard button. */
export type MenuAction = "new" | "stop" | "usage" | "donate";

/** A user's day as `/usage` shows it (0 = no limit). */
export interface UsageFigures {
  debates: number;
  cost: string;
  debatesPerDay: number;
  costPerDayUsd: string;
  /** Milliseconds until the limits reset. */
  resetsInMs: number;
}

export interface BotTexts {
  buttons: Record<MenuAction, string>;
  commands: { command: string; description: string }[];
  greeting: string;
  help: string;
  unknownCommand: string;
  askTopic: string;
  topicEmpty: string;
  topicTooLong(length: number, max: number): string;
  topicNotText: string;
  busy: string;
  /** The previous debate of the chat is still being posted. */
  stillDelivering: string;
  /** Fewer than two providers can answer: the operator has not configured the models yet. */
  modelsNotConfigured: string;
  startFailed: string;
  /** ACCESS_MODE=allowlist and the user is not on it: their id to give the operator. */
  notAllowed(telegramId: number): string;
  blocked: string;
  groupsOff: string;
  stopNotAllowed: string;
  tooManyMessages: string;
  /** A daily limit refused a new debate. */
  quotaExceeded(limit: DailyLimitName, value: number | string, resetsInMs: number): string;
  usage(figures: UsageFigures): string;
  announce(
    topic: string,
    participants: { name: string; persona: string | null }[],
    maxRounds: number,
    estimate?: CostEstimate | null,
  ): string;
  turnHeader(name: string, persona: string | null, round: number, maxRounds: number): string;
  nothingRunning: string;
  stopping: string;
  closing(reason: string | null, rounds: number, maxRounds: number, totals: SessionTotals): string;
  /** Callback answers: a button whose data is unknown or outdated, one of an older debate, a failure. */
  buttonExpired: string;
  debateOver: string;
  buttonFailed: string;
  donate: string;
  donateButton: string;
  donateUnavailable: string;
}

/** "0.00123400" → "$0.001234"; exact decimal string in, no float rounding of small costs. */
export function formatCost(cost: string): string {
  const [whole = "0", fraction = ""] = cost.split(".");
  const trimmed = fraction.replace(/0+$/, "");
  return trimmed ? `$${whole}.${trimmed.length < 2 ? trimmed.padEnd(2, "0") : trimmed}` : `$${whole}`;
}

/** An estimate rounded for people: two significant digits below a cent ("$0.0012"), cents above. */
export function formatCostRough(cost: string): string {
  const value = Number(cost);
  if (value === 0) return "$0";
  return value >= 0.01 ? `$${value.toFixed(2)}` : `$${Number(value.toPrecision(2))}`;
}

/** "5 ч 12 мин" / "5 h 12 min" until a reset. */
function duration(ms: number, language: BotLanguage): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  const [h, m] = language === "ru" ? ["ч", "мин"] : ["h", "min"];
  return hours > 0 ? `${hours} ${h}${rest > 0 ? ` ${rest} ${m}` : ""}` : `${rest} ${m}`;
}

/**
 * The reason the closing line gives: a daily budget is told apart from the session's own cost
 * limit (both are `cost_limit`; the stop detail says which).
 */
export function closingReason(session: Pick<Session, "stopReason" | "stopDetail">): string | null {
  if (session.stopReason === "cost_limit") {
    if (session.stopDetail === dailyBudgetStopDetail("USER_COST_PER_DAY_USD")) return "daily_user_budget";
    if (session.stopDetail === dailyBudgetStopDetail("BOT_COST_PER_DAY_USD")) return "daily_bot_budget";
  }
  return session.stopReason;
}

const REASONS: Record<BotLanguage, Record<string, string>> = {
  ru: {
    user: "остановлено пользователем",
    admin: "остановлено администратором",
    max_rounds: "достигнут лимит раундов",
    turn_timeout: "модель не ответила вовремя",
    session_timeout: "истекло время обсуждения",
    token_limit: "достигнут лимит токенов",
    cost_limit: "достигнут лимит стоимости",
    daily_user_budget: "исчерпан ваш дневной лимит стоимости (обновится в 00:00 UTC)",
    daily_bot_budget: "исчерпан дневной бюджет бота (обновится в 00:00 UTC)",
    no_participants: "не осталось работающих моделей (причины — в сообщениях выше)",
    error: "ошибка",
  },
  en: {
    user: "stopped by the user",
    admin: "stopped by an administrator",
    max_rounds: "round limit reached",
    turn_timeout: "a model did not answer in time",
    session_timeout: "the discussion timed out",
    token_limit: "token limit reached",
    cost_limit: "cost limit reached",
    daily_user_budget: "your daily cost limit is used up (it resets at 00:00 UTC)",
    daily_bot_budget: "the bot's daily budget is used up (it resets at 00:00 UTC)",
    no_participants: "no working models left (the reasons are in the notes above)",
    error: "error",
  },
};

const ru: BotTexts = {
  buttons: {
    new: "Новое обсуждение",
    stop: "Остановить диалог",
    usage: "Мой лимит",
    donate: "Отблагодарить создателя",
  },
  commands: [
    { command: "new", description: "Новое обсуждение" },
    { command: "stop", description: "Остановить диалог" },
    { command: "usage", description: "Сколько обсуждений осталось сегодня" },
    { command: "donate", description: "Отблагодарить создателя" },
    { command: "help", description: "Как пользоваться ботом" },
  ],
  greeting:
    "Привет! Я устраиваю круглый стол нейросетей: дайте тему, и модели обсудят её по очереди.\nВыберите действие в меню.",
  help: "Команды: /new — новое обсуждение, /stop — остановить диалог, /usage — ваш лимит на сегодня, /donate — отблагодарить создателя, /help — эта справка.",
  unknownCommand: "Не знаю такой команды. /new — новое обсуждение, /stop — остановить, /help — справка.",
  askTopic: "Напишите тему обсуждения (до 1000 символов).",
  topicEmpty: "Тема не может быть пустой.",
  topicTooLong: (length, max) => `Тема слишком длинная: ${length} символов, можно не больше ${max}.`,
  topicNotText: "Пришлите тему текстом, пожалуйста.",
  busy: "В этом чате уже идёт обсуждение. Сначала остановите его: «Остановить диалог» или /stop.",
  stillDelivering: "Предыдущее обсуждение ещё публикуется. Дождитесь его завершения и начните новое.",
  modelsNotConfigured: "Оператор ещё не настроил модели для обсуждений. Попробуйте позже.",
  startFailed: "Не удалось начать обсуждение. Попробуйте ещё раз позже.",
  notAllowed: (telegramId) =>
    `Этот бот открыт только для приглашённых. Чтобы получить доступ, сообщите оператору ваш Telegram ID: ${telegramId}.`,
  blocked: "Доступ к этому боту для вас закрыт.",
  groupsOff: "Обсуждения в группах отключены — напишите мне в личные сообщения.",
  stopNotAllowed: "Остановить обсуждение может только тот, кто его начал, или администратор чата.",
  tooManyMessages: "Слишком много сообщений. Минуту я не буду на них отвечать.",
  quotaExceeded: (limit, value, resetsInMs) => {
    const reset = `Лимит обновится в 00:00 UTC (через ${duration(resetsInMs, "ru")}).`;
    if (limit === "USER_DEBATES_PER_DAY")
      return `Лимит на сегодня исчерпан: обсуждений в день — не больше ${value}. ${reset}`;
    if (limit === "USER_COST_PER_DAY_USD")
      return `Ваши обсуждения сегодня уже стоили ${formatCost(String(value))} — это дневной лимит. ${reset}`;
    return `Бот исчерпал дневной бюджет на обсуждения. ${reset}`;
  },
  usage: (u) =>
    [
      `Сегодня: обсуждений ${u.debates}${u.debatesPerDay > 0 ? ` из ${u.debatesPerDay}` : " (без ограничения)"}, стоимость ${formatCost(u.cost)}${Number(u.costPerDayUsd) > 0 ? ` из ${formatCost(u.costPerDayUsd)}` : " (без ограничения)"}.`,
      `Лимиты обновятся в 00:00 UTC (через ${duration(u.resetsInMs, "ru")}).`,
    ].join("\n"),
  announce: (topic, participants, maxRounds, estimate) =>
    [
      `Тема: ${topic}`,
      "Участники:",
      ...participants.map((p) => `• ${p.name}${p.persona ? ` — ${p.persona}` : ""}`),
      `Раундов: до ${maxRounds}.`,
      ...(estimate && Number(estimate.highUsd) > 0
        ? [`Ожидаемая стоимость: ${formatCostRough(estimate.lowUsd)}–${formatCostRough(estimate.highUsd)}.`]
        : []),
    ].join("\n"),
  turnHeader: (name, persona, round, maxRounds) =>
    `🤖 ${name}${persona ? ` · ${persona}` : ""} · раунд ${round}/${maxRounds}`,
  nothingRunning: "Сейчас ничего не обсуждается.",
  stopping: "Останавливаю обсуждение…",
  closing: (reason, rounds, maxRounds, totals) =>
    `Обсуждение завершено: ${REASONS.ru[reason ?? ""] ?? reason ?? "—"}. Раундов: ${rounds}/${maxRounds}. Токены: ${totals.tokensIn} вх. / ${totals.tokensOut} вых. Стоимость: ${formatCost(totals.cost)}.`,
  buttonExpired: "Эта кнопка больше не работает.",
  debateOver: "Это обсуждение уже закончилось.",
  buttonFailed: "Не получилось, попробуйте ещё раз.",
  donate: "Спасибо, что хотите поддержать проект!",
  donateButton: "Отблагодарить",
  donateUnavailable: "Ссылка для благодарности пока не настроена.",
};

const en: BotTexts = {
  buttons: { new: "New discussion", stop: "Stop dialog", usage: "My usage", donate: "Thank the creator" },
  commands: [
    { command: "new", description: "New discussion" },
    { command: "stop", description: "Stop dialog" },
    { command: "usage", description: "How many discussions are left today" },
    { command: "donate", description: "Thank the creator" },
    { command: "help", description: "How to use the bot" },
  ],
  greeting:
    "Hi! I host a round table of AI models: give a topic and the models will discuss it in turns.\nPick an action in the menu.",
  help: "Commands: /new — new discussion, /stop — stop the dialog, /usage — your limits today, /donate — thank the creator, /help — this help.",
  unknownCommand: "Unknown command. /new — new discussion, /stop — stop, /help — help.",
  askTopic: "Send the discussion topic (up to 1000 characters).",
  topicEmpty: "The topic cannot be empty.",
  topicTooLong: (length, max) => `The topic is too long: ${length} characters, at most ${max} allowed.`,
  topicNotText: "Please send the topic as text.",
  busy: "A discussion is already running in this chat. Stop it first: “Stop dialog” or /stop.",
  stillDelivering:
    "The previous discussion is still being posted. Wait until it is done, then start a new one.",
  modelsNotConfigured: "The operator has not configured the models yet. Please try again later.",
  startFailed: "Could not start the discussion. Please try again later.",
  notAllowed: (telegramId) =>
    `This bot is invite-only. To get access, give the operator your Telegram ID: ${telegramId}.`,
  blocked: "You are not allowed to use this bot.",
  groupsOff: "Discussions in groups are turned off — message me privately.",
  stopNotAllowed: "Only the person who started the discussion or a chat administrator can stop it.",
  tooManyMessages: "Too many messages. I will not answer them for a minute.",
  quotaExceeded: (limit, value, resetsInMs) => {
    const reset = `It resets at 00:00 UTC (in ${duration(resetsInMs, "en")}).`;
    if (limit === "USER_DEBATES_PER_DAY")
      return `You have reached today's limit of discussions (${value} a day). ${reset}`;
    if (limit === "USER_COST_PER_DAY_USD")
      return `Your discussions today have used your daily budget of ${formatCost(String(value))}. ${reset}`;
    return `The bot has used up its daily budget for discussions. ${reset}`;
  },
  usage: (u) =>
    [
      `Today: ${u.debates}${u.debatesPerDay > 0 ? ` of ${u.debatesPerDay}` : " (no limit)"} discussions, cost ${formatCost(u.cost)}${Number(u.costPerDayUsd) > 0 ? ` of ${formatCost(u.costPerDayUsd)}` : " (no limit)"}.`,
      `The limits reset at 00:00 UTC (in ${duration(u.resetsInMs, "en")}).`,
    ].join("\n"),
  announce: (topic, participants, maxRounds, estimate) =>
    [
      `Topic: ${topic}`,
      "Participants:",
      ...participants.map((p) => `• ${p.name}${p.persona ? ` — ${p.persona}` : ""}`),
      `Rounds: up to ${maxRounds}.`,
      ...(estimate && Number(estimate.highUsd) > 0
        ? [`Expected cost: ${formatCostRough(estimate.lowUsd)}–${formatCostRough(estimate.highUsd)}.`]
        : []),
    ].join("\n"),
  turnHeader: (name, persona, round, maxRounds) =>
    `🤖 ${name}${persona ? ` · ${persona}` : ""} · round ${round}/${maxRounds}`,
  nothingRunning: "Nothing is being discussed right now.",
  stopping: "Stopping the discussion…",
  closing: (reason, rounds, maxRounds, totals) =>
    `Discussion ended: ${REASONS.en[reason ?? ""] ?? reason ?? "—"}. Rounds: ${rounds}/${maxRounds}. Tokens: ${totals.tokensIn} in / ${totals.tokensOut} out. Cost: ${formatCost(totals.cost)}.`,
  buttonExpired: "This button no longer works.",
  debateOver: "This discussion has already ended.",
  buttonFailed: "That did not work, please try again.",
  donate: "Thank you for wanting to support the project!",
  donateButton: "Thank the creator",
  donateUnavailable: "The thank-you link is not configured yet.",
};

export const TEXTS: Record<BotLanguage, BotTexts> = { ru, en };

/** Which menu action a button label (in any language) stands for. */
export function actionOfButton(text: string): MenuAction | null {
  const trimmed = text.trim();
  for (const language of ["ru", "en"] as const) {
    for (const [action, label] of Object.entries(TEXTS[language].buttons)) {
      if (label === trimmed) return action as MenuAction;
    }
  }
  return null;
}
