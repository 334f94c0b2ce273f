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
  },
};

export function debateTexts(language: string): DebateTexts {
  return language === "en" ? texts.en : texts.ru;
}
