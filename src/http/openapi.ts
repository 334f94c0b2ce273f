import { fileURLToPath } from "node:url";
import { openapi } from "@elysiajs/openapi";
import type { Type } from "arktype";
import { Elysia } from "elysia";
import { CONTENT_SECURITY_POLICY } from "./admin/admin-http";
import { apiComponents } from "./api/api-schemas";
import { createOpenApiComponents } from "./api/openapi-components";
import { BEARER_SCHEME } from "./api/route-doc";
import { guardedPath } from "./api-auth";
import { healthComponent } from "./health";

/** Where the document and the explorer are served. */
export const OPENAPI_JSON_PATH = "/openapi/json";
export const SWAGGER_UI_PATH = "/swagger";

const TITLE = "Round Table AI API";

/**
 * Swagger UI's files, served from the pinned `swagger-ui-dist` package: the explorer works offline
 * and on the app's own origin. The plugin's own page loads `swagger-ui-dist@latest` from a CDN and
 * starts it with an inline script, which the app's Content-Security-Policy (`script-src 'self'`)
 * refuses; so the page and its start-up script are ours, and only the package's files are served.
 */
const SWAGGER_UI_FILES = [
  "swagger-ui.css",
  "swagger-ui.css.map",
  "swagger-ui-bundle.js",
  "swagger-ui-bundle.js.map",
  "favicon-32x32.png",
] as const;

const assetUrl = (file: string) => `${SWAGGER_UI_PATH}/${file}`;
const START_SCRIPT = "swagger-start.js";

const SWAGGER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${TITLE}</title>
<link rel="icon" type="image/png" href="${assetUrl("favicon-32x32.png")}">
<link rel="stylesheet" href="${assetUrl("swagger-ui.css")}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${assetUrl("swagger-ui-bundle.js")}"></script>
<script src="${assetUrl(START_SCRIPT)}"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to an online validator.
const START_SCRIPT_SOURCE = `window.ui = SwaggerUIBundle(${JSON.stringify({
  url: OPENAPI_JSON_PATH,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
})});\n`;

/** The headers of the admin pages: the explorer runs under the same policy. */
const PAGE_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
};

function swaggerUiRoutes() {
  const files = new Map<string, string>(
    SWAGGER_UI_FILES.map((file) => [file, fileURLToPath(import.meta.resolve(`swagger-ui-dist/${file}`))]),
  );
  const hidden = { detail: { hide: true } };
  return new Elysia({ name: "swagger-ui" })
    .get(
      SWAGGER_UI_PATH,
      () =>
        new Response(SWAGGER_PAGE, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "cache-control": "no-cache",
            ...PAGE_HEADERS,
          },
        }),
      hidden,
    )
    .get(
      `${SWAGGER_UI_PATH}/:file` as const,
      ({ params }) => {
        const headers = { "cache-control": "public, max-age=3600", ...PAGE_HEADERS };
        if (params.file === START_SCRIPT) {
          return new Response(START_SCRIPT_SOURCE, {
            headers: { "content-type": "text/javascript; charset=utf-8", ...headers },
          });
        }
        const path = files.get(params.file);
        if (!path) return new Response("Not found", { status: 404, headers: PAGE_HEADERS });
        return new Response(Bun.file(path), { headers });
      },
      hidden,
    );
}

/**
 * The OpenAPI document (`/openapi/json`) and Swagger UI (`/swagger`) of every documented route of the
 * app it is mounted on. `@elysiajs/openapi` turns arktype schemas into JSON Schema through our
 * converter, which references the shared schemas as `components` ({@link apiComponents}). Admin pages
 * are not part of the API and are left out.
 */
export function createOpenApiPlugin(
  options: {
    version?: string;
    /** Refuses a request for the document or the explorer (`DOCS_PUBLIC=off`: the API token's guard). */
    guard?: (request: Request) => Response | undefined;
  } = {},
) {
  const components = createOpenApiComponents([...apiComponents, healthComponent]);
  const { guard } = options;
  const plugin = new Elysia({ name: "openapi" });
  if (guard) {
    // A request hook applies app-wide, hence the path check; it runs before routing.
    plugin.onRequest(({ request }) => {
      const path = guardedPath(request);
      if (path === OPENAPI_JSON_PATH || path === SWAGGER_UI_PATH || path.startsWith(`${SWAGGER_UI_PATH}/`))
        return guard(request);
    });
  }
  return plugin.use(swaggerUiRoutes()).use(
    openapi({
      provider: null,
      specPath: OPENAPI_JSON_PATH,
      exclude: { paths: [/^\/admin(\/|$)/] },
      mapJsonSchema: { arktype: (schema: Type) => components.toJsonSchema(schema) },
      documentation: {
        info: {
          title: TITLE,
          version: options.version ?? "0.1.0",
          description:
            "Debates between LLMs: sessions, providers, personalities, settings and the bot's users. Every /api route needs `Authorization: Bearer <API_TOKEN>`. JSON in snake_case; errors are `{error: {code, message, details?}}` (the `Error` schema).",
        },
        servers: [{ url: "/", description: "The server this document is served from" }],
        security: [{ [BEARER_SCHEME]: [] }],
        tags: [
          { name: "sessions", description: "Debate sessions and their live events" },
          { name: "providers", description: "LLM endpoints taking part in debates" },
          { name: "personalities", description: "Personas the providers speak with" },
          { name: "settings", description: "Runtime settings (env names of SPEC §8)" },
          { name: "users", description: "The bot's Telegram users: usage, access and own daily limits" },
          { name: "health", description: "Liveness" },
        ],
        components: {
          securitySchemes: {
            [BEARER_SCHEME]: { type: "http", scheme: "bearer", description: "The API_TOKEN from .env" },
          },
          schemas: components.schemas,
        },
      },
    }),
  );
}
