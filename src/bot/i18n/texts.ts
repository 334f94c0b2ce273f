import type { Session } from "../../db/schema";
import type { CostEstimate } from "../../debate/cost-estimate";
import type { DailyLimitName } from "../../debate/daily-usage";
import type { SessionTotals } from "../../debate/debate-events";
import type { DebateFormat } from "../../debate/debate-formats";
import { dailyBudgetStopDetail } from "../../debate/stop-conditions";

/** Languages the bot speaks: Russian by default, English for `language_code` en*. */
export type BotLanguage = "ru" | "en";

/** Picks the bot language from a Telegram `language_code`. */
export function languageOf(languageCode: string | null | undefined): BotLanguage {
  return languageCode?.toLowerCase().startsWith("en") ? "en" : "ru";
}

/** The menu actions; each has a command and a reply-keyboard button. */
export type MenuAction = "new" | "stop" | "usage" | "donate";

/** A debate's setup as the card after the topic shows it. */
export interface SetupSummary {
  topic: string;
  format: DebateFormat;
  rounds: number;
  participants: string[];
  verdict: boolean;
}

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
    format?: DebateFormat,
  ): string;
  turnHeader(name: string, persona: string | null, round: number, maxRounds: number): string;
  nothingRunning: string;
  stopping: string;
  closing(reason: string | null, rounds: number, maxRounds: number, totals: SessionTotals): string;
  /** The card after the topic: one tap starts with these settings, or they are changed first. */
  setupCard(summary: SetupSummary): string;
  /** The card with its options open: the formats explained. */
  setupOptions(summary: SetupSummary): string;
  formats: Record<DebateFormat, { name: string; description: string }>;
  setupButtons: {
    start: string;
    options: string;
    verdict(on: boolean): string;
  };
  /** The card's buttons were pressed by someone else, or it has been replaced or has expired. */
  setupExpired: string;
  setupNotYours: string;
  /** Fewer than two participants left ticked. */
  setupTooFewParticipants: string;
  /** An interjection was stored: the next speakers will address it. */
  interjectionTaken: string;
  interjectionTooSoon: string;
  interjectionNotRunning: string;
  interjectionInvalid(max: number): string;
  /** Buttons under the closing line. */
  endButtons: { more: string; verdict: string; export: string; new: string };
  continuing: string;
  /** Continue or verdict refused because the debate runs (or a verdict exists / is being written). */
  stillRunning: string;
  verdictRequested: string;
  verdictExists: string;
  /** In a group, continuing or asking for a verdict is the starter's (or an administrator's) call. */
  onlyStarter: string;
  exportCaption(topic: string): string;
  exportSent: string;
  nothingToExport: string;
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

/** At most `max` characters, with an ellipsis when cut (captions have a limit of their own). */
function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).toWellFormed()}…`;
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
    { command: "export", description: "Стенограмма последнего обсуждения" },
    { command: "donate", description: "Отблагодарить создателя" },
    { command: "help", description: "Как пользоваться ботом" },
  ],
  greeting:
    "Привет! Я устраиваю круглый стол нейросетей: дайте тему, и модели обсудят её по очереди.\nВыберите действие в меню.",
  help: "Команды: /new — новое обсуждение, /stop — остановить диалог, /export — стенограмма последнего обсуждения, /usage — ваш лимит на сегодня, /donate — отблагодарить создателя, /help — эта справка. Пока идёт обсуждение, ваше сообщение станет вопросом к участникам.",
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
  announce: (topic, participants, maxRounds, estimate, format) =>
    [
      `Тема: ${topic}`,
      ...(format ? [`Формат: ${ru.formats[format].name}.`] : []),
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
  setupCard: (setup) =>
    [
      `📝 Тема: ${setup.topic}`,
      `Формат: ${ru.formats[setup.format].name}. Раундов: ${setup.rounds}. Участники: ${setup.participants.join(", ")}. Вердикт модератора: ${setup.verdict ? "да" : "нет"}.`,
    ].join("\n"),
  setupOptions: (setup) =>
    [
      ru.setupCard(setup),
      "",
      ...Object.values(ru.formats).map((format) => `• ${format.name} — ${format.description}`),
      "",
      "Выберите формат, число раундов, участников и вердикт, затем «Начать».",
    ].join("\n"),
  formats: {
    roundtable: { name: "Круглый стол", description: "все по очереди высказываются и отвечают друг другу" },
    pro_contra: {
      name: "За и против",
      description: "участники спорят за и против: вступления, доводы, заключения",
    },
    socratic: {
      name: "Сократический диалог",
      description: "первый участник задаёт вопросы, остальные отвечают",
    },
    delphi: {
      name: "Дельфи",
      description: "все отвечают независимо, затем видят ответы друг друга и сближают позиции",
    },
  },
  setupButtons: {
    start: "▶️ Начать",
    options: "⚙️ Настроить",
    verdict: (on) => (on ? "Вердикт: да" : "Вердикт: нет"),
  },
  setupExpired: "Эти настройки устарели. Начните заново: /new.",
  setupNotYours: "Настроить обсуждение может только тот, кто предложил тему.",
  setupTooFewParticipants: "Нужно хотя бы два участника.",
  interjectionTaken: "Принято: следующие участники ответят на ваше сообщение.",
  interjectionTooSoon: "Не так быстро: дайте участникам ответить на предыдущее сообщение.",
  interjectionNotRunning: "Обсуждение сейчас не идёт — сообщение не передано.",
  interjectionInvalid: (max) => `Сообщение должно быть от 1 до ${max} символов.`,
  endButtons: {
    more: "➕ Ещё раунд",
    verdict: "⚖️ Вердикт",
    export: "📄 Экспорт",
    new: "🆕 Новое обсуждение",
  },
  continuing: "Продолжаем: ещё один раунд.",
  stillRunning: "Обсуждение ещё идёт.",
  verdictRequested: "Модератор пишет вердикт…",
  verdictExists: "Вердикт уже есть.",
  onlyStarter: "Это может сделать только тот, кто начал обсуждение, или администратор чата.",
  exportCaption: (topic) => `Стенограмма: ${truncate(topic, 200)}`,
  exportSent: "Стенограмма отправлена.",
  nothingToExport: "В этом чате ещё не было обсуждений.",
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
    { command: "export", description: "Transcript of the last discussion" },
    { command: "donate", description: "Thank the creator" },
    { command: "help", description: "How to use the bot" },
  ],
  greeting:
    "Hi! I host a round table of AI models: give a topic and the models will discuss it in turns.\nPick an action in the menu.",
  help: "Commands: /new — new discussion, /stop — stop the dialog, /export — transcript of the last discussion, /usage — your limits today, /donate — thank the creator, /help — this help. While a discussion runs, your message becomes a question to the participants.",
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
  announce: (topic, participants, maxRounds, estimate, format) =>
    [
      `Topic: ${topic}`,
      ...(format ? [`Format: ${en.formats[format].name}.`] : []),
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
  setupCard: (setup) =>
    [
      `📝 Topic: ${setup.topic}`,
      `Format: ${en.formats[setup.format].name}. Rounds: ${setup.rounds}. Participants: ${setup.participants.join(", ")}. Moderator's verdict: ${setup.verdict ? "yes" : "no"}.`,
    ].join("\n"),
  setupOptions: (setup) =>
    [
      en.setupCard(setup),
      "",
      ...Object.values(en.formats).map((format) => `• ${format.name} — ${format.description}`),
      "",
      "Pick the format, rounds, participants and verdict, then “Start”.",
    ].join("\n"),
  formats: {
    roundtable: { name: "Round table", description: "everyone speaks in turn and answers the others" },
    pro_contra: {
      name: "Pro and contra",
      description: "sides argue for and against: openings, arguments, closings",
    },
    socratic: {
      name: "Socratic dialogue",
      description: "the first participant asks probing questions, the others answer",
    },
    delphi: {
      name: "Delphi",
      description: "all answer independently, then see each other's answers and converge",
    },
  },
  setupButtons: {
    start: "▶️ Start",
    options: "⚙️ Customize",
    verdict: (on) => (on ? "Verdict: yes" : "Verdict: no"),
  },
  setupExpired: "These settings have expired. Start again: /new.",
  setupNotYours: "Only the person who proposed the topic can set it up.",
  setupTooFewParticipants: "At least two participants are needed.",
  interjectionTaken: "Got it: the next speakers will address your message.",
  interjectionTooSoon: "Not so fast: let the participants answer your previous message first.",
  interjectionNotRunning: "No discussion is running right now — the message was not passed on.",
  interjectionInvalid: (max) => `A message must be 1 to ${max} characters long.`,
  endButtons: {
    more: "➕ One more round",
    verdict: "⚖️ Verdict",
    export: "📄 Export",
    new: "🆕 New discussion",
  },
  continuing: "Going on: one more round.",
  stillRunning: "The discussion is still running.",
  verdictRequested: "The moderator is writing the verdict…",
  verdictExists: "There is a verdict already.",
  onlyStarter: "Only the person who started the discussion or a chat administrator can do that.",
  exportCaption: (topic) => `Transcript: ${truncate(topic, 200)}`,
  exportSent: "Transcript sent.",
  nothingToExport: "There has been no discussion in this chat yet.",
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
