/** Texts the engine writes into transcripts (system messages), in the session's language. */
export type Language = "ru" | "en";

const texts = {
  ru: {
    excludedTimeouts: (name: string) => `${name} дважды подряд не ответил вовремя и исключён из обсуждения.`,
    excludedLoop: (name: string) => `${name} повторяется или молчит и исключён из обсуждения.`,
    excludedProvider: (name: string, detail: string) => `${name} исключён: ошибка провайдера (${detail}).`,
    excludedMissing: (name: string) => `${name} исключён: провайдер удалён или отключён.`,
    turnTimeout: (name: string) => `${name} не ответил вовремя, ход переходит дальше.`,
    turnFailed: (name: string, detail: string) =>
      `${name} не смог ответить (${detail}), ход переходит дальше.`,
    omitted: "[Ранние реплики опущены, чтобы уложиться в контекст.]",
  },
  en: {
    excludedTimeouts: (name: string) => `${name} timed out twice in a row and was excluded from the debate.`,
    excludedLoop: (name: string) => `${name} kept repeating itself or gave empty answers and was excluded.`,
    excludedProvider: (name: string, detail: string) => `${name} was excluded: provider error (${detail}).`,
    excludedMissing: (name: string) => `${name} was excluded: its provider was removed or disabled.`,
    turnTimeout: (name: string) => `${name} did not answer in time; the turn passes on.`,
    turnFailed: (name: string, detail: string) => `${name} could not answer (${detail}); the turn passes on.`,
    omitted: "[Earlier turns omitted to fit the context.]",
  },
};

export function debateTexts(language: string) {
  return language === "en" ? texts.en : texts.ru;
}
