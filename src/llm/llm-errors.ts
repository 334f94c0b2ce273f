/**
 * Typed errors of the provider layer. Every failure of a chat model surfaces as an
 * {@link LlmError} whose `code` and `isRetryable` drive the engine's policy (retry,
 * or exclude the participant and tell the chat), and whose message is the
 * provider's own wording, scrubbed of secrets, fit for the operator to read (admin,
 * logs). What a public chat or an API caller reads instead is {@link publicFailureLine}:
 * the classification alone, never the provider's text.
 */

import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";

/** What went wrong, coarse enough for policy and reports. */
export type LlmErrorCode =
  | "rate_limited"
  | "server_error"
  | "network"
  | "timeout"
  | "aborted"
  | "auth"
  | "forbidden"
  | "bad_request"
  | "not_found"
  | "conflict"
  /** A 3xx answer: redirects are never followed (they could carry the key elsewhere). */
  | "redirect"
  /** Not sent: the base_url breaks our rules or `PROVIDER_HOSTS`, or a request left the provider's origin. */
  | "refused"
  /** Not sent: the stored API key cannot be decrypted with `SECRETS_KEY`. */
  | "key_unreadable"
  | "unknown";

/**
 * The cause of a failure as reports and public lines name it: a timeout, the network, the key,
 * a rate limit, a refusal (the provider's 402/403, or ours), another HTTP status, a cancellation.
 */
export type LlmFailureKind =
  | "timeout"
  | "network"
  | "bad_key"
  | "rate_limited"
  | "refused"
  | "http"
  | "aborted"
  | "unknown";

function kindOf(code: LlmErrorCode, status: number | undefined): LlmFailureKind {
  switch (code) {
    case "timeout":
    case "network":
    case "rate_limited":
    case "refused":
    case "aborted":
      return code;
    case "auth":
    case "key_unreadable":
      return "bad_key";
    case "forbidden":
      return "refused";
    case "unknown":
      return status === undefined ? "unknown" : "http";
    default:
      return "http";
  }
}

/** Construction fields of {@link LlmError}. */
export interface LlmErrorInit {
  code: LlmErrorCode;
  message: string;
  isRetryable: boolean;
  status?: number;
  retryAfterMs?: number;
  /** Attempts made before giving up (set by the chat model). */
  attempts?: number;
  cause?: unknown;
}

/** A provider failure with a policy-relevant code. Its message never contains the API key. */
export class LlmError extends Error {
  override readonly name = "LlmError";
  readonly code: LlmErrorCode;
  /** The cause, derived from `code` and `status`: what {@link publicFailureLine} words. */
  readonly kind: LlmFailureKind;
  readonly status?: number;
  readonly isRetryable: boolean;
  /** Delay the provider asked for (`retry-after-ms` / `retry-after`), if any. */
  readonly retryAfterMs?: number;
  /** Attempts made before this error was final; set by the chat model. */
  attempts?: number;

  constructor(init: LlmErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.kind = kindOf(init.code, init.status);
    this.isRetryable = init.isRetryable;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.attempts !== undefined) this.attempts = init.attempts;
  }
}

const REDACTED = "[redacted]";
/** One character of a token, literal or percent-encoded (keys travel in URLs and form bodies). */
const TOKEN_CHAR = "(?:[A-Za-z0-9_\\-]|%[0-9A-Fa-f]{2})";
const LONG_TOKEN = new RegExp(`(?<![A-Za-z0-9_%-])${TOKEN_CHAR}{32,}`, "g");

/**
 * A long run that is a credential rather than a name: letters and digits mixed, with one stretch
 * of 20+ characters unbroken by `-` (keys, JWT parts, hex and base64 tokens; not model names such
 * as `gpt-4o-mini-2024-07-18`, nor UUIDs).
 */
function isOpaqueToken(text: string): boolean {
  return (
    /[0-9]/.test(text) && /[A-Za-z]/.test(text) && text.split(/-|%2[Dd]/).some((part) => part.length >= 20)
  );
}

/**
 * What looks like a credential, whoever's it is; labelled forms keep their label (`$1`). Order
 * matters: labelled forms first, so their values are replaced whole.
 */
const SECRET_PATTERNS: [RegExp, string | ((match: string) => string)][] = [
  // `Authorization: Bearer …` / `Basic …`, also URL-encoded (`Bearer%20…`, `Bearer+…`).
  [/\b((?:Bearer|Basic)(?:\s+|%20|\+))[^\s"',;&]+/gi, `$1${REDACTED}`],
  // `api_key=…`, `"token": "…"`, `password%3D…` in query strings, JSON and form bodies.
  [
    /(?<=^|[^A-Za-z0-9_]|%[0-9A-Fa-f]{2})((?:api[_-]?key|access[_-]?token|refresh[_-]?token|token|secret|password|passwd)(?:["']?\s*[:=]\s*["']?|%3[Dd]|%22%3[Aa]%22))[^\s"'&,;}]+/gi,
    `$1${REDACTED}`,
  ],
  // Credentials in query strings go by short names too (`?key=…` is Google's, `&sig=…` Azure's).
  [/((?:[?&;]|%3[Ff]|%26)(?:key|auth|sig|signature|code)(?:=|%3[Dd]))[^&#\s"']+/gi, `$1${REDACTED}`],
  // OpenAI (`sk-…`, `sk-proj-…`), DeepSeek (`sk-` + hex) and the like, even partly masked; `-` may be `%2D`.
  [new RegExp(`\\bsk(?:-|%2[Dd])(?:${TOKEN_CHAR}|[*.]){3,}`, "g"), REDACTED],
  // OpenAI organisation and project ids name the account behind a key.
  [/\b(?:org|proj)[-_][A-Za-z0-9]{8,}/g, REDACTED],
  [LONG_TOKEN, (match) => (isOpaqueToken(match) ? REDACTED : match)],
];

/** The forms a known secret may take in a message: as is, and URL-encoded. */
function secretForms(secret: string): string[] {
  const encoded = encodeURIComponent(secret);
  return encoded === secret ? [secret] : [secret, encoded];
}

/**
 * Removes the given secrets (as is or URL-encoded) and anything key-like: `sk-…` keys, bearer
 * tokens, `api_key=…`-style values, OpenAI org/project ids, long opaque tokens. Keys shorter than
 * 4 characters are not replaced literally (it would shred the text), but such keys are not real
 * secrets anyway.
 */
export function scrubSecrets(message: string, secrets: readonly (string | undefined)[] = []): string {
  let scrubbed = message;
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    for (const form of secretForms(secret)) scrubbed = scrubbed.split(form).join(REDACTED);
  }
  for (const [pattern, replacement] of SECRET_PATTERNS) {
    scrubbed = scrubbed.replace(pattern, replacement as (match: string) => string);
  }
  return scrubbed;
}

function headerValue(headers: unknown, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
  if (typeof headers === "object") {
    for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
      if (key.toLowerCase() === name && typeof value === "string") return value;
    }
  }
  return null;
}

/**
 * Parses `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date)
 * into a delay in ms. Returns undefined when absent or unparseable.
 */
export function parseRetryAfterMs(headers: unknown, now: number = Date.now()): number | undefined {
  const milliseconds = headerValue(headers, "retry-after-ms");
  if (milliseconds !== null && milliseconds.trim() !== "") {
    const value = Number(milliseconds);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const retryAfter = headerValue(headers, "retry-after");
  if (retryAfter === null || retryAfter.trim() === "") return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The reason an aborted signal carries, as an error code. */
export function abortCode(signal: AbortSignal): "timeout" | "aborted" {
  const reason: unknown = signal.reason;
  return reason instanceof Error && reason.name === "TimeoutError" ? "timeout" : "aborted";
}

/** The error `complete()` rejects with when the caller's signal aborted. */
export function abortedError(signal: AbortSignal): LlmError {
  const code = abortCode(signal);
  return new LlmError({
    code,
    message: code === "timeout" ? "The request timed out." : "The request was aborted.",
    isRetryable: false,
    cause: signal.reason,
  });
}

function statusCode(status: number): { code: LlmErrorCode; isRetryable: boolean } {
  if (status >= 300 && status < 400) return { code: "redirect", isRetryable: false };
  if (status === 408) return { code: "timeout", isRetryable: true };
  if (status === 409) return { code: "conflict", isRetryable: true };
  if (status === 429) return { code: "rate_limited", isRetryable: true };
  if (status >= 500) return { code: "server_error", isRetryable: true };
  if (status === 401) return { code: "auth", isRetryable: false };
  // 402 is DeepSeek's "Insufficient Balance": an account problem, like a permission one.
  if (status === 402 || status === 403) return { code: "forbidden", isRetryable: false };
  if (status === 404) return { code: "not_found", isRetryable: false };
  if (status >= 400) return { code: "bad_request", isRetryable: false };
  return { code: "unknown", isRetryable: false };
}

/** The provider's own message from an APIError body, without the SDK's "401 " prefix. */
function providerMessage(error: APIError): string {
  const body = error.error as Record<string, unknown> | undefined;
  const message = body?.message;
  if (typeof message === "string" && message.trim() !== "") return message;
  if (message !== undefined && message !== null) return JSON.stringify(message);
  if (typeof error.status === "number") {
    return body && Object.keys(body).length > 0
      ? JSON.stringify(body)
      : `HTTP ${error.status} with no error message`;
  }
  return error.message;
}

/** Errors raised while an SSE body is being read arrive as plain errors from the runtime. */
const NETWORK_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ConnectionRefused",
  "ConnectionClosed",
  "UND_ERR_SOCKET",
]);
const NETWORK_MESSAGE_PATTERN =
  /fetch failed|network|socket|connection|terminated|ECONNRESET|unexpected end/i;

/** Stream error events carry no HTTP status; fall back on the error type they name. */
function streamErrorCode(error: APIError): { code: LlmErrorCode; isRetryable: boolean } {
  const hint = `${error.type ?? ""} ${error.code ?? ""}`.toLowerCase();
  if (hint.includes("rate_limit")) return { code: "rate_limited", isRetryable: true };
  if (/server_error|overloaded|unavailable|internal/.test(hint))
    return { code: "server_error", isRetryable: true };
  return { code: "unknown", isRetryable: false };
}

/**
 * Maps anything thrown by the openai SDK (or the runtime underneath it) to an
 * {@link LlmError}. Retryable: network failures, 408, 409, 429, 5xx. Not
 * retryable: 400, 401, 403, 404 and other 4xx. The message is the provider's,
 * scrubbed of `apiKey` and anything that looks like a key.
 */
export function classifyError(error: unknown, apiKey?: string): LlmError {
  const secrets = [apiKey];
  if (error instanceof LlmError) {
    const message = scrubSecrets(error.message, secrets);
    if (message === error.message) return error;
    return new LlmError({
      code: error.code,
      message,
      isRetryable: error.isRetryable,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      ...(error.attempts === undefined ? {} : { attempts: error.attempts }),
    });
  }

  if (error instanceof APIUserAbortError) {
    const reason: unknown = (error as { cause?: unknown }).cause;
    const timedOut = reason instanceof Error && reason.name === "TimeoutError";
    return new LlmError({
      code: timedOut ? "timeout" : "aborted",
      message: timedOut ? "The request timed out." : "The request was aborted.",
      isRetryable: false,
      cause: error,
    });
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new LlmError({
      code: "timeout",
      message: scrubSecrets(error.message, secrets),
      isRetryable: true,
      cause: error,
    });
  }
  if (error instanceof APIConnectionError) {
    const cause: unknown = (error as { cause?: unknown }).cause;
    // Our own fetch guard refused the request; the SDK wrapped it as a connection failure.
    if (cause instanceof LlmError) return classifyError(cause, apiKey);
    const detail =
      cause instanceof Error && cause.message ? `${error.message} (${cause.message})` : error.message;
    return new LlmError({
      code: "network",
      message: scrubSecrets(detail, secrets),
      isRetryable: true,
      cause: error,
    });
  }
  if (error instanceof APIError) {
    // The SDK error is not kept as `cause`: its body and headers are provider-controlled
    // text that loggers would print unscrubbed. Status, code and message carry what matters.
    const message = scrubSecrets(providerMessage(error), secrets);
    if (typeof error.status !== "number") {
      return new LlmError({ ...streamErrorCode(error), message });
    }
    const retryAfterMs = parseRetryAfterMs(error.headers);
    return new LlmError({
      ...statusCode(error.status),
      message,
      status: error.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  if (error instanceof Error) {
    const message = scrubSecrets(error.message || error.name, secrets);
    if (error.name === "TimeoutError")
      return new LlmError({ code: "timeout", message, isRetryable: false, cause: error });
    if (error.name === "AbortError")
      return new LlmError({ code: "aborted", message, isRetryable: false, cause: error });
    const systemCode = (error as { code?: unknown }).code;
    const isNetwork =
      (typeof systemCode === "string" && NETWORK_ERROR_CODES.has(systemCode)) ||
      (error.name === "TypeError" && NETWORK_MESSAGE_PATTERN.test(error.message)) ||
      (systemCode !== undefined && NETWORK_MESSAGE_PATTERN.test(error.message));
    return new LlmError({
      code: isNetwork ? "network" : "unknown",
      message,
      isRetryable: isNetwork,
      cause: error,
    });
  }

  return new LlmError({
    code: "unknown",
    message: scrubSecrets(String(error), secrets),
    isRetryable: false,
    cause: error,
  });
}

/** Languages of {@link publicFailureLine}. */
export type FailureLineLanguage = "ru" | "en";

const failureLines = {
  en: {
    timeout: () => "the provider timed out",
    network: () => "network error reaching the provider",
    bad_key: (status?: number) =>
      status === undefined
        ? "its API key cannot be used"
        : `the provider rejected the API key (HTTP ${status})`,
    rate_limited: (status?: number) => `the provider is rate limiting requests${httpSuffix(status)}`,
    refused: (status?: number) =>
      status === undefined
        ? "the server's settings do not allow calling this provider"
        : `the provider refused the request (HTTP ${status})`,
    http: (status?: number) =>
      status !== undefined && status >= 500
        ? `the provider had an internal error (HTTP ${status})`
        : status === 404
          ? "the provider does not know this model or address (HTTP 404)"
          : status !== undefined && status < 400
            ? `the provider answered with a redirect (HTTP ${status}), which is not followed`
            : `the provider returned an error${httpSuffix(status)}`,
    aborted: () => "the request was cancelled",
    unknown: () => "the provider call failed",
  },
  ru: {
    timeout: () => "провайдер не ответил вовремя",
    network: () => "сетевая ошибка при обращении к провайдеру",
    bad_key: (status?: number) =>
      status === undefined
        ? "его API-ключ не удаётся использовать"
        : `провайдер отклонил API-ключ (HTTP ${status})`,
    rate_limited: (status?: number) => `провайдер ограничивает частоту запросов${httpSuffix(status)}`,
    refused: (status?: number) =>
      status === undefined
        ? "настройки сервера не разрешают обращаться к этому провайдеру"
        : `провайдер отказал в запросе (HTTP ${status})`,
    http: (status?: number) =>
      status !== undefined && status >= 500
        ? `внутренняя ошибка провайдера (HTTP ${status})`
        : status === 404
          ? "провайдер не знает такой модели или адреса (HTTP 404)"
          : status !== undefined && status < 400
            ? `провайдер ответил перенаправлением (HTTP ${status}), по нему не переходим`
            : `провайдер вернул ошибку${httpSuffix(status)}`,
    aborted: () => "запрос отменён",
    unknown: () => "не удалось получить ответ провайдера",
  },
} satisfies Record<FailureLineLanguage, Record<LlmFailureKind, (status?: number) => string>>;

function httpSuffix(status: number | undefined): string {
  return status === undefined ? "" : ` (HTTP ${status})`;
}

/**
 * A short line for a public chat (or any caller outside the operators) saying why a provider call
 * failed, from its classification alone: kind and HTTP status, never the provider's text (which can
 * name accounts, projects or balances). E.g. "the provider refused the request (HTTP 403)".
 */
export function publicFailureLine(error: unknown, language: FailureLineLanguage): string {
  const classified = classifyError(error);
  return failureLines[language][classified.kind](classified.status);
}
