/**
 * The OpenAPI document is fit for client generators: shared schemas are components referenced by
 * `$ref`, formats and bounds say what the server enforces, every body and main answer has an example
 * that the server would accept, each setting has its own rule, and Redocly's recommended ruleset
 * finds no error.
 */
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRuntimeSetting, type RuntimeSettingKey, runtimeSettingKeys } from "../../src/config";
import { normalizeTopic } from "../../src/debate/debate-service";
import { apiComponents } from "../../src/http/api/api-schemas";
import { healthComponent } from "../../src/http/health";
import { validateSettings } from "../../src/settings/settings-service";
import { createApiClient, type Json } from "../helpers/api-client";
import { createTestStack, type TestStack } from "../helpers/test-stack";

const repoRoot = join(import.meta.dir, "../..");
let stack: TestStack;
let document: Json;
let conversionWarnings: unknown[][];

beforeAll(async () => {
  stack = await createTestStack({ startEngine: false });
  // The app's own doors: health, API and OpenAPI as served.
  const api = await createApiClient(stack);
  // @elysiajs/openapi only logs a schema it cannot convert (and leaves it out): catch that here.
  const warn = spyOn(console, "warn");
  try {
    document = (await api.request("GET", "/openapi/json", { token: null })).json;
    conversionWarnings = warn.mock.calls;
  } finally {
    warn.mockRestore();
  }
});
afterAll(async () => {
  await stack?.stop();
});

const schemas = () => document.components.schemas as Record<string, Json>;
const resolve = (schema: Json): Json =>
  schema?.$ref ? schemas()[schema.$ref.replace("#/components/schemas/", "")] : schema;
const operations = (): [string, Json][] =>
  Object.entries(document.paths as Record<string, Record<string, Json>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => [`${method} ${path}`, operation] as [string, Json]),
  );
const jsonSchemaOf = (content: Json) => content?.["application/json"]?.schema;

describe("OpenAPI document", () => {
  test("converts every schema (nothing logged, nothing left out)", () => {
    expect(conversionWarnings).toEqual([]);
    expect(operations().length).toBeGreaterThanOrEqual(22);
  });

  test("shares its schemas as named components, referenced by $ref", () => {
    expect(Object.keys(schemas()).sort()).toEqual(
      [
        "ConnectionTest",
        "Deleted",
        "Error",
        "Health",
        "Message",
        "NewSession",
        "Participant",
        "Personality",
        "PersonalityInput",
        "PersonalityPatch",
        "Provider",
        "ProviderInput",
        "ProviderOrder",
        "ProviderPatch",
        "Session",
        "SessionDetail",
        "SessionList",
        "SessionTotals",
        "Settings",
        "SettingsUpdate",
        "User",
        "UserList",
        "UserPatch",
      ].sort(),
    );
    // Request and response schemas are references: no object schema is written out in the paths.
    expect(JSON.stringify(document.paths)).not.toContain('"properties"');
    for (const [name, operation] of operations()) {
      const body = operation.requestBody && jsonSchemaOf(operation.requestBody.content);
      if (operation.requestBody) expect(body.$ref, name).toMatch(/^#\/components\/schemas\//);
      for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
        const schema = jsonSchemaOf(response.content);
        if (!schema) continue;
        const target = schema.$ref ?? schema.items?.$ref;
        expect(target, `${name} ${status}`).toMatch(/^#\/components\/schemas\//);
        // /health answers its own body when unavailable; every API failure is an Error.
        if (Number(status) >= 400 && name !== "get /health")
          expect(target).toBe("#/components/schemas/Error");
        expect(response.description, `${name} ${status}`).not.toMatch(/^Response for status/);
      }
    }
    const detail = schemas().SessionDetail;
    expect(detail.properties.participants.items).toEqual({ $ref: "#/components/schemas/Participant" });
    expect(detail.properties.messages.items).toEqual({ $ref: "#/components/schemas/Message" });
    expect(detail.properties.totals).toEqual({ $ref: "#/components/schemas/SessionTotals" });
    expect(schemas().SessionList.properties.items.items).toEqual({ $ref: "#/components/schemas/Session" });
    // Every reference resolves.
    for (const match of JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      expect(schemas()[match[1]!], match[1]).toBeDefined();
    }
  });

  test("states formats and bounds the server enforces", () => {
    const { SessionDetail, Message, Provider, ProviderInput, Personality, NewSession } = schemas();
    expect(SessionDetail.properties.id.format).toBe("uuid");
    expect(SessionDetail.properties.created_at.format).toBe("date-time");
    expect(SessionDetail.properties.finished_at.anyOf).toContainEqual({
      type: "string",
      format: "date-time",
    });
    expect(Message.properties.created_at.format).toBe("date-time");
    expect(Provider.properties.base_url.format).toBe("uri");
    expect(Provider.properties.updated_at.format).toBe("date-time");
    expect(ProviderInput.properties.base_url).toMatchObject({ format: "uri", maxLength: 2000 });
    expect(Personality.properties.created_at.format).toBe("date-time");
    expect(NewSession.properties.topic).toMatchObject({ type: "string", minLength: 1, maxLength: 1000 });
    expect(NewSession.properties.max_rounds).toMatchObject({ type: "integer", minimum: 1, maximum: 50 });
    expect(NewSession.properties.participants.maxItems).toBe(20);
    expect(NewSession.additionalProperties).toBe(false);
    // The documented topic bounds are the engine's.
    expect(() => normalizeTopic("x".repeat(NewSession.properties.topic.maxLength))).not.toThrow();
    expect(() => normalizeTopic("x".repeat(NewSession.properties.topic.maxLength + 1))).toThrow();

    const parameters = (key: string) =>
      Object.fromEntries(
        (Object.fromEntries(operations())[key].parameters as Json[]).map((parameter) => [
          parameter.name,
          parameter,
        ]),
      );
    const list = parameters("get /api/sessions");
    expect(list.limit.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 100, default: 20 });
    expect(list.offset.schema).toMatchObject({ type: "integer", minimum: 0 });
    expect(list.status.schema.enum).toContain("running");
    expect(parameters("get /api/sessions/{id}").id.schema).toEqual({ type: "string", format: "uuid" });
    expect(parameters("get /api/providers/{id}").id).toMatchObject({ in: "path", required: true });
    expect(parameters("get /api/providers/{id}").id.schema.type).toBe("integer");
  });

  test("each setting is its own property with the type and range of its rule in src/config.ts", () => {
    const { Settings, SettingsUpdate } = schemas();
    expect(Object.keys(Settings.properties).sort()).toEqual([...runtimeSettingKeys].sort());
    expect(Object.keys(SettingsUpdate.properties).sort()).toEqual([...runtimeSettingKeys].sort());
    const accepts = (key: RuntimeSettingKey, value: unknown) => {
      try {
        parseRuntimeSetting(key, value);
        return true;
      } catch {
        return false;
      }
    };
    for (const key of runtimeSettingKeys) {
      const written = SettingsUpdate.properties[key];
      const numeric =
        written.type === "integer"
          ? written
          : written.anyOf?.find((s: Json) => s.type === "number" || s.type === "integer");
      if (numeric) {
        expect(typeof numeric.minimum, key).toBe("number");
        expect(typeof numeric.maximum, key).toBe("number");
        // The bounds are the rule's: inclusive, and one step beyond is refused.
        const step = numeric.type === "integer" ? 1 : 0.01;
        expect(accepts(key, numeric.minimum), key).toBe(true);
        expect(accepts(key, numeric.maximum), key).toBe(true);
        expect(accepts(key, numeric.minimum - step), key).toBe(false);
        expect(accepts(key, numeric.maximum + step), key).toBe(false);
        if (numeric.type === "integer") expect(accepts(key, numeric.minimum + 0.5), key).toBe(false);
      } else if (written.enum) {
        // A closed list: every value listed is accepted, anything else refused.
        expect(written.type).toBe("string");
        for (const value of written.enum) expect(accepts(key, value), `${key}=${value}`).toBe(true);
        expect(accepts(key, "something-else"), key).toBe(false);
      } else {
        expect(written).toMatchObject({ type: "string", format: "uri", pattern: "^https://" });
        expect(accepts(key, "https://pay.example.com/a")).toBe(true);
        expect(accepts(key, "http://pay.example.com/a")).toBe(false);
      }
      expect(accepts(key, Settings.properties[key].default), key).toBe(true);
      expect(Settings.properties[key].description, key).toEqual(expect.any(String));
    }
  });

  test("every request body and main answer has an example the server accepts", () => {
    for (const component of [...apiComponents, healthComponent]) {
      const name = component.schema.meta.title as string;
      const documented = schemas()[name];
      expect(documented.description, name).toEqual(expect.any(String));
      expect(documented.examples?.length, name).toBeGreaterThan(0);
      for (const example of documented.examples) {
        expect(component.schema.allows(example), `${name} example ${JSON.stringify(example)}`).toBe(true);
      }
    }
    for (const example of schemas().SettingsUpdate.examples)
      expect(validateSettings(example).issues).toEqual([]);
    for (const example of schemas().NewSession.examples)
      expect(() => normalizeTopic(example.topic)).not.toThrow();
    for (const [name, operation] of operations()) {
      if (operation.requestBody) {
        expect(resolve(jsonSchemaOf(operation.requestBody.content)).examples, name).toBeDefined();
      }
    }
  });

  test("states servers and security; /health needs no token and documents both answers", () => {
    expect(document.servers.length).toBeGreaterThan(0);
    expect(document.security).toEqual([{ bearerAuth: [] }]);
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    const health = document.paths["/health"].get;
    expect(health.security).toEqual([]);
    expect(jsonSchemaOf(health.responses["200"].content).$ref).toBe("#/components/schemas/Health");
    expect(jsonSchemaOf(health.responses["503"].content).$ref).toBe("#/components/schemas/Health");
    for (const [name, operation] of operations()) {
      if (name === "get /health") continue;
      expect(operation.security, name).toEqual([{ bearerAuth: [] }]);
      expect(operation.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
    }
    const ids = operations().map(([, operation]) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("Redocly's recommended ruleset reports no error", async () => {
    const directory = mkdtempSync(join(tmpdir(), "rt-openapi-lint-"));
    try {
      const file = join(directory, "openapi.json");
      writeFileSync(file, JSON.stringify(document));
      const lint = Bun.spawn(
        [
          process.execPath,
          "--bun",
          join(repoRoot, "node_modules/@redocly/cli/bin/cli.js"),
          "lint",
          file,
          "--extends=recommended",
          "--format=json",
        ],
        {
          cwd: directory,
          env: {
            PATH: process.env.PATH ?? "",
            HOME: directory,
            REDOCLY_TELEMETRY: "off",
            REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
          },
          stdout: "pipe",
          stderr: "pipe",
        },
      );
      const [code, output] = await Promise.all([lint.exited, new Response(lint.stdout).text()]);
      const report = JSON.parse(output) as { totals: { errors: number }; problems: { severity: string }[] };
      expect(report.problems.filter((problem) => problem.severity === "error")).toEqual([]);
      expect(report.totals.errors).toBe(0);
      expect(code).toBe(0);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }, 60_000);
});
