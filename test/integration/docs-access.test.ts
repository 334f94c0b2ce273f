/**
 * `DOCS_PUBLIC`: the OpenAPI document and Swagger UI are open, or (off) need the API token, so
 * integrators can still read the document.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ApiClient, createApiClient } from "../helpers/api-client";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack({ startEngine: false });
});
afterAll(async () => {
  await stack.stop();
});

const DOCS_PATHS = ["/openapi/json", "/openapi/json/", "/swagger", "/swagger/swagger-ui.css", "/SWAGGER"];

describe("DOCS_PUBLIC", () => {
  test("on (the default outside production): the document and the explorer need no token", async () => {
    const api = await createApiClient(stack);
    const document = await api.request("GET", "/openapi/json", { token: null });
    expect(document.status).toBe(200);
    expect(document.json.openapi).toStartWith("3.");
    expect((await api.request("GET", "/swagger", { token: null })).status).toBe(200);
  });

  test("off: 401 in the API's error shape without the token, served with it; 503 with no token set", async () => {
    const api: ApiClient = await createApiClient(stack, { env: { DOCS_PUBLIC: "off" }, start: false });
    for (const path of DOCS_PATHS) {
      const refused = await api.request("GET", path, { token: null });
      expect(refused.status, path).toBe(401);
      expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="api"');
      expect(refused.json.error.code).toBe("unauthorized");
      expect(refused.text).not.toContain("openapi");
      expect((await api.request("GET", path, { token: "wrong" })).status, path).toBe(401);
    }
    const document = await api.request("GET", "/openapi/json");
    expect(document.status).toBe(200);
    expect(Object.keys(document.json.paths)).toContain("/api/sessions");
    const explorer = await api.request("GET", "/swagger");
    expect(explorer.status).toBe(200);
    expect(explorer.text).toContain("swagger-ui");
    // The rest of the app is as open as before.
    expect((await api.request("GET", "/health", { token: null })).status).toBe(200);

    const noToken = await createApiClient(stack, {
      env: { DOCS_PUBLIC: "off", API_TOKEN: "" },
      start: false,
    });
    expect((await noToken.request("GET", "/openapi/json", { token: null })).status).toBe(503);
  });
});
