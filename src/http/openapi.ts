import { openapi } from "@elysiajs/openapi";
import { BEARER_SCHEME } from "./api/route-doc";

/** Where the document and the explorer are served. */
export const OPENAPI_JSON_PATH = "/openapi/json";
export const SWAGGER_UI_PATH = "/swagger";

/**
 * The OpenAPI document (`/openapi/json`) and Swagger UI (`/swagger`) of every documented route of the
 * app it is mounted on. `@elysiajs/openapi` turns arktype schemas into JSON Schema (Standard Schema);
 * `@elysiajs/swagger` cannot. Admin pages are not part of the API and are left out.
 */
export function createOpenApiPlugin(options: { version?: string } = {}) {
  return openapi({
    path: SWAGGER_UI_PATH,
    specPath: OPENAPI_JSON_PATH,
    provider: "swagger-ui",
    exclude: { paths: [/^\/admin(\/|$)/] },
    documentation: {
      info: {
        title: "Round Table AI API",
        version: options.version ?? "0.1.0",
        description:
          "Debates between LLMs: sessions, providers, personalities and settings. Every /api route needs `Authorization: Bearer <API_TOKEN>`. JSON in snake_case; errors are `{error: {code, message, details?}}`.",
      },
      tags: [
        { name: "sessions", description: "Debate sessions and their live events" },
        { name: "providers", description: "LLM endpoints taking part in debates" },
        { name: "personalities", description: "Personas the providers speak with" },
        { name: "settings", description: "Runtime settings (env names of SPEC §8)" },
        { name: "health", description: "Liveness" },
      ],
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: { type: "http", scheme: "bearer", description: "The API_TOKEN from .env" },
        },
      },
    },
  });
}
