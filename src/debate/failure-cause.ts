import type { LlmError } from "../llm/llm-errors";

/** The short cause of a failed call as the chat and the transcript say it: never the provider's text. */
export function failureCause(error: LlmError, language: string): string {
  const en = language === "en";
  const status = error.status === undefined ? "" : ` (HTTP ${error.status})`;
  switch (error.code) {
    case "timeout":
    case "aborted":
      return en ? "the provider did not answer in time" : "провайдер не ответил вовремя";
    case "network":
      return en ? "network error reaching the provider" : "сетевая ошибка при обращении к провайдеру";
    case "rate_limited":
      return en ? `the provider is rate limiting${status}` : `провайдер ограничил частоту запросов${status}`;
    case "server_error":
      return en ? `the provider failed${status}` : `сбой на стороне провайдера${status}`;
    case "auth":
      return en ? `the API key was rejected${status}` : `ключ API отклонён${status}`;
    default:
      return en ? `the provider refused the request${status}` : `провайдер отклонил запрос${status}`;
  }
}
