/**
 * Bearer authentication of the API. Never open by default: without API_TOKEN every /api route
 * answers 503 saying how to enable it. Tokens are compared in constant time over SHA-256 digests,
 * so neither the content nor the length of the configured token leaks through timing.
 */
import { constantTimeEqual } from "../platform/constant-time";
import { ApiError, errorResponse } from "./errors";

/** Header sent with 401 answers (RFC 6750). */
export const BEARER_CHALLENGE = { "www-authenticate": 'Bearer realm="api"' };

/**
 * Returns a checker for one configured token: `null` when the `Authorization` header carries it,
 * otherwise the {@link ApiError} to answer (503 when no token is configured, 401 otherwise).
 */
export function createBearerCheck(apiToken: string): (authorization: string | null) => ApiError | null {
  const disabled = apiToken.trim() === "";
  return (authorization) => {
    if (disabled) {
      return new ApiError(503, "api_disabled", "The API is disabled: set API_TOKEN in .env and restart");
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
    if (!match) {
      return new ApiError(
        401,
        "unauthorized",
        "Missing bearer token: send `Authorization: Bearer <API_TOKEN>`.",
      );
    }
    if (!constantTimeEqual(match[1]!, apiToken)) {
      return new ApiError(401, "unauthorized", "Invalid bearer token.");
    }
    return null;
  };
}

/**
 * The answer to a request without the right bearer token (401 with the challenge, or 503 when no
 * token is configured), or undefined when it carries it: for routes guarded outside the API's own
 * plugin (the OpenAPI document when `DOCS_PUBLIC=off`, `/metrics`).
 */
export function createBearerGuard(apiToken: string): (request: Request) => Response | undefined {
  const check = createBearerCheck(apiToken);
  return (request) => {
    const refused = check(request.headers.get("authorization"));
    if (!refused) return undefined;
    return errorResponse(refused, { headers: refused.status === 401 ? BEARER_CHALLENGE : {} });
  };
}

/**
 * A request path as guards compare it: repeated and trailing slashes dropped and lower-cased, so
 * `//api/…`, `/API/…` or `/openapi/json/` cannot slip past a check if the router accepts them.
 */
export const guardedPath = (request: Request) =>
  new URL(request.url).pathname
    .replace(/\/{2,}/g, "/")
    .replace(/\/$/, "")
    .toLowerCase();
