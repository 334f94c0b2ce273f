import { Elysia, ValidationError } from "elysia";
import { MIB, readBody } from "../../platform/read-body";
import { BEARER_CHALLENGE, createBearerCheck, createBearerGuard, guardedPath } from "../api-auth";
import type { OperatorDoorDeps } from "../door-deps";
import { ApiError, collectSecretValues, errorResponse, toApiError, validationIssues } from "../errors";
import { createPersonalityRoutes } from "./personalities-routes";
import { createProviderRoutes } from "./providers-routes";
import { createSessionRoutes } from "./sessions-routes";
import { createSettingsRoutes } from "./settings-routes";
import { createUserRoutes } from "./users-routes";

/** Everything the API door needs; built once in the composition root. */
export interface ApiRoutesDeps extends OperatorDoorDeps {
  /** `API_TOKEN`; empty: every /api route answers 503 `api_disabled`. */
  apiToken: string;
  /** Interval of SSE keep-alive comments (tests shorten it). */
  sseKeepAliveMs?: number;
}

export const API_PREFIX = "/api";

/** The largest request body the API reads; a bigger one is refused with 413 before it is read. */
export const MAX_API_BODY_BYTES = MIB;

/**
 * Every API body is read here, capped, instead of by Elysia's parsers (which read whatever comes,
 * up to the server's cap). The API speaks JSON: a body of another type arrives as text and fails
 * its schema. An error thrown here reaches `onError` wrapped in Elysia's `ParseError`.
 */
async function readApiBody({ request, contentType }: { request: Request; contentType: string }) {
  // Nothing to read: Elysia's own handling stays (a missing required body fails validation).
  if (!request.body) return undefined;
  const bytes = await readBody(request, MAX_API_BODY_BYTES);
  if (!bytes) {
    throw new ApiError(413, "payload_too_large", "The request body is larger than the API accepts (1 MiB).");
  }
  const text = new TextDecoder().decode(bytes);
  return /^application\/([\w.-]+\+)?json$/i.test(contentType) ? JSON.parse(text) : text;
}

/** A 429 says when to come back (`details.retry_after_sec`) in the standard header too. */
function retryAfter(error: ApiError): Record<string, string> {
  const seconds = (error.details as { retry_after_sec?: unknown } | undefined)?.retry_after_sec;
  return error.status === 429 && typeof seconds === "number" && Number.isFinite(seconds)
    ? { "retry-after": String(Math.max(1, Math.ceil(seconds))) }
    : {};
}

const notFound = () => {
  throw new ApiError(404, "not_found", "No such route.");
};

const isApiPath = (request: Request) => {
  const path = guardedPath(request);
  return path === API_PREFIX || path.startsWith(`${API_PREFIX}/`);
};

/**
 * The REST API (SPEC §6) as one Elysia plugin under `/api`: bearer auth on every route, one error
 * shape, arktype schemas documented in OpenAPI (mount `createOpenApiPlugin()` beside it).
 */
export function createApiRoutes(deps: ApiRoutesDeps) {
  const logger = deps.logger.child({ component: "api" });
  const checkBearer = createBearerCheck(deps.apiToken);
  const deny = createBearerGuard(deps.apiToken);

  return (
    new Elysia({ name: "api", prefix: API_PREFIX })
      // Before routing and body parsing: an unauthenticated caller learns nothing about routes or schemas.
      // (Request hooks apply app-wide, hence the path check.)
      .onRequest(({ request }) => {
        if (isApiPath(request)) return deny(request);
      })
      // Second line, bound to the API's own routes whatever path led to them; still before validation.
      .onTransform(({ request }) => {
        const refused = checkBearer(request.headers.get("authorization"));
        if (refused) throw refused;
      })
      .onParse(readApiBody)
      .onError(({ code, error, request, body }) => {
        const apiError = toApiError(error, code);
        if (apiError.status >= 500) {
          // The message of an unexpected error stays in the log; validation errors are not logged
          // with their message, which embeds the input.
          const detail =
            error instanceof ValidationError
              ? {
                  error: { name: "ValidationError", message: "response failed its schema" },
                  issues: validationIssues(error),
                }
              : { error };
          logger.error("api request failed", {
            method: request.method,
            path: new URL(request.url).pathname,
            ...detail,
          });
        }
        return errorResponse(apiError, {
          secrets: collectSecretValues(body),
          headers: apiError.status === 401 ? BEARER_CHALLENGE : retryAfter(apiError),
        });
      })
      .use(createSessionRoutes(deps))
      .use(createProviderRoutes({ providers: deps.providers }))
      .use(createPersonalityRoutes({ personalities: deps.personalities }))
      .use(createSettingsRoutes({ settings: deps.settings }))
      .use(createUserRoutes({ users: deps.users }))
      // Unknown routes under /api answer in the API's shape (the app's own 404 is plain text).
      .all("", notFound, { detail: { hide: true } })
      .all("/*", notFound, { detail: { hide: true } })
  );
}
