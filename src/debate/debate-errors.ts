/** Why a debate operation was refused; each door maps `code` to its own answer (HTTP status, bot reply). */
export type DebateErrorCode =
  | "session_not_found"
  | "invalid_state"
  | "invalid_topic"
  /** A field of the request out of its range or set (format, verdict, language, rounds to continue). */
  | "invalid_input"
  /** An interjection that is empty or too long. */
  | "invalid_content"
  /** Too frequent (interjections); `details.retry_after_sec`. */
  | "rate_limited"
  | "not_enough_participants"
  | "provider_not_found"
  | "personality_not_found"
  | "chat_busy"
  /** A public user over a daily limit; `details`: `{limit, value, used, resets_at}`. */
  | "quota_exceeded"
  /** A public user blocked, or not allowed in allowlist mode; `details.reason`: `blocked` | `not_allowed`. */
  | "access_denied";

/** A refused debate operation with a message safe to show to the user or operator. */
export class DebateError extends Error {
  constructor(
    readonly code: DebateErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "DebateError";
  }
}
