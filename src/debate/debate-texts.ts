import type { DebateFormat } from "./debate-formats";

/** Texts the engine writes into transcripts (system messages), in the session's language. */
export type Language = "ru" | "en";

/** The system messages of a debate; causes come classified and free of provider text. */
export interface DebateTexts {
  excludedTimeouts(name: string): string;
  excludedFailures(name: string, cause: string): string;
  excludedLoop(name: string): string;
  /** An answer held back by the loop guard (first strike): the chat hears why the turn was silent. */
  heldBack(name: string, verdict: "empty" | "repeat"): string;
  excludedProvider(name: string, cause: string): string;
  excludedMissing(name: string): string;
  turnTimeout(name: string): string;
  turnFailed(name: string, cause: string): string;
  omitted: string;
  /** The heading a verdict is shown under (chat, export). */
  verdictHeading: string;
  /** The verdict could not be written (the moderator's call failed); the debate ended normally. */
  verdictFailed(cause: string): string;
  /** The language named in the moderator's instructions. */
  languageName: string;
  /** The sections the moderator's verdict is written in, in order (Markdown headings). */
  verdictSections: {
    agreement: string;
    differences: string;
    strongest: string;
    open: string;
    consensus: string;
    levels: [high: string, medium: string, low: string];
  };
  /** The cause of a verdict that came back empty. */
  verdictEmpty: string;
  /** No provider can moderate (none enabled with a usable key). */
  verdictNoModerator: string;
  /** A limit (session cost or tokens, a daily budget) left no room for the verdict. */
  verdictOverLimit: string;
  /** The author name of an interjection. */
  interjectionAuthor(by: "user" | "operator"): string;
  /** Labels of the exported Markdown document. */
  exportLabels: {
    format: string;
    formats: Record<DebateFormat, string>;
    status: string;
    rounds: string;
    participants: string;
    excluded: string;
    /** Pro/contra sides and the Socratic questioner. */
    pro: string;
    contra: string;
    questioner: string;
    transcript: string;
    round: string;
    interjection: string;
    totals: string;
    tokensIn: string;
    tokensOut: string;
    cachedTokens: string;
    cost: string;
    created: string;
  };
}

const texts: Record<Language, DebateTexts> = {
  ru: {
    excludedTimeouts: (name) => `${name} дважды подряд не ответил вовремя и исключён из обсуждения.`,
    excludedFailures: (name, cause) =>
      `${name} дважды подряд не смог ответить (${cause}) и исключён из обсуждения.`,
    excludedLoop: (name) => `${name} повторяется или молчит и исключён из обсуждения.`,
    heldBack: (name, verdict) =>
      verdict === "empty"
        ? `${name} ответил пустым сообщением; ход переходит дальше.`
        : `Ответ ${name} почти повторяет уже сказанное и не показан; ход переходит дальше.`,
    excludedProvider: (name, cause) => `${name} не смог ответить: ${cause}. Участник исключён из обсуждения.`,
    excludedMissing: (name) => `${name} исключён: провайдер удалён или отключён.`,
    turnTimeout: (name) => `${name} не ответил вовремя, ход переходит дальше.`,
    turnFailed: (name, cause) => `${name} не смог ответить (${cause}), ход переходит дальше.`,
    omitted: "[Ранние реплики опущены, чтобы уложиться в контекст.]",
    verdictHeading: "⚖️ Вердикт модератора",
    verdictFailed: (cause) => `Вердикт модератора написать не удалось (${cause}).`,
    languageName: "Russian",
    verdictSections: {
      agreement: "В чём участники согласны",
      differences: "В чём расходятся и почему",
      strongest: "Сильнейший аргумент каждого",
      open: "Открытые вопросы",
      consensus: "Уровень согласия",
      levels: ["высокий", "средний", "низкий"],
    },
    verdictEmpty: "пустой ответ",
    verdictNoModerator: "Вердикт модератора написать не удалось: нет доступной модели-модератора.",
    verdictOverLimit: "Вердикт модератора не написан: достигнут лимит расходов.",
    interjectionAuthor: (by) => (by === "operator" ? "Оператор" : "Пользователь"),
    exportLabels: {
      format: "Формат",
      formats: {
        roundtable: "круглый стол",
        pro_contra: "за и против",
        socratic: "сократический диалог",
        delphi: "метод Дельфи",
      },
      status: "Статус",
      rounds: "Раунды",
      participants: "Участники",
      excluded: "исключён",
      pro: "за",
      contra: "против",
      questioner: "задаёт вопросы",
      transcript: "Обсуждение",
      round: "раунд",
      interjection: "Вопрос",
      totals: "Итого",
      tokensIn: "токенов на входе",
      tokensOut: "токенов на выходе",
      cachedTokens: "из кэша",
      cost: "стоимость",
      created: "Создано",
    },
  },
  en: {
    excludedTimeouts: (name) => `${name} timed out twice in a row and was excluded from the debate.`,
    excludedFailures: (name, cause) =>
      `${name} could not answer twice in a row (${cause}) and was excluded from the debate.`,
    excludedLoop: (name) => `${name} kept repeating itself or gave empty answers and was excluded.`,
    heldBack: (name, verdict) =>
      verdict === "empty"
        ? `${name} gave an empty answer; the turn passes on.`
        : `${name}'s answer nearly repeated what was already said and is not shown; the turn passes on.`,
    excludedProvider: (name, cause) => `${name} could not answer: ${cause}. It was excluded from the debate.`,
    excludedMissing: (name) => `${name} was excluded: its provider was removed or disabled.`,
    turnTimeout: (name) => `${name} did not answer in time; the turn passes on.`,
    turnFailed: (name, cause) => `${name} could not answer (${cause}); the turn passes on.`,
    omitted: "[Earlier turns omitted to fit the context.]",
    verdictHeading: "⚖️ Moderator's verdict",
    verdictFailed: (cause) => `The moderator's verdict could not be written (${cause}).`,
    languageName: "English",
    verdictSections: {
      agreement: "Where the participants agree",
      differences: "Where they differ, and why",
      strongest: "The strongest argument of each",
      open: "Open questions",
      consensus: "Consensus",
      levels: ["high", "medium", "low"],
    },
    verdictEmpty: "an empty answer",
    verdictNoModerator: "The moderator's verdict could not be written: no model is available to moderate.",
    verdictOverLimit: "The moderator's verdict was not written: the spending limit is reached.",
    interjectionAuthor: (by) => (by === "operator" ? "Operator" : "User"),
    exportLabels: {
      format: "Format",
      formats: {
        roundtable: "round table",
        pro_contra: "pro and contra",
        socratic: "Socratic dialogue",
        delphi: "Delphi method",
      },
      status: "Status",
      rounds: "Rounds",
      participants: "Participants",
      excluded: "excluded",
      pro: "for",
      contra: "against",
      questioner: "asks the questions",
      transcript: "Transcript",
      round: "round",
      interjection: "Question",
      totals: "Totals",
      tokensIn: "tokens in",
      tokensOut: "tokens out",
      cachedTokens: "cached",
      cost: "cost",
      created: "Created",
    },
  },
};

export function debateTexts(language: string): DebateTexts {
  return language === "en" ? texts.en : texts.ru;
}

/**
 * The language of a session created without one: Russian when the topic is written mostly in
 * Cyrillic, English otherwise (the models answer in the topic's language; the system texts follow).
 */
export function languageOfTopic(topic: string): Language {
  const cyrillic = topic.match(/\p{Script=Cyrillic}/gu)?.length ?? 0;
  const latin = topic.match(/\p{Script=Latin}/gu)?.length ?? 0;
  return cyrillic >= latin && cyrillic > 0 ? "ru" : "en";
}
