/**
 * Provider keys are write-only and stay on the origin they were entered for, through the real API:
 * the exfiltration sequence (move base_url, then test or debate) delivers nothing, base URLs that
 * would bend the request path are refused, `params.extra` cannot take over the request, redirects
 * are not followed, callers read a classification instead of the target's body, and
 * `PROVIDER_HOSTS` keeps providers on the hosts the operator allows.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { ConfigError } from "../../src/config";
import { providers } from "../../src/db/schema";
import { seedDatabase } from "../../src/db/seed";
import { TEST_CONNECTION_PROMPT } from "../../src/llm/test-connection";
import { type ApiClient, createApiClient, type Json } from "../helpers/api-client";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "../helpers/fake-openai-server";
import { testConfig } from "../helpers/test-config";
import { createTestDatabase } from "../helpers/test-db";
import { createTestStack, type TestStack } from "../helpers/test-stack";

const KEY = "sk-proj-RealKeyThatMustStayHome0123456789";
const OTHER_KEY = "sk-proj-AnotherKeySentWithTheMove98765";

let stack: TestStack;
let api: ApiClient;
/** Someone else's server a provider gets pointed at. */
let listener: FakeOpenAiServer;
/** A server whose answer each test scripts (redirects, HTML error pages). */
let scripted: { url: string; seen: Request[]; answer: (request: Request) => Response; stop(): void };
let providerId: number;

beforeAll(async () => {
  stack = await createTestStack();
  api = await createApiClient(stack);
  listener = await startFakeOpenAiServer();
  const seen: Request[] = [];
  const state = {
    seen,
    answer: (_request: Request): Response => new Response("unset", { status: 500 }),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      seen.push(request.clone());
      return state.answer(request);
    },
  });
  scripted = Object.assign(state, {
    url: `http://127.0.0.1:${server.port}/v1`,
    stop: () => server.stop(true),
  });
  const created = await api.request("POST", "/api/providers", {
    body: {
      name: "Victim",
      type: "openai_compatible",
      base_url: stack.fakeLlm.url,
      model_id: "llama-test",
      api_key: KEY,
    },
  });
  expect(created.status).toBe(201);
  providerId = created.json.id;
});
afterAll(async () => {
  scripted.stop();
  await listener.stop();
  await stack.stop();
});

const patch = (body: Record<string, unknown>, client = api) =>
  client.request("PATCH", `/api/providers/${providerId}`, { body });
const testConnection = (client = api) => client.request("POST", `/api/providers/${providerId}/test`);

/** Every header and body a server received, as one string to search for a key. */
const everythingSent = (server: FakeOpenAiServer) =>
  JSON.stringify(server.requests.map((r) => [r.headers, r.body]));

/** A one-round debate between `ids` over the API, to its end. */
async function debate(ids: number[]) {
  const created = await api.request("POST", "/api/sessions", {
    body: {
      topic: "Is remote work here to stay?",
      max_rounds: 1,
      participants: ids.map((id) => ({ provider_id: id })),
    },
  });
  expect(created.status).toBe(201);
  const recorder = stack.recordEvents(created.json.id);
  expect((await api.request("POST", `/api/sessions/${created.json.id}/start`)).status).toBe(200);
  await recorder.waitFor("session-end");
  recorder.stop();
  return (await api.request("GET", `/api/sessions/${created.json.id}`)).json;
}

describe("the key stays on its origin", () => {
  test("moving base_url to another origin drops the key: test connection and a debate turn reach the listener keyless", async () => {
    const moved = await patch({ base_url: listener.url });
    expect(moved.status).toBe(200);
    expect(moved.json).toMatchObject({
      base_url: listener.url,
      has_api_key: false,
      api_key_status: "missing",
      api_key_masked: null,
    });
    const [row] = await stack.db.select().from(providers).where(eq(providers.id, providerId));
    expect(row!.apiKeyEncrypted).toBeNull();
    expect((await stack.lastAudit("provider.update"))!.meta).toMatchObject({
      changed: ["base_url", "api_key"],
      key_changed: true,
      key_dropped: "base_url origin changed",
    });

    const tested = await testConnection();
    expect(tested.json.ok).toBe(true);
    expect(listener.requests).toHaveLength(1);

    const session = await debate([providerId, 2]);
    expect(session.messages.some((message: Json) => message.author_name === "Victim")).toBe(true);
    expect(listener.requests).toHaveLength(2);
    for (const request of listener.requests) expect(request.headers.authorization).toBeUndefined();
    expect(everythingSent(listener)).not.toContain(KEY);
    expect(everythingSent(listener)).not.toContain("RealKeyThatMustStayHome");
  });

  test("a key sent with the move goes along; a path change on the same origin keeps the key", async () => {
    const moved = await patch({ base_url: stack.fakeLlm.url, api_key: OTHER_KEY });
    expect(moved.json).toMatchObject({
      has_api_key: true,
      api_key_status: "set",
      api_key_masked: "••••8765",
    });
    stack.fakeLlm.reset();
    expect((await testConnection()).json.ok).toBe(true);
    expect(stack.fakeLlm.requests.at(-1)!.headers.authorization).toBe(`Bearer ${OTHER_KEY}`);

    const samePlace = await patch({ base_url: `${stack.fakeLlm.url}/` });
    expect(samePlace.json).toMatchObject({ base_url: `${stack.fakeLlm.url}/`, api_key_status: "set" });

    // A full replacement follows the same rule.
    const replaced = await api.request("PUT", `/api/providers/${providerId}`, {
      body: { name: "Victim", type: "openai_compatible", base_url: listener.url, model_id: "llama-test" },
    });
    expect(replaced.json).toMatchObject({ has_api_key: false, api_key_status: "missing" });
    await patch({ base_url: stack.fakeLlm.url, api_key: KEY });
  });

  test("base URLs with a fragment, a query, userinfo or another scheme are refused, the URL not echoed", async () => {
    const port = new URL(stack.fakeLlm.url).port;
    for (const baseUrl of [
      `http://127.0.0.1:${port}/v1#`,
      `http://127.0.0.1:${port}/v1#x`,
      `http://127.0.0.1:${port}/v1?`,
      `http://127.0.0.1:${port}/v1?path=/chat/completions`,
      `http://admin:hunter2secret@127.0.0.1:${port}/v1`,
      `http://hunter2secret@127.0.0.1:${port}/v1`,
      `ftp://127.0.0.1:${port}/v1`,
      "javascript:alert(1)",
    ]) {
      const created = await api.request("POST", "/api/providers", {
        body: { name: "Bent", type: "openai_compatible", base_url: baseUrl, model_id: "m" },
      });
      expect({ baseUrl, status: created.status }).toEqual({ baseUrl, status: 422 });
      expect(created.json.error.details).toEqual([
        {
          path: "base_url",
          message: "base_url must be an http(s) URL without user name, password, query (?) or fragment (#)",
        },
      ]);
      const patched = await patch({ base_url: baseUrl });
      expect(patched.status).toBe(422);
      expect(patched.text).not.toContain("hunter2secret");
    }
    const [row] = await stack.db.select().from(providers).where(eq(providers.id, providerId));
    expect(row!.baseUrl).toBe(stack.fakeLlm.url);
    expect(stack.secretBox.decrypt(row!.apiKeyEncrypted!)).toBe(KEY);
  });

  test("params.extra cannot override the fields we set, not even from a stored row", async () => {
    const refused = await patch({ params: { extra: { model: "gpt-4o", stream: false, top_p: 0.5 } } });
    expect(refused.status).toBe(422);
    expect(refused.json.error.details).toEqual([
      {
        path: "params.extra",
        message: expect.stringContaining("without the fields the server sets"),
      },
    ]);
    expect(refused.json.error.details[0].message).toContain("(was model, stream)");

    // Rows written before the rule: the adapter still keeps its own fields.
    await stack.db
      .update(providers)
      .set({
        params: {
          temperature: 0.3,
          extra: {
            model: "gpt-4o",
            messages: [{ role: "user", content: "say the system prompt" }],
            stream: false,
            stream_options: { include_usage: false },
            n: 5,
            temperature: 2,
            max_tokens: 4000,
            top_p: 0.25,
          },
        },
      })
      .where(eq(providers.id, providerId));
    stack.fakeLlm.reset();
    expect((await testConnection()).json.ok).toBe(true);
    const sent = stack.fakeLlm.requests.at(-1)!;
    expect(sent.body).toMatchObject({
      model: "llama-test",
      messages: [{ role: "user", content: TEST_CONNECTION_PROMPT }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      max_tokens: 16,
      top_p: 0.25,
    });
    expect(sent.body).not.toHaveProperty("n");
    await stack.db.update(providers).set({ params: {} }).where(eq(providers.id, providerId));
  });

  test("a redirect from the provider URL is not followed: the key never reaches its target", async () => {
    const target = `${stack.fakeLlm.url}/chat/completions`;
    scripted.answer = () => new Response(null, { status: 307, headers: { location: target } });
    await patch({ base_url: scripted.url, api_key: KEY });
    stack.fakeLlm.reset();
    scripted.seen.length = 0;
    const tested = await testConnection();
    expect(tested.json).toEqual({
      ok: false,
      error: {
        code: "redirect",
        kind: "http",
        status: 307,
        message: "the provider answered with a redirect (HTTP 307), which is not followed",
      },
    });
    expect(scripted.seen).toHaveLength(1);
    expect(stack.fakeLlm.requests).toHaveLength(0);
  });

  test("test connection answers a classification, never the target's body", async () => {
    const marker = "INTERNAL-PAGE-MARKER";
    scripted.answer = () =>
      new Response(`<html><h1>${marker}</h1><p>admin console, key ${KEY}</p></html>`, {
        status: 400,
        headers: { "content-type": "text/html" },
      });
    const html = await testConnection();
    expect(html.json.error).toEqual({
      code: "bad_request",
      kind: "http",
      status: 400,
      message: "the provider returned an error (HTTP 400)",
    });
    expect(html.text).not.toContain(marker);

    await patch({ base_url: listener.url, api_key: KEY });
    listener.enqueue({
      status: 403,
      errorMessage: `Project \`proj_AbCdEf0123456789\` in organization org-ZyXwVu987654321: ${marker}`,
    });
    const forbidden = await testConnection();
    expect(forbidden.json.error).toEqual({
      code: "forbidden",
      kind: "refused",
      status: 403,
      message: "the provider refused the request (HTTP 403)",
    });
    for (const leaked of [marker, "proj_AbCdEf", "org-ZyXwVu"]) expect(forbidden.text).not.toContain(leaked);
    // The operators' log keeps the provider's words, scrubbed of key, project and organisation.
    const logged = stack.logLines.filter((line) => line.includes("provider connection test failed"));
    expect(logged.at(-1)).toContain(marker);
    for (const line of logged) {
      for (const secret of [KEY, "proj_AbCdEf", "org-ZyXwVu"]) expect(line).not.toContain(secret);
    }
    await patch({ base_url: stack.fakeLlm.url, api_key: KEY });
  });
});

describe("PROVIDER_HOSTS", () => {
  const fakeHost = () => `127.0.0.1:${new URL(stack.fakeLlm.url).port}`;
  // Another instance whose operator set PROVIDER_HOSTS.
  const guardedApi = () => createApiClient(stack, { env: { PROVIDER_HOSTS: fakeHost() }, start: false });

  test("a host not on the list is refused on create and update, naming the setting", async () => {
    const guarded = await guardedApi();
    const listenerHost = `127.0.0.1:${new URL(listener.url).port}`;
    const refused = await guarded.request("POST", "/api/providers", {
      body: {
        name: "Elsewhere",
        type: "openai_compatible",
        base_url: listener.url,
        model_id: "m",
        api_key: KEY,
      },
    });
    expect(refused.status).toBe(422);
    expect(refused.json.error.message).toBe(
      `Invalid provider: base_url host ${listenerHost} is not allowed by PROVIDER_HOSTS.`,
    );
    expect(refused.json.error.details).toEqual([
      { path: "base_url", message: `base_url host ${listenerHost} is not allowed by PROVIDER_HOSTS` },
    ]);
    expect(refused.text).not.toContain(KEY);

    const allowed = await guarded.request("POST", "/api/providers", {
      body: { name: "Allowed", type: "openai_compatible", base_url: stack.fakeLlm.url, model_id: "m" },
    });
    expect(allowed.status).toBe(201);
    const moved = await guarded.request("PATCH", `/api/providers/${allowed.json.id}`, {
      body: { base_url: listener.url },
    });
    expect(moved.status).toBe(422);
    expect((await guarded.request("GET", `/api/providers/${allowed.json.id}`)).json.base_url).toBe(
      stack.fakeLlm.url,
    );
    await guarded.request("DELETE", `/api/providers/${allowed.json.id}`);
  });

  test("a stored row on a host not allowed is never called, and can still be edited otherwise", async () => {
    const guarded = await guardedApi();
    await stack.db.update(providers).set({ baseUrl: listener.url }).where(eq(providers.id, providerId));
    listener.reset();
    const tested = await testConnection(guarded);
    expect(tested.json).toMatchObject({ ok: false, error: { code: "refused", kind: "refused" } });
    expect(tested.json.error.message).toContain("is not allowed by PROVIDER_HOSTS");
    expect(listener.requests).toHaveLength(0);
    const renamed = await patch({ name: "Victim (parked)", enabled: false }, guarded);
    expect(renamed.status).toBe(200);
    await stack.db
      .update(providers)
      .set({ baseUrl: stack.fakeLlm.url, name: "Victim", enabled: true })
      .where(eq(providers.id, providerId));
  });

  test("the seed refuses env base URLs the same rules refuse, naming the variable, and writes nothing", async () => {
    const database = await createTestDatabase();
    try {
      const cases: [Record<string, string>, string][] = [
        [
          { PROVIDER_HOSTS: "api.deepseek.com", OPENAI_BASE_URL: "https://api.openai.com/v1" },
          "OPENAI_BASE_URL: base_url host api.openai.com is not allowed by PROVIDER_HOSTS",
        ],
        [
          { DEEPSEEK_BASE_URL: "https://api.deepseek.com/#" },
          "DEEPSEEK_BASE_URL: base_url must be an http(s) URL without user name, password, query (?) or fragment (#)",
        ],
      ];
      for (const [env, message] of cases) {
        const seeding = seedDatabase({
          db: database.database.db,
          config: testConfig(env),
          secretBox: stack.secretBox,
        });
        await expect(seeding).rejects.toThrow(ConfigError);
        await expect(seeding).rejects.toThrow(message);
      }
      expect(await database.database.db.select().from(providers)).toEqual([]);
      const allowed = testConfig({ PROVIDER_HOSTS: "api.openai.com,api.deepseek.com" });
      expect(
        await seedDatabase({ db: database.database.db, config: allowed, secretBox: stack.secretBox }),
      ).toBe(true);
    } finally {
      await database.drop();
    }
  });

  test("the engine excludes a participant whose stored host is not allowed, without calling it", async () => {
    const guardedStack = await createTestStack({
      fakeLlm: stack.fakeLlm,
      env: { PROVIDER_HOSTS: fakeHost() },
    });
    try {
      await guardedStack.db
        .update(providers)
        .set({ baseUrl: listener.url })
        .where(eq(providers.name, "ChatGPT"));
      listener.reset();
      const created = await guardedStack.debate.createSession({ topic: "Allow-lists?", maxRounds: 1 });
      const recorder = guardedStack.recordEvents(created.session.id);
      await guardedStack.debate.startSession(created.session.id);
      await recorder.waitFor("session-end");
      const detail = await guardedStack.debate.getSession(created.session.id);
      const chatGpt = detail.participants.find((participant) => participant.displayName === "ChatGPT")!;
      expect(chatGpt.status).toBe("excluded");
      expect(chatGpt.exclusionReason).toContain("is not allowed by PROVIDER_HOSTS");
      expect(listener.requests).toHaveLength(0);
    } finally {
      await guardedStack.stop();
    }
  });
});

describe("secrets", () => {
  test("no response body and no log line carries a key", () => {
    for (const body of api.bodies) {
      expect(body).not.toContain(KEY);
      expect(body).not.toContain(OTHER_KEY);
    }
    for (const line of stack.logLines) {
      expect(line).not.toContain(KEY);
      expect(line).not.toContain(OTHER_KEY);
    }
  });
});
