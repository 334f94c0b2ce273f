import type { Type } from "arktype";
import { errorView } from "./api-schemas";
import { componentRef } from "./openapi-components";

/** Name of the bearer security scheme in the OpenAPI document. */
export const BEARER_SCHEME = "bearerAuth";

/**
 * OpenAPI `detail` of an API route: a stable `operationId` (the method name client generators
 * give it), summary, tag, and the bearer requirement.
 */
export function routeDoc(
  operationId: string,
  summary: string,
  tag: string,
  extra: { description?: string } & Record<string, unknown> = {},
) {
  return { operationId, summary, tags: [tag], security: [{ [BEARER_SCHEME]: [] }], ...extra };
}

/** What each error status means, as the document says it. */
const ERROR_MEANINGS = {
  400: "Malformed request: the body is not valid JSON",
  401: "Missing or invalid bearer token",
  404: "No such resource (a malformed id is not found either)",
  409: "Conflicts with the current state",
  422: "Invalid input: `details` lists what is wrong",
  429: "Too many requests: wait before trying again (`details` may say how long)",
  503: "The API is disabled: no API_TOKEN is configured",
} as const;
type ErrorStatus = keyof typeof ERROR_MEANINGS;
const ALWAYS = [401, 503] as const;

/** Error answers a route documents (401 and 503 apply to every route), each the `Error` component. */
export function errorResponses<const S extends ErrorStatus>(...statuses: S[]) {
  const result = {} as Record<S | (typeof ALWAYS)[number], typeof errorView>;
  for (const status of [...ALWAYS, ...statuses]) {
    result[status as S] = errorView.configure({ description: ERROR_MEANINGS[status] });
  }
  return result;
}

/** An error answer that says what the status means for this route (the `Error` component). */
export function errorAnswer(description: string) {
  return errorView.configure({ description });
}

/** The same error answers as raw OpenAPI response objects, for a route whose `detail` lists its responses. */
export function errorResponseDocs(...statuses: ErrorStatus[]) {
  return Object.fromEntries(
    [...ALWAYS, ...statuses].map((status) => [
      status,
      {
        description: ERROR_MEANINGS[status],
        content: { "application/json": { schema: { $ref: componentRef("Error") } } },
      },
    ]),
  );
}

/**
 * A success answer: `schema` with what it is for this route (the response's description in the
 * document; metadata only).
 */
export function answer<T extends Type>(schema: T, description: string): T {
  return schema.configure({ description }) as unknown as T;
}
