import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { auditLogs, providers, settings } from "../../src/db/schema";
import { type ApiClient, createApiClient } from "../helpers/api-client";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let api: ApiClient;

/** Plaintext keys sent in this file: none may come back in any response or log line. */
const SECRET_KEYS = {
  created: "sk-api-created-secret-0123456789abcdef",
  rotated: "sk-api-rotated-secret-fedcba9876543210",
  tooLong: `sk-overlong-marker-${"x".repeat(600)}`,
  wrongTyped: 918273645546372,
};

beforeAll(async () => {
  stack = await createTestStack({ startEngine: false });
  api = await createApiClient(stack);
});
afterAll(async () => {
  await stack.stop();
});

const providerBody = (overrides: Record<string, unknown> = {}) => ({
  name: "Local Llama",
  type: "openai_compatible",
  base_url: stack.fakeLlm.url,
  model_id: "llama-test",
  params: {
    temperature: 0.5,
    max_tokens: 300,
    price_input_per_1m: 0.1,
    price_output_per_1m: 0.2,
    extra: { top_p: 0.9 },
  },
  ...overrides,
});

describe("providers", () => {
  let id: number;

  test("the seeded providers are listed in order, keys only masked", async () => {
    const answer = await api.request("GET", "/api/providers");
    expect(answer.status).toBe(200);
    expect(answer.json.map((provider: { name: string }) => provider.name)).toEqual(["ChatGPT", "DeepSeek"]);
    const [chatGpt] = answer.json;
    expect(chatGpt).toMatchObject({ type: "openai", has_api_key: true, enabled: true, order_index: 0 });
    expect(chatGpt.api_key_masked).toBe(`••••${stack.config.providers.openai.apiKey.slice(-4)}`);
    expect(chatGpt).not.toHaveProperty("api_key");
    expect(chatGpt).not.toHaveProperty("api_key_encrypted");
    expect(answer.text).not.toContain(stack.config.providers.openai.apiKey);
  });

  test("create stores the key encrypted, answers it masked and audits without it", async () => {
    const answer = await api.request("POST", "/api/providers", {
      body: providerBody({ api_key: SECRET_KEYS.created }),
    });
    expect(answer.status).toBe(201);
    id = answer.json.id;
    expect(answer.json).toMatchObject({
      name: "Local Llama",
      type: "openai_compatible",
      model_id: "llama-test",
      enabled: true,
      order_index: 2,
      has_api_key: true,
      api_key_masked: "••••cdef",
      default_personality_id: null,
      params: { temperature: 0.5, max_tokens: 300, extra: { top_p: 0.9 } },
    });
    const [row] = await stack.db.select().from(providers).where(eq(providers.id, id));
    expect(row!.apiKeyEncrypted).not.toContain(SECRET_KEYS.created);
    expect(stack.secretBox.decrypt(row!.apiKeyEncrypted!)).toBe(SECRET_KEYS.created);
    const audit = await stack.lastAudit("provider.create");
    expect(audit).toMatchObject({ actor: "api", target: `provider:${id}` });
    expect(audit!.meta).toMatchObject({
      key_changed: true,
      values: { name: "Local Llama", model_id: "llama-test" },
    });
    expect(JSON.stringify(audit!.meta)).not.toContain(SECRET_KEYS.created);
    expect((await api.request("GET", `/api/providers/${id}`)).json.api_key_masked).toBe("••••cdef");
  });

  test("PATCH without api_key keeps the key; a new key replaces it; an empty one removes it", async () => {
    const renamed = await api.request("PATCH", `/api/providers/${id}`, {
      body: { name: "Local Llama 2", params: { temperature: 1.1 } },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({
      name: "Local Llama 2",
      has_api_key: true,
      api_key_masked: "••••cdef",
    });
    expect(renamed.json.params).toEqual({ temperature: 1.1 });
    const renameAudit = await stack.lastAudit("provider.update");
    expect(renameAudit!.meta).toMatchObject({
      changed: ["name", "params"],
      values: { name: "Local Llama 2" },
    });
    expect(renameAudit!.meta).not.toHaveProperty("key_changed");

    const rotated = await api.request("PATCH", `/api/providers/${id}`, {
      body: { api_key: SECRET_KEYS.rotated },
    });
    expect(rotated.json).toMatchObject({ has_api_key: true, api_key_masked: "••••3210" });
    const rotateAudit = await stack.lastAudit("provider.update");
    expect(rotateAudit!.meta).toMatchObject({ changed: ["api_key"], key_changed: true });
    expect(JSON.stringify(rotateAudit!.meta)).not.toContain(SECRET_KEYS.rotated);

    const cleared = await api.request("PATCH", `/api/providers/${id}`, { body: { api_key: "" } });
    expect(cleared.json).toMatchObject({ has_api_key: false, api_key_masked: null });
    const [row] = await stack.db.select().from(providers).where(eq(providers.id, id));
    expect(row!.apiKeyEncrypted).toBeNull();
  });

  test("PUT needs the required fields and keeps omitted optional ones, the key included", async () => {
    await api.request("PATCH", `/api/providers/${id}`, { body: { api_key: SECRET_KEYS.created } });
    const missing = await api.request("PUT", `/api/providers/${id}`, { body: { name: "Only a name" } });
    expect(missing.status).toBe(422);
    expect(missing.json.error.details.map((issue: { path: string }) => issue.path).sort()).toEqual([
      "base_url",
      "model_id",
      "type",
    ]);
    const replaced = await api.request("PUT", `/api/providers/${id}`, {
      body: {
        name: "Local Llama",
        type: "openai_compatible",
        base_url: stack.fakeLlm.url,
        model_id: "llama-2",
      },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({
      model_id: "llama-2",
      has_api_key: true,
      api_key_masked: "••••cdef",
    });
    expect(replaced.json.params).toEqual({ temperature: 1.1 });
  });

  test("invalid fields answer 422 with one issue per field", async () => {
    const answer = await api.request("POST", "/api/providers", {
      body: {
        name: "  ",
        type: "anthropic",
        base_url: "ftp://example.com",
        model_id: "",
        params: { temperature: -1, max_tokens: 1.5, price_input_per_1m: "cheap", extra: [1, 2], colour: 1 },
        enabled: "yes",
      },
    });
    expect(answer.status).toBe(422);
    expect(answer.json.error.code).toBe("validation_failed");
    const paths = answer.json.error.details.map((issue: { path: string }) => issue.path).sort();
    expect(paths).toEqual([
      "base_url",
      "enabled",
      "model_id",
      "name",
      "params.colour",
      "params.extra",
      "params.max_tokens",
      "params.price_input_per_1m",
      "params.temperature",
      "type",
    ]);
    const noUrl = await api.request("POST", "/api/providers", {
      body: providerBody({ name: "x", base_url: "not a url" }),
    });
    expect(noUrl.status).toBe(422);
    const badPersona = await api.request("POST", "/api/providers", {
      body: providerBody({ name: "y", default_personality_id: 999999 }),
    });
    expect(badPersona.status).toBe(422);
    expect(badPersona.json.error.details[0].path).toBe("default_personality_id");
  });

  test("a wrong-typed or over-long api_key is refused without echoing it", async () => {
    const wrongType = await api.request("POST", "/api/providers", {
      body: providerBody({ name: "Wrong key type", api_key: SECRET_KEYS.wrongTyped }),
    });
    expect(wrongType.status).toBe(422);
    expect(wrongType.json.error.details).toEqual([
      { path: "api_key", message: expect.stringContaining("api_key must be") },
    ]);
    expect(wrongType.text).not.toContain(String(SECRET_KEYS.wrongTyped));

    const tooLong = await api.request("PATCH", `/api/providers/${id}`, {
      body: { api_key: SECRET_KEYS.tooLong },
    });
    expect(tooLong.status).toBe(422);
    expect(tooLong.json.error.details).toEqual([
      { path: "api_key", message: "api_key must be at most length 500" },
    ]);
    expect(tooLong.text).not.toContain("sk-overlong-marker");

    // Alongside other invalid fields, and misspelt: still never echoed.
    const mixed = await api.request("POST", "/api/providers", {
      body: providerBody({ type: 7, api_key: [SECRET_KEYS.created], apikey: SECRET_KEYS.rotated }),
    });
    expect(mixed.status).toBe(422);
    expect(mixed.text).not.toContain(SECRET_KEYS.created);
    expect(mixed.text).not.toContain(SECRET_KEYS.rotated);
  });

  test("a duplicate name answers 409", async () => {
    const answer = await api.request("POST", "/api/providers", { body: providerBody({ name: "ChatGPT" }) });
    expect(answer.status).toBe(409);
    expect(answer.json.error.code).toBe("name_taken");
    const rename = await api.request("PATCH", `/api/providers/${id}`, { body: { name: "DeepSeek" } });
    expect(rename.status).toBe(409);
  });

  test("test connection reports success, or the provider's error without the key", async () => {
    stack.fakeLlm.reset();
    const ok = await api.request("POST", `/api/providers/${id}/test`);
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ ok: true, latency_ms: expect.any(Number), sample: expect.any(String) });
    expect(stack.fakeLlm.requests.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET_KEYS.created}`);

    stack.fakeLlm.enqueue({
      status: 401,
      errorMessage: `Incorrect API key provided: ${SECRET_KEYS.created}`,
    });
    const refused = await api.request("POST", `/api/providers/${id}/test`);
    expect(refused.status).toBe(200);
    expect(refused.json).toMatchObject({ ok: false, error: { code: "auth", status: 401 } });
    expect(refused.text).not.toContain(SECRET_KEYS.created);

    expect((await api.request("POST", "/api/providers/999999/test")).status).toBe(404);
  });

  test("reorder sets the speaking order", async () => {
    const before = (await api.request("GET", "/api/providers")).json.map(
      (provider: { id: number }) => provider.id,
    );
    const reversed = [...before].reverse();
    const answer = await api.request("POST", "/api/providers/reorder", { body: { ids: reversed } });
    expect(answer.status).toBe(200);
    expect(answer.json.map((provider: { id: number }) => provider.id)).toEqual(reversed);
    expect((await stack.lastAudit("provider.reorder"))!.meta).toEqual({ order: reversed });
    expect((await api.request("POST", "/api/providers/reorder", { body: { ids: [999999] } })).status).toBe(
      404,
    );
    await api.request("POST", "/api/providers/reorder", { body: { ids: before } });
  });

  test("delete removes the provider and audits it", async () => {
    const answer = await api.request("DELETE", `/api/providers/${id}`);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ deleted: true, id });
    expect((await api.request("GET", `/api/providers/${id}`)).status).toBe(404);
    expect((await api.request("DELETE", `/api/providers/${id}`)).status).toBe(404);
    expect(await stack.lastAudit("provider.delete")).toMatchObject({
      actor: "api",
      meta: { name: "Local Llama" },
    });
  });
});

describe("personalities", () => {
  test("create, read, update, replace, delete — each write audited", async () => {
    const created = await api.request("POST", "/api/personalities", {
      body: {
        title: "Contrarian",
        instructions: "Disagree with the last speaker, politely.",
        style: "Short.",
      },
    });
    expect(created.status).toBe(201);
    const id = created.json.id;
    expect(created.json).toMatchObject({ title: "Contrarian", style: "Short." });
    expect(await stack.lastAudit("personality.create")).toMatchObject({
      actor: "api",
      target: `personality:${id}`,
    });

    const list = await api.request("GET", "/api/personalities");
    expect(list.json.map((item: { title: string }) => item.title)).toContain("Contrarian");
    expect((await api.request("GET", `/api/personalities/${id}`)).json.title).toBe("Contrarian");

    const patched = await api.request("PATCH", `/api/personalities/${id}`, {
      body: { style: "Very short." },
    });
    expect(patched.json).toMatchObject({ title: "Contrarian", style: "Very short." });
    expect((await stack.lastAudit("personality.update"))!.meta).toMatchObject({ changed: ["style"] });

    const replaced = await api.request("PUT", `/api/personalities/${id}`, {
      body: { title: "Devil's advocate", instructions: "Argue the other side." },
    });
    expect(replaced.json).toMatchObject({
      title: "Devil's advocate",
      instructions: "Argue the other side.",
      style: "Very short.",
    });
    expect((await api.request("PUT", `/api/personalities/${id}`, { body: { title: "x" } })).status).toBe(422);

    const duplicate = await api.request("POST", "/api/personalities", {
      body: { title: "Skeptic", instructions: "again" },
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json.error.code).toBe("title_taken");

    const invalid = await api.request("POST", "/api/personalities", {
      body: { title: "t", instructions: "" },
    });
    expect(invalid.status).toBe(422);
    expect(invalid.json.error.details[0].path).toBe("instructions");

    expect((await api.request("DELETE", `/api/personalities/${id}`)).json).toEqual({ deleted: true, id });
    expect((await api.request("GET", `/api/personalities/${id}`)).status).toBe(404);
    expect((await api.request("PATCH", `/api/personalities/${id}`, { body: { style: "" } })).status).toBe(
      404,
    );
    expect(await stack.lastAudit("personality.delete")).toMatchObject({
      actor: "api",
      meta: { title: "Devil's advocate" },
    });
  });
});

describe("settings", () => {
  test("GET answers every setting by its env name", async () => {
    const answer = await api.request("GET", "/api/settings");
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      MAX_ROUNDS: 5,
      TURN_TIMEOUT_SEC: 60,
      CONTEXT_TOKEN_LIMIT: 6000,
      SESSION_TIMEOUT_SEC: 1800,
      SESSION_TOKEN_LIMIT: 200000,
      SESSION_COST_LIMIT_USD: "1",
      PAYMENT_URL: "https://pay.example.com/xyz",
      ADMIN_IDLE_TIMEOUT_MIN: 120,
      USER_DEBATES_PER_DAY: 20,
      USER_COST_PER_DAY_USD: "0.5",
      BOT_COST_PER_DAY_USD: "20",
      ACCESS_MODE: "open",
      GROUP_CHATS: "on",
      MODERATOR_PROVIDER_ID: "",
    });
  });

  test("PUT changes one or several keys, stored and audited with actor api", async () => {
    const answer = await api.request("PUT", "/api/settings", {
      body: { MAX_ROUNDS: 3, PAYMENT_URL: "https://pay.example.com/new", SESSION_COST_LIMIT_USD: "2.5" },
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      MAX_ROUNDS: 3,
      PAYMENT_URL: "https://pay.example.com/new",
      SESSION_COST_LIMIT_USD: "2.5",
    });
    const [row] = await stack.db.select().from(settings).where(eq(settings.key, "MAX_ROUNDS"));
    expect(row!.value).toBe("3");
    const audit = await stack.lastAudit("settings.update");
    expect(audit).toMatchObject({ actor: "api", meta: { changes: { MAX_ROUNDS: "3" } } });
    expect(
      (await api.request("PUT", "/api/settings", { body: { TURN_TIMEOUT_SEC: "90" } })).json.TURN_TIMEOUT_SEC,
    ).toBe(90);
  });

  test("a cost limit sent as a JSON number in exponent form is accepted like its decimal spelling", async () => {
    // Raw JSON text: JSON.stringify would spell 1e-7 the same way, but say it explicitly.
    const answer = await api.request("PUT", "/api/settings", { body: '{"SESSION_COST_LIMIT_USD": 1e-7}' });
    expect(answer.status).toBe(200);
    expect(answer.json.SESSION_COST_LIMIT_USD).toBe("0.0000001");
    // Below the 8 places money is kept to, it would turn into 0 (no limit): refused instead.
    for (const key of ["SESSION_COST_LIMIT_USD", "USER_COST_PER_DAY_USD", "BOT_COST_PER_DAY_USD"]) {
      const tiny = await api.request("PUT", "/api/settings", { body: `{"${key}": 1e-9}` });
      expect(tiny.status, key).toBe(422);
      expect(tiny.json.error.details[0].message).toContain("at least 0.00000001");
    }
    await api.request("PUT", "/api/settings", { body: { SESSION_COST_LIMIT_USD: "1.00" } });
  });

  test("each key is validated; one bad key writes nothing", async () => {
    const answer = await api.request("PUT", "/api/settings", {
      body: { MAX_ROUNDS: 0, PAYMENT_URL: "http://insecure.example.com", CONTEXT_TOKEN_LIMIT: 8000 },
    });
    expect(answer.status).toBe(422);
    expect(answer.json.error.code).toBe("settings_invalid");
    expect(answer.json.error.details.map((issue: { path: string }) => issue.path).sort()).toEqual([
      "MAX_ROUNDS",
      "PAYMENT_URL",
    ]);
    expect(
      answer.json.error.details.find((issue: { path: string }) => issue.path === "PAYMENT_URL").message,
    ).toContain("https");
    expect((await api.request("GET", "/api/settings")).json).toMatchObject({
      MAX_ROUNDS: 3,
      CONTEXT_TOKEN_LIMIT: 6000,
    });

    for (const body of [
      { MAX_ROUNDS: 51 },
      { MAX_ROUNDS: 2.5 },
      { TURN_TIMEOUT_SEC: "soon" },
      { SESSION_COST_LIMIT_USD: -1 },
    ]) {
      expect((await api.request("PUT", "/api/settings", { body })).status).toBe(422);
    }
    const unknown = await api.request("PUT", "/api/settings", {
      body: { API_TOKEN: "sk-settings-secret-value" },
    });
    expect(unknown.status).toBe(422);
    expect(unknown.json.error.details[0].path).toBe("API_TOKEN");
    expect(unknown.text).not.toContain("sk-settings-secret-value");
    expect((await api.request("PUT", "/api/settings", { body: { MAX_ROUNDS: null } })).status).toBe(422);
  });
});

describe("secrets", () => {
  test("no response body and no log line carries a plaintext API key", async () => {
    const secrets = [
      SECRET_KEYS.created,
      SECRET_KEYS.rotated,
      "sk-overlong-marker",
      String(SECRET_KEYS.wrongTyped),
      stack.config.providers.openai.apiKey,
      stack.config.providers.deepseek.apiKey,
    ];
    expect(api.bodies.length).toBeGreaterThan(30);
    for (const body of api.bodies) for (const secret of secrets) expect(body).not.toContain(secret);
    for (const line of stack.logLines) for (const secret of secrets) expect(line).not.toContain(secret);
    const rows = await stack.db
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.actor, "api")));
    for (const row of rows)
      for (const secret of secrets) expect(JSON.stringify(row.meta)).not.toContain(secret);
  });
});
