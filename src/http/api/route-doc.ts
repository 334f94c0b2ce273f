import { apiErrorSchema } from "../errors";

/** Name of the bearer security scheme in the OpenAPI document. */
export const BEARER_SCHEME = "bearerAuth";

/** OpenAPI `detail` of an API route: summary, tag, and the bearer requirement. */
export function routeDoc(
  summary: string,
  tag: string,
  extra: { description?: string } & Record<string, unknown> = {},
) {
  return { summary, tags: [tag], security: [{ [BEARER_SCHEME]: [] }], ...extra };
}

/** Error answers a route documents (401 and 503 apply to every route). */
export function errorResponses<const S extends number>(...statuses: S[]) {
  const result = {} as Record<S | 401 | 503, typeof apiErrorSchema>;
  for (const status of [401, 503, ...statuses] as (S | 401 | 503)[]) result[status] = apiErrorSchema;
  return result;
}
