/**
 * The one error shape of the API, `{error: {code, message, details?}}`, and the single mapping from
 * every error the doors can meet (typed domain errors, Elysia's parse/validation/not-found errors,
 * anything unexpected) to a status and that shape.
 *
 * Elysia's own validation body echoes the whole input (`found: …`), secrets included, so it is
 * never used: issues are rebuilt by `describeIssues`, and any string sent under a secret-looking
 * field is scrubbed from the final body as a second line of defence. No stack trace ever leaves.
 */
import { type } from "arktype";
import { ValidationError } from "elysia";
import {
  CatalogError,
  type CatalogErrorCode,
  describeIssues,
  type FieldIssue,
  isSecretField,
} from "../catalog/catalog-errors";
import { DebateError, type DebateErrorCode } from "../debate/debate-errors";
import { SettingsValidationError } from "../settings/settings-service";
import { UserError } from "../users/user-service";

/** What every failed API call answers, documented in OpenAPI. */
export const apiErrorSchema = type({
  error: {
    code: "string",
    message: "string",
    "details?": "unknown",
  },
});
export type ApiErrorBody = typeof apiErrorSchema.infer;

/** An error a route throws on purpose, already carrying its HTTP answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const debateStatus: Record<DebateErrorCode, number> = {
  session_not_found: 404,
  invalid_state: 409,
  chat_busy: 409,
  invalid_topic: 422,
  invalid_input: 422,
  invalid_content: 400,
  rate_limited: 429,
  not_enough_participants: 422,
  provider_not_found: 422,
  personality_not_found: 422,
  // Only Telegram users meet these; the API maps them anyway so the table stays total.
  quota_exceeded: 429,
  access_denied: 403,
};

const catalogStatus: Record<CatalogErrorCode, number> = {
  provider_not_found: 404,
  personality_not_found: 404,
  name_taken: 409,
  title_taken: 409,
  invalid_input: 422,
};

/** Elysia's error codes (the `code` of an `onError` context) that this mapping knows. */
type ElysiaErrorCode = string | number | undefined;

/**
 * The issues of an Elysia validation error, value-free under secret fields. Elysia keeps only a JSON
 * message that embeds the input, so the rejected value is validated again for structured issues.
 */
export function validationIssues(error: ValidationError): FieldIssue[] {
  const schema = (error.validator as { schema?: unknown } | undefined)?.schema as
    | { "~standard"?: { validate(value: unknown): unknown } }
    | undefined;
  const result = schema?.["~standard"]?.validate(error.value) as
    | {
        issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }>;
      }
    | undefined;
  if (result && !(result instanceof Promise) && result.issues?.length) return describeIssues(result.issues);
  // Async schemas or a schema that now passes: say what was wrong without repeating any of it.
  return [{ path: "", message: `the request ${error.type} is invalid` }];
}

/**
 * Maps anything thrown under /api to an {@link ApiError}. Unknown errors become a bare 500
 * `internal_error`: their message may say more than a client should read; the caller logs them.
 */
export function toApiError(error: unknown, elysiaCode?: ElysiaErrorCode): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof DebateError) {
    return new ApiError(debateStatus[error.code] ?? 422, error.code, error.message, error.details);
  }
  if (error instanceof CatalogError) {
    if (error.code === "invalid_input") {
      return new ApiError(422, "validation_failed", error.message, error.issues);
    }
    return new ApiError(catalogStatus[error.code], error.code, error.message);
  }
  if (error instanceof UserError) {
    return error.code === "user_not_found"
      ? new ApiError(404, error.code, error.message)
      : new ApiError(422, "validation_failed", error.message, error.issues);
  }
  if (error instanceof SettingsValidationError) {
    return new ApiError(
      422,
      error.code,
      "Invalid settings; nothing was changed.",
      error.issues.map((issue) => ({ path: issue.key, message: issue.message })),
    );
  }
  if (error instanceof ValidationError || elysiaCode === "VALIDATION") {
    const validation = error as ValidationError;
    // A response that fails its own schema is our bug, not the client's.
    if (validation.type === "response") return internalError();
    // A malformed id names nothing: the resource is not found.
    if (validation.type === "params") return new ApiError(404, "not_found", "No such resource.");
    const details = validationIssues(validation);
    const first = details[0];
    return new ApiError(
      422,
      "validation_failed",
      `Invalid request ${validation.type ?? "input"}${first ? `: ${first.message}` : "."}`,
      details,
    );
  }
  if (elysiaCode === "PARSE") {
    // A refusal by the API's own body reader (413) comes wrapped in Elysia's ParseError.
    if (error instanceof Error && error.cause instanceof ApiError) return error.cause;
    return new ApiError(400, "malformed_json", "The request body is not valid JSON.");
  }
  if (elysiaCode === "NOT_FOUND") return new ApiError(404, "not_found", "No such route.");
  if (elysiaCode === "INVALID_COOKIE_SIGNATURE" || elysiaCode === "INVALID_FILE_TYPE") {
    return new ApiError(400, "bad_request", "The request is malformed.");
  }
  return internalError();
}

function internalError(): ApiError {
  return new ApiError(500, "internal_error", "Internal server error.");
}

/** Strings sent under secret-looking fields at any depth (`api_key`, …): they must never be echoed. */
export function collectSecretValues(value: unknown, found: string[] = [], depth = 0): string[] {
  if (depth > 8 || !value || typeof value !== "object") return found;
  for (const [key, inner] of Object.entries(value)) {
    if (isSecretField(key) && typeof inner === "string" && inner.length >= 4) found.push(inner);
    else collectSecretValues(inner, found, depth + 1);
  }
  return found;
}

/** The JSON response for an error; `secrets` are blanked out of the serialized body if present. */
export function errorResponse(
  error: ApiError,
  options: { secrets?: readonly string[]; headers?: Record<string, string> } = {},
): Response {
  const body: ApiErrorBody = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
  let text = JSON.stringify(body);
  for (const secret of options.secrets ?? []) {
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped.length >= 4) text = text.split(escaped).join("[redacted]");
  }
  return new Response(text, {
    status: error.status,
    headers: { "content-type": "application/json; charset=utf-8", ...options.headers },
  });
}
