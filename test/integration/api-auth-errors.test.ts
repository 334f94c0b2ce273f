import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ValidationError } from "elysia";
import { CatalogError } from "../../src/catalog/catalog-errors";
import { providerViewSchema } from "../../src/catalog/provider-service";
import { DebateError } from "../../src/debate/debate-errors";
import { numericIdParams } from "../../src/http/api/api-schemas";
import { toApiError } from "../../src/http/errors";
import { SettingsValidationError } from "../../src/settings/settings-service";
import { type ApiAnswer, type ApiClient, createApiClient, type Json } from "../helpers/api-client";
import { createTestDatabase } from "../helpers/test-db";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let api: ApiClient;

beforeAll(async () => {
  stack = await createTestStack({ startEngine: false });
  api = await createApiClient(stack);
});
afterAll(async () => {
  await stack.stop();
});

/** Every error answer has exactly the one shape, and nothing that looks like a stack trace. */
function expectError(answer: ApiAnswer, status: number, code: string) {
  expect(answer.status).toBe(status);
  expect(answer.headers.get("content-type")).toContain("application/json");
  expect(answer.json).toEqual({
    error: expect.objectContaining({ code, message: expect.any(String) }),
  });
  expect(Object.keys(answer.json.error).every((key) => ["code", "message", "details"].includes(key))).toBe(
    true,
  );
  expect(answer.text).not.toMatch(/\bat .+:\d+:\d+|stack/i);
}

describe("API authentication", () => {
  test("no API_TOKEN configured: every /api route answers 503 saying how to enable it", async () => {
    const disabled = await createApiClient(stack, { env: { API_TOKEN: "" } });
    for (const [method, path] of [
      ["GET", "/api/sessions"],
      ["GET", "/api/providers"],
      ["POST", "/api/providers"],
      ["GET", "/api/nowhere"],
    ] as const) {
      const answer = await disabled.request(method, path, { token: "anything" });
      expectError(answer, 503, "api_disabled");
      expect(answer.json.error.message).toBe("The API is disabled: set API_TOKEN in .env and restart");
    }
  });

  test("a missing, malformed or wrong token is refused with 401 and a bearer challenge", async () => {
    const missing = await api.request("GET", "/api/providers", { token: null });
    expectError(missing, 401, "unauthorized");
    expect(missing.headers.get("www-authenticate")).toContain("Bearer");
    expectError(await api.request("GET", "/api/providers", { token: "wrong-token" }), 401, "unauthorized");
    expectError(
      await api.request("GET", "/api/providers", { token: "api-token-for-tests-and-more" }),
      401,
      "unauthorized",
    );
    expectError(
      await api.request("GET", "/api/providers", {
        token: null,
        headers: { authorization: "Basic YXBpOmFwaS10b2tlbi1mb3ItdGVzdHM=" },
      }),
      401,
      "unauthorized",
    );
    // Scheme names are case-insensitive (RFC 7235).
    const lower = await api.request("GET", "/api/providers", {
      token: null,
      headers: { authorization: "bearer api-token-for-tests" },
    });
    expect(lower.status).toBe(200);
  });

  test("authentication comes before parsing, validation and routing", async () => {
    expectError(
      await api.request("POST", "/api/providers", { token: null, body: "{not json" }),
      401,
      "unauthorized",
    );
    expectError(
      await api.request("POST", "/api/providers", { token: "wrong", body: { name: 1 } }),
      401,
      "unauthorized",
    );
    expectError(await api.request("GET", "/api/no-such-route", { token: null }), 401, "unauthorized");
    expectError(await api.request("POST", "/api/sessions/x/start", { token: null }), 401, "unauthorized");
    expectError(await api.request("GET", "/api/sessions/x/events", { token: null }), 401, "unauthorized");
    // Odd spellings of the path never reach a route unauthenticated.
    const doubled = await api.request("GET", "//api/providers", { token: null });
    expect(doubled.status).not.toBe(200);
  });

  test("the documents and /health-like routes outside /api need no token", async () => {
    const document = await api.request("GET", "/openapi/json", { token: null });
    expect(document.status).toBe(200);
    const swagger = await api.fetch("GET", "/swagger", { token: null });
    expect(swagger.status).toBe(200);
    expect(swagger.headers.get("content-type")).toContain("text/html");
    const html = await swagger.text();
    expect(html).toContain("swagger-ui");
    const start = await api.request("GET", "/swagger/swagger-start.js", { token: null });
    expect(start.status).toBe(200);
    expect(start.text).toContain("/openapi/json");
  });
});

describe("API errors", () => {
  test("unknown routes and methods under /api answer 404 in the error shape", async () => {
    expectError(await api.request("GET", "/api/nowhere"), 404, "not_found");
    expectError(await api.request("GET", "/api/providers/1/nothing"), 404, "not_found");
    expectError(await api.request("DELETE", "/api/settings"), 404, "not_found");
    expectError(await api.request("GET", "/api"), 404, "not_found");
  });

  test("unknown or malformed ids answer 404", async () => {
    expectError(await api.request("GET", "/api/providers/999999"), 404, "provider_not_found");
    expectError(await api.request("GET", "/api/providers/abc"), 404, "not_found");
    expectError(await api.request("GET", "/api/personalities/999999"), 404, "personality_not_found");
    expectError(
      await api.request("GET", "/api/sessions/00000000-0000-4000-8000-000000000000"),
      404,
      "session_not_found",
    );
    expectError(await api.request("GET", "/api/sessions/not-a-uuid"), 404, "session_not_found");
    expectError(
      await api.request("POST", "/api/sessions/00000000-0000-4000-8000-000000000000/start"),
      404,
      "session_not_found",
    );
  });

  test("malformed JSON answers 400", async () => {
    for (const path of ["/api/providers", "/api/personalities", "/api/sessions"]) {
      expectError(await api.request("POST", path, { body: "{not json" }), 400, "malformed_json");
    }
    expectError(await api.request("PUT", "/api/settings", { body: "[1," }), 400, "malformed_json");
    expectError(await api.request("PATCH", "/api/providers/1", { body: "" }), 400, "malformed_json");
  });

  test("validation errors answer 422 with details per field and no echo of the input", async () => {
    const answer = await api.request("POST", "/api/personalities", {
      body: { title: "", instructions: 42, colour: "red-unique-marker" },
    });
    expectError(answer, 422, "validation_failed");
    const paths = answer.json.error.details.map((issue: { path: string }) => issue.path).sort();
    expect(paths).toEqual(["colour", "instructions", "title"]);
    for (const issue of answer.json.error.details) expect(typeof issue.message).toBe("string");
    // Elysia's default body ({type, on, found, …}) is never used.
    expect(answer.text).not.toContain('"found"');
    expect(answer.text).not.toContain("red-unique-marker");

    // A body that is not an object at all: one issue about the whole body (path ""), value not echoed.
    const scalar = await api.request("POST", "/api/providers", { body: '"sk-lonely-string-secret"' });
    expectError(scalar, 422, "validation_failed");
    expect(scalar.json.error.details).toEqual([{ path: "", message: "must be an object (was a string)" }]);
    expect(scalar.text).not.toContain("sk-lonely");
  });

  test("an unexpected failure answers a bare 500 and is logged, without a stack trace", async () => {
    const broken = await createTestDatabase();
    await broken.database.close();
    const failing = await createApiClient(stack, { database: broken.database, start: false });
    const answer = await failing.request("GET", "/api/providers");
    expectError(answer, 500, "internal_error");
    expect(answer.json.error.message).toBe("Internal server error.");
    const line = stack.logLines.find((entry) => entry.includes("api request failed"));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: "error", method: "GET", path: "/api/providers" });
    await broken.drop();
  });
});

describe("error mapping", () => {
  test("a response failing its own schema is a 500, a malformed path parameter a 404", () => {
    const secret = "sk-response-secret-0000";
    const response = toApiError(
      new ValidationError("response", providerViewSchema as never, { api_key: secret }),
      "VALIDATION",
    );
    expect({ status: response.status, code: response.code }).toEqual({ status: 500, code: "internal_error" });
    expect(JSON.stringify(response)).not.toContain(secret);
    const params = toApiError(
      new ValidationError("params", numericIdParams as never, { id: "x" }),
      "VALIDATION",
    );
    expect({ status: params.status, code: params.code }).toEqual({ status: 404, code: "not_found" });
  });

  test("domain errors map to their statuses", () => {
    const cases: [unknown, number, string][] = [
      [new DebateError("session_not_found", "m"), 404, "session_not_found"],
      [new DebateError("invalid_state", "m"), 409, "invalid_state"],
      [new DebateError("chat_busy", "m"), 409, "chat_busy"],
      [new DebateError("invalid_topic", "m"), 422, "invalid_topic"],
      [new DebateError("not_enough_participants", "m"), 422, "not_enough_participants"],
      [new DebateError("provider_not_found", "m"), 422, "provider_not_found"],
      [new DebateError("personality_not_found", "m"), 422, "personality_not_found"],
      [new CatalogError("provider_not_found", "m"), 404, "provider_not_found"],
      [new CatalogError("name_taken", "m"), 409, "name_taken"],
      [new CatalogError("invalid_input", "m"), 422, "validation_failed"],
      [new SettingsValidationError([{ key: "MAX_ROUNDS", message: "m" }]), 422, "settings_invalid"],
      [new Error("connection to 10.0.0.1 refused"), 500, "internal_error"],
      ["a string", 500, "internal_error"],
    ];
    for (const [error, status, code] of cases) {
      const mapped = toApiError(error);
      expect({ status: mapped.status, code: mapped.code }).toEqual({ status, code });
      if (status === 500) expect(mapped.message).toBe("Internal server error.");
    }
  });
});

describe("OpenAPI document", () => {
  test("lists every API route with a summary, the bearer scheme, and request/response schemas", async () => {
    const document = (await api.request("GET", "/openapi/json", { token: null })).json;
    expect(document.openapi).toMatch(/^3\./);
    expect(document.components.securitySchemes.bearerAuth).toEqual(
      expect.objectContaining({ type: "http", scheme: "bearer" }),
    );
    const apiRoutes = (
      api.app.routes as {
        method: string;
        path: string;
        hooks?: { body?: unknown; detail?: { hide?: boolean } };
      }[]
    ).filter((route) => route.path.startsWith("/api/") && !route.hooks?.detail?.hide);
    expect(apiRoutes.length).toBeGreaterThanOrEqual(20);
    const expected = [
      "post /api/sessions",
      "get /api/sessions",
      "get /api/sessions/{id}",
      "post /api/sessions/{id}/start",
      "post /api/sessions/{id}/stop",
      "get /api/sessions/{id}/events",
      "get /api/providers",
      "post /api/providers",
      "get /api/providers/{id}",
      "put /api/providers/{id}",
      "patch /api/providers/{id}",
      "delete /api/providers/{id}",
      "post /api/providers/{id}/test",
      "get /api/personalities",
      "post /api/personalities",
      "get /api/personalities/{id}",
      "put /api/personalities/{id}",
      "patch /api/personalities/{id}",
      "delete /api/personalities/{id}",
      "get /api/settings",
      "put /api/settings",
    ];
    const documented: string[] = [];
    for (const [path, operations] of Object.entries(
      document.paths as Record<string, Record<string, unknown>>,
    )) {
      for (const method of Object.keys(operations)) documented.push(`${method} ${path}`);
    }
    for (const route of expected) expect(documented).toContain(route);
    // Nothing of the API is undocumented, and the catch-all stays hidden.
    for (const route of apiRoutes) {
      const path = route.path.replace(/:([^/]+)/g, "{$1}");
      expect(documented).toContain(`${route.method.toLowerCase()} ${path}`);
    }
    expect(documented.some((entry) => entry.includes("*"))).toBe(false);

    // Shared schemas are components: follow a `$ref` to read one.
    const resolve = (schema: Json): Json =>
      schema?.$ref ? document.components.schemas[schema.$ref.replace("#/components/schemas/", "")] : schema;
    for (const route of apiRoutes) {
      const path = route.path.replace(/:([^/]+)/g, "{$1}");
      const operation = document.paths[path][route.method.toLowerCase()];
      expect(operation.summary, `${route.method} ${path}`).toEqual(expect.any(String));
      expect(operation.security).toEqual([{ bearerAuth: [] }]);
      expect(operation.tags?.length).toBeGreaterThan(0);
      const success =
        operation.responses?.["200"] ?? operation.responses?.["201"] ?? operation.responses?.["202"];
      expect(success, `${route.method} ${path} success response`).toBeDefined();
      expect(operation.responses["401"]).toBeDefined();
      if (route.hooks?.body) {
        const schema = resolve(operation.requestBody?.content?.["application/json"]?.schema);
        expect(schema, `${route.method} ${path} request schema`).toBeDefined();
        expect(Object.keys(schema.properties ?? {}).length).toBeGreaterThan(0);
      }
    }
    const createProvider = resolve(
      document.paths["/api/providers"].post.requestBody.content["application/json"].schema,
    );
    expect(createProvider.required).toEqual(expect.arrayContaining(["name", "type", "base_url", "model_id"]));
    expect(createProvider.properties.type.enum).toEqual(
      expect.arrayContaining(["openai", "deepseek", "openai_compatible"]),
    );
    const sessionDetail = resolve(
      document.paths["/api/sessions/{id}"].get.responses["200"].content["application/json"].schema,
    );
    expect(Object.keys(sessionDetail.properties)).toEqual(
      expect.arrayContaining(["id", "topic", "status", "stop_reason", "participants", "messages", "totals"]),
    );
    const listParameters = document.paths["/api/sessions"].get.parameters.map(
      (parameter: { name: string }) => parameter.name,
    );
    expect(listParameters).toEqual(expect.arrayContaining(["limit", "offset", "status"]));
    expect(document.paths["/api/sessions/{id}/events"].get.responses["200"].content).toHaveProperty(
      "text/event-stream",
    );
  });
});
