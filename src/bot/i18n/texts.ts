import type { SessionTotals } from "../../debate/debate-events";

/** Languages the bot speaks: Russian by default, English for `language_code` en*. */
export type BotLanguage = "ru" | "en";

/** Picks the bot language from a Telegram `language_code`. */
export function languageOf(languageCode: string | null | undefined): BotLanguage {
  return languageCode?.toLowerCase().startsWith("en") ? "en" : "ru";
}

/** The menu actions; each has a command and a reply-keyboard button. */
export type MenuAction = "new" | "stop" | "donate";

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
  notEnoughParticipants: string;
  startFailed: string;
  announce(
    topic: string,
    participants: { name: string; persona: string | null }[],
    maxRounds: number,
  ): string;
  turnHeader(name: string, persona: string | null, round: number, maxRounds: number): string;
  nothingRunning: string;
  stopping: string;
  closing(reason: string | null, rounds: number, maxRounds: number, totals: SessionTotals): string;
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

const REASONS: Record<BotLanguage, Record<string, string>> = {
  ru: {
    user: "остановлено пользователем",
    admin: "остановлено администратором",
    max_rounds: "достигнут лимит раундов",
    turn_timeout: "модель не ответила вовремя",
    session_timeout: "истекло время обсуждения",
    token_limit: "достигнут лимит токенов",
    cost_limit: "достигнут лимит стоимости",
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
    no_participants: "no working models left (the reasons are in the notes above)",
    error: "error",
  },
};

const ru: BotTexts = {
  buttons: { new: "Новое обсуждение", stop: "Остановить диалог", donate: "Отблагодарить создателя" },
  commands: [
    { command: "new", description: "Новое обсуждение" },
    { command: "stop", description: "Остановить диалог" },
    { command: "donate", description: "Отблагодарить создателя" },
    { command: "help", description: "Как пользоваться ботом" },
  ],
  greeting:
    "Привет! Я устраиваю круглый стол нейросетей: дайте тему, и модели обсудят её по очереди.\nВыберите действие в меню.",
  help: "Команды: /new — новое обсуждение, /stop — остановить диалог, /donate — отблагодарить создателя, /help — эта справка.",
  unknownCommand: "Не знаю такой команды. /new — новое обсуждение, /stop — остановить, /help — справка.",
  askTopic: "Напишите тему обсуждения (до 1000 символов).",
  topicEmpty: "Тема не может быть пустой.",
  topicTooLong: (length, max) => `Тема слишком длинная: ${length} символов, можно не больше ${max}.`,
  topicNotText: "Пришлите тему текстом, пожалуйста.",
  busy: "В этом чате уже идёт обсуждение. Сначала остановите его: «Остановить диалог» или /stop.",
  notEnoughParticipants: "Сейчас недостаточно доступных моделей для обсуждения. Попробуйте позже.",
  startFailed: "Не удалось начать обсуждение. Попробуйте ещё раз позже.",
  announce: (topic, participants, maxRounds) =>
    [
      `Тема: ${topic}`,
      "Участники:",
      ...participants.map((p) => `• ${p.name}${p.persona ? ` — ${p.persona}` : ""}`),
      `Раундов: до ${maxRounds}.`,
    ].join("\n"),
  turnHeader: (name, persona, round, maxRounds) =>
    `🤖 ${name}${persona ? ` · ${persona}` : ""} · раунд ${round}/${maxRounds}`,
  nothingRunning: "Сейчас ничего не обсуждается.",
  stopping: "Останавливаю обсуждение…",
  closing: (reason, rounds, maxRounds, totals) =>
    `Обсуждение завершено: ${REASONS.ru[reason ?? ""] ?? reason ?? "—"}. Раундов: ${rounds}/${maxRounds}. Токены: ${totals.tokensIn} вх. / ${totals.tokensOut} вых. Стоимость: ${formatCost(totals.cost)}.`,
  donate: "Спасибо, что хотите поддержать проект!",
  donateButton: "Отблагодарить",
  donateUnavailable: "Ссылка для благодарности пока не настроена.",
};

const en: BotTexts = {
  buttons: { new: "New discussion", stop: "Stop dialog", donate: "Thank the creator" },
  commands: [
    { command: "new", description: "New discussion" },
    { command: "stop", description: "Stop dialog" },
    { command: "donate", description: "Thank the creator" },
    { command: "help", description: "How to use the bot" },
  ],
  greeting:
    "Hi! I host a round table of AI models: give a topic and the models will discuss it in turns.\nPick an action in the menu.",
  help: "Commands: /new — new discussion, /stop — stop the dialog, /donate — thank the creator, /help — this help.",
  unknownCommand: "Unknown command. /new — new discussion, /stop — stop, /help — help.",
  askTopic: "Send the discussion topic (up to 1000 characters).",
  topicEmpty: "The topic cannot be empty.",
  topicTooLong: (length, max) => `The topic is too long: ${length} characters, at most ${max} allowed.`,
  topicNotText: "Please send the topic as text.",
  busy: "A discussion is already running in this chat. Stop it first: “Stop dialog” or /stop.",
  notEnoughParticipants: "Not enough models are available for a discussion right now. Try again later.",
  startFailed: "Could not start the discussion. Please try again later.",
  announce: (topic, participants, maxRounds) =>
    [
      `Topic: ${topic}`,
      "Participants:",
      ...participants.map((p) => `• ${p.name}${p.persona ? ` — ${p.persona}` : ""}`),
      `Rounds: up to ${maxRounds}.`,
    ].join("\n"),
  turnHeader: (name, persona, round, maxRounds) =>
    `🤖 ${name}${persona ? ` · ${persona}` : ""} · round ${round}/${maxRounds}`,
  nothingRunning: "Nothing is being discussed right now.",
  stopping: "Stopping the discussion…",
  closing: (reason, rounds, maxRounds, totals) =>
    `Discussion ended: ${REASONS.en[reason ?? ""] ?? reason ?? "—"}. Rounds: ${rounds}/${maxRounds}. Tokens: ${totals.tokensIn} in / ${totals.tokensOut} out. Cost: ${formatCost(totals.cost)}.`,
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
