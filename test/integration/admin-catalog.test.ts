import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { auditLogs, personalities, providers } from "../../src/db/schema";
import { createSecretBox, generateSecretKey } from "../../src/platform/secret-box";
import { createAdminTestApp } from "../helpers/admin-app";
import { ADMIN_PASSWORD, ADMIN_USERNAME, AdminClient, csrfFrom } from "../helpers/admin-client";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let browser: AdminClient;

/** Plaintext keys typed in this file: none may ever appear in a page or in the audit log. */
const KEYS = {
  created: "sk-admin-created-0123456789abcdef",
  rotated: "sk-admin-rotated-fedcba9876543210",
  rejected: "sk-admin-rejected-form-5555555555",
};

beforeAll(async () => {
  stack = await createTestStack({ startEngine: false });
  const app = await createAdminTestApp(stack);
  browser = new AdminClient((request) => app.handle(request));
  const login = await browser.login(ADMIN_USERNAME, ADMIN_PASSWORD);
  expect(login.status).toBe(303);
});
afterAll(async () => {
  await stack.stop();
});

async function providerByName(name: string) {
  const [row] = await stack.db.select().from(providers).where(eq(providers.name, name));
  return row;
}

function expectNoSecrets(text: string) {
  for (const key of [
    ...Object.values(KEYS),
    stack.config.providers.openai.apiKey,
    stack.config.providers.deepseek.apiKey,
  ]) {
    expect(text).not.toContain(key);
  }
  expect(text).not.toContain(ADMIN_PASSWORD);
}

const providerForm = (overrides: Record<string, string> = {}) => ({
  name: "Local Llama",
  type: "openai_compatible",
  base_url: stack.fakeLlm.url,
  model_id: "llama-test",
  api_key: KEYS.created,
  temperature: "0.5",
  max_tokens: "300",
  price_input_per_1m: "0.1",
  price_cached_input_per_1m: "",
  price_output_per_1m: "0,2",
  extra: '{"top_p": 0.9}',
  enabled: "1",
  default_personality_id: "",
  ...overrides,
});

describe("pages", () => {
  test("every page renders when signed in, with the layout and navigation", async () => {
    const [provider] = await stack.db.select().from(providers).limit(1);
    const [persona] = await stack.db.select().from(personalities).limit(1);
    for (const path of [
      "/admin",
      "/admin/providers",
      "/admin/providers/new",
      `/admin/providers/${provider!.id}/edit`,
      "/admin/personalities",
      "/admin/personalities/new",
      `/admin/personalities/${persona!.id}/edit`,
      "/admin/sessions",
      "/admin/sessions?status=running&user=nobody&page=3",
      "/admin/settings",
      "/admin/audit",
      "/admin/audit?page=2",
    ]) {
      const page = await browser.get(path);
      expect({ path, status: page.status }).toEqual({ path, status: 200 });
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.text.startsWith("<!doctype html><html")).toBe(true);
      expect(page.text).toContain('<nav class="nav" aria-label="Main">');
      expect(page.text).toContain('<meta name="viewport"');
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(page.headers.get("cache-control")).toBe("no-store");
      expectNoSecrets(page.text);
    }
  });

  test("unknown addresses and ids answer 404 pages", async () => {
    for (const path of [
      "/admin/nothing-here",
      "/admin/providers/999999/edit",
      "/admin/providers/abc/edit",
      "/admin/personalities/999999/edit",
      "/admin/sessions/00000000-0000-0000-0000-000000000000",
      "/admin/sessions/not-a-uuid",
    ]) {
      const page = await browser.get(path);
      expect({ path, status: page.status }).toEqual({ path, status: 404 });
      expect(page.text).toContain("Not found");
    }
  });

  test("the stylesheet and script are our own, versioned and cacheable", async () => {
    const home = await browser.get("/admin");
    const css = /href="(\/admin\/assets\/admin\.css\?v=[0-9a-f]+)"/.exec(home.text)?.[1];
    const js = /src="(\/admin\/assets\/admin\.js\?v=[0-9a-f]+)"/.exec(home.text)?.[1];
    expect(css).toBeDefined();
    expect(js).toBeDefined();
    const style = await browser.get(css!);
    expect(style.status).toBe(200);
    expect(style.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(style.headers.get("cache-control")).toContain("immutable");
    expect(style.text).toContain("@media (max-width: 640px)");
    expect(style.text).not.toMatch(/@import|https?:\/\//);
    const script = await browser.get(js!);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(script.text).toContain("EventSource");
    expect(home.text).not.toMatch(/<script>|https?:\/\/(?!www\.w3\.org)/);
  });
});

describe("providers", () => {
  test("the list shows providers in order with model, masked key and state — never a key", async () => {
    const page = await browser.get("/admin/providers");
    const chatGpt = page.text.indexOf("<strong>ChatGPT</strong>");
    const deepSeek = page.text.indexOf("<strong>DeepSeek</strong>");
    expect(chatGpt).toBeGreaterThan(0);
    expect(deepSeek).toBeGreaterThan(chatGpt);
    expect(page.text).toContain("gpt-test");
    expect(page.text).toContain(`••••${stack.config.providers.openai.apiKey.slice(-4)}`);
    expect(page.text).toContain("badge-on");
    expectNoSecrets(page.text);
  });

  test("the key column says set, missing or unreadable — and what to do about an unreadable key", async () => {
    const chatGpt = (await providerByName("ChatGPT"))!;
    const deepSeek = (await providerByName("DeepSeek"))!;
    const otherBox = createSecretBox(generateSecretKey());
    try {
      await stack.db
        .update(providers)
        .set({ apiKeyEncrypted: otherBox.encrypt("sk-under-a-key-we-lost-0000") })
        .where(eq(providers.id, chatGpt.id));
      await stack.db.update(providers).set({ apiKeyEncrypted: null }).where(eq(providers.id, deepSeek.id));
      const page = await browser.get("/admin/providers");
      const row = (id: number) => page.text.split(`id="provider-${id}"`)[1]!.split("</tr>")[0]!;
      expect(row(chatGpt.id)).toContain("unreadable");
      expect(row(chatGpt.id)).toContain("<code>bun run rekey</code>");
      expect(row(deepSeek.id)).toContain("not set");
      expect(row(deepSeek.id)).not.toContain("unreadable");
      const form = await browser.get(`/admin/providers/${chatGpt.id}/edit`);
      expect(form.text).toContain("The stored key cannot be decrypted with SECRETS_KEY");
      expect(page.text + form.text).not.toContain("sk-under-a-key-we-lost");
    } finally {
      for (const row of [chatGpt, deepSeek]) {
        await stack.db
          .update(providers)
          .set({ apiKeyEncrypted: row.apiKeyEncrypted })
          .where(eq(providers.id, row.id));
      }
    }
    const restored = await browser.get("/admin/providers");
    expect(restored.text).not.toContain("badge badge-failed");
  });

  test("invalid input comes back with messages next to the fields, the typed key not echoed", async () => {
    await browser.get("/admin/providers/new");
    const answer = await browser.post(
      "/admin/providers",
      providerForm({
        api_key: KEYS.rejected,
        temperature: "3",
        max_tokens: "lots",
        extra: "{not json",
        base_url: "ftp://example.com",
        name: "",
      }),
    );
    expect(answer.status).toBe(422);
    expect(answer.text).toContain('id="field-max_tokens-error"');
    expect(answer.text).toMatch(/id="field-max_tokens-error">Must be a number\./);
    expect(answer.text).toMatch(/id="field-extra-error">Not valid JSON/);
    expectNoSecrets(answer.text);
    expect(answer.text).toContain("The key you typed was not saved: enter it again.");
    // What was typed (but the key) is kept.
    expect(answer.text).toContain("{not json");
    expect(await providerByName("Local Llama")).toBeUndefined();

    // The service's own schema issues land next to their fields too.
    const schema = await browser.post(
      "/admin/providers",
      providerForm({ temperature: "3", base_url: "ftp://example.com", name: " ", extra: "[1]" }),
    );
    expect(schema.status).toBe(422);
    expect(schema.text).toMatch(/id="field-extra-error">Must be a JSON object/);
    const fixedExtra = await browser.post(
      "/admin/providers",
      providerForm({ temperature: "3", base_url: "ftp://example.com", name: " " }),
    );
    expect(fixedExtra.status).toBe(422);
    expect(fixedExtra.text).toMatch(/id="field-temperature-error">[^<]*2/);
    expect(fixedExtra.text).toMatch(/id="field-base_url-error">[^<]*http\(s\) URL/);
    expect(fixedExtra.text).toMatch(/id="field-name-error">/);
    expect(fixedExtra.text).toContain('aria-invalid="true"');
    expectNoSecrets(fixedExtra.text);
  });

  test("create: stored encrypted, appended last, audited without the key", async () => {
    await browser.get("/admin/providers/new");
    const answer = await browser.post("/admin/providers", providerForm());
    expect(answer.status).toBe(303);
    expect(answer.location).toBe("/admin/providers?notice=provider-created");
    const row = await providerByName("Local Llama");
    expect(row).toMatchObject({
      type: "openai_compatible",
      modelId: "llama-test",
      enabled: true,
      orderIndex: 2,
    });
    expect(row!.params).toEqual({
      temperature: 0.5,
      max_tokens: 300,
      price_input_per_1m: 0.1,
      price_output_per_1m: 0.2,
      extra: { top_p: 0.9 },
    });
    expect(stack.secretBox.decrypt(row!.apiKeyEncrypted!)).toBe(KEYS.created);
    const audit = await stack.lastAudit("provider.create");
    expect(audit).toMatchObject({ actor: "admin:admin", target: `provider:${row!.id}` });
    expectNoSecrets(JSON.stringify(audit));
    expect(JSON.stringify(audit)).not.toContain(row!.apiKeyEncrypted!);

    const list = await browser.get(answer.location!);
    expect(list.text).toContain("Provider added.");
    expect(list.text).toContain(`••••${KEYS.created.slice(-4)}`);
    expectNoSecrets(list.text);
    const edit = await browser.get(`/admin/providers/${row!.id}/edit`);
    expect(edit.text).toContain("Leave blank to keep it.");
    expect(edit.text).toContain('name="api_key" type="password" value=""');
    expectNoSecrets(edit.text);
  });

  test("edit: a blank key keeps the stored one, a new key replaces it, the box removes it", async () => {
    const row = (await providerByName("Local Llama"))!;
    await browser.get(`/admin/providers/${row.id}/edit`);
    const keep = await browser.post(
      `/admin/providers/${row.id}`,
      providerForm({ api_key: "", model_id: "llama-2", temperature: "" }),
    );
    expect(keep.status).toBe(303);
    let stored = (await providerByName("Local Llama"))!;
    expect(stored.modelId).toBe("llama-2");
    expect(stored.params.temperature).toBeUndefined();
    expect(stack.secretBox.decrypt(stored.apiKeyEncrypted!)).toBe(KEYS.created);
    const update = await stack.lastAudit("provider.update");
    expect(update?.meta).toMatchObject({ changed: ["model_id", "params"] });

    const rotate = await browser.post(`/admin/providers/${row.id}`, providerForm({ api_key: KEYS.rotated }));
    expect(rotate.status).toBe(303);
    stored = (await providerByName("Local Llama"))!;
    expect(stack.secretBox.decrypt(stored.apiKeyEncrypted!)).toBe(KEYS.rotated);
    const rotated = await stack.lastAudit("provider.update");
    expect(rotated?.meta).toMatchObject({ key_changed: true });
    expectNoSecrets(JSON.stringify(rotated));

    const remove = await browser.post(
      `/admin/providers/${row.id}`,
      providerForm({ api_key: "", remove_api_key: "1" }),
    );
    expect(remove.status).toBe(303);
    expect((await providerByName("Local Llama"))!.apiKeyEncrypted).toBeNull();
    const page = await browser.get(`/admin/providers/${row.id}/edit`);
    expect(page.text).toContain("No key stored.");
  });

  test("saving an untouched form changes nothing; a real change is audited alone", async () => {
    const deepSeek = (await providerByName("DeepSeek"))!;
    const form = {
      name: "DeepSeek",
      type: "deepseek",
      base_url: deepSeek.baseUrl,
      model_id: deepSeek.modelId,
      api_key: "",
      temperature: "0.8",
      max_tokens: "700",
      price_input_per_1m: "0.28",
      price_cached_input_per_1m: "0.028",
      price_output_per_1m: "0.42",
      extra: '{"thinking": {"type": "disabled"}}',
      enabled: "1",
      default_personality_id: String(deepSeek.defaultPersonalityId ?? ""),
    };
    const updates = async () =>
      (
        await stack.db
          .select()
          .from(auditLogs)
          .where(eq(auditLogs.target, `provider:${deepSeek.id}`))
      ).length;
    const before = await updates();
    await browser.get(`/admin/providers/${deepSeek.id}/edit`);
    expect((await browser.post(`/admin/providers/${deepSeek.id}`, form)).status).toBe(303);
    expect(await updates()).toBe(before);
    expect(
      (await browser.post(`/admin/providers/${deepSeek.id}`, { ...form, model_id: "deepseek-next" })).status,
    ).toBe(303);
    expect((await stack.lastAudit("provider.update"))?.meta).toMatchObject({ changed: ["model_id"] });
    await browser.post(`/admin/providers/${deepSeek.id}`, form);
    expect((await providerByName("DeepSeek"))!.modelId).toBe(deepSeek.modelId);
  });

  test("a duplicate name is reported next to the name field", async () => {
    const row = (await providerByName("Local Llama"))!;
    await browser.get(`/admin/providers/${row.id}/edit`);
    const answer = await browser.post(
      `/admin/providers/${row.id}`,
      providerForm({ name: "ChatGPT", api_key: "" }),
    );
    expect(answer.status).toBe(422);
    expect(answer.text).toMatch(/id="field-name-error">A provider named/);
  });

  test("reorder up/down sets the debate order; enable/disable toggles; both audited", async () => {
    const llama = (await providerByName("Local Llama"))!;
    await browser.get("/admin/providers");
    const up = await browser.post(`/admin/providers/${llama.id}/move`, { direction: "up" });
    expect(up.location).toBe("/admin/providers?notice=provider-moved");
    const order = async () =>
      (await stack.db.select().from(providers).orderBy(providers.orderIndex)).map(
        (provider) => provider.name,
      );
    expect(await order()).toEqual(["ChatGPT", "Local Llama", "DeepSeek"]);
    await browser.post(`/admin/providers/${llama.id}/move`, { direction: "up" });
    expect(await order()).toEqual(["Local Llama", "ChatGPT", "DeepSeek"]);
    // Already first: nothing moves.
    await browser.post(`/admin/providers/${llama.id}/move`, { direction: "up" });
    expect(await order()).toEqual(["Local Llama", "ChatGPT", "DeepSeek"]);
    await browser.post(`/admin/providers/${llama.id}/move`, { direction: "down" });
    await browser.post(`/admin/providers/${llama.id}/move`, { direction: "down" });
    expect(await order()).toEqual(["ChatGPT", "DeepSeek", "Local Llama"]);
    expect((await stack.lastAudit("provider.reorder"))?.actor).toBe("admin:admin");

    const disable = await browser.post(`/admin/providers/${llama.id}/toggle`, { enabled: "0" });
    expect(disable.location).toBe("/admin/providers?notice=provider-disabled");
    expect((await providerByName("Local Llama"))!.enabled).toBe(false);
    const page = await browser.get("/admin/providers");
    expect(page.text).toContain("badge-off");
    await browser.post(`/admin/providers/${llama.id}/toggle`, { enabled: "1" });
    expect((await providerByName("Local Llama"))!.enabled).toBe(true);
  });

  test("test connection shows the latency, or the provider's error without the key", async () => {
    const chatGpt = (await providerByName("ChatGPT"))!;
    await browser.get("/admin/providers");
    stack.fakeLlm.enqueue({ text: "ok" });
    const ok = await browser.post(`/admin/providers/${chatGpt.id}/test`);
    expect(ok.status).toBe(200);
    expect(ok.text).toMatch(/ChatGPT: connected in \d+ ms \(model gpt-test\)/);
    stack.fakeLlm.enqueue({ status: 401, errorMessage: "Incorrect API key provided: sk-test-*****0000" });
    const failed = await browser.post(`/admin/providers/${chatGpt.id}/test`);
    expect(failed.status).toBe(200);
    expect(failed.text).toContain("ChatGPT: connection failed");
    // Said once: the message already names the status.
    expect(failed.text.match(/HTTP 401/g)).toHaveLength(1);
    expect(failed.text).toContain('class="notice notice-error"');
    expectNoSecrets(failed.text);
  });

  test("the page script gets the result alone (JSON); no answer is reported at the timeout, not after 20 s", async () => {
    const chatGpt = (await providerByName("ChatGPT"))!;
    const impatient = await createAdminTestApp(stack, { options: { testConnectionTimeoutMs: 300 } });
    const operator = new AdminClient((request) => impatient.handle(request));
    await operator.login(ADMIN_USERNAME, ADMIN_PASSWORD);
    await operator.get("/admin/providers");
    expect(operator.lastPage).toContain('data-script="test-connection"');
    const asScript = () =>
      operator.request(
        "POST",
        `/admin/providers/${chatGpt.id}/test`,
        new URLSearchParams({ _csrf: csrfFrom(operator.lastPage) }),
        { accept: "application/json" },
      );
    stack.fakeLlm.enqueue({ text: "ok" });
    const ok = await asScript();
    expect(ok.headers.get("content-type")).toContain("application/json");
    expect(JSON.parse(ok.text)).toEqual({
      kind: "ok",
      text: expect.stringMatching(/^ChatGPT: connected in \d+ ms \(model gpt-test\)/),
    });
    stack.fakeLlm.enqueue({ text: "late", delayMs: 3_000 });
    const started = Date.now();
    const slow = await asScript();
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(JSON.parse(slow.text)).toEqual({
      kind: "error",
      text: "ChatGPT: no answer within 0.3 s — check the base URL and that the provider is up.",
    });
  });

  test("delete removes the provider (audited); deleting again is a 404", async () => {
    const llama = (await providerByName("Local Llama"))!;
    await browser.get(`/admin/providers/${llama.id}/edit`);
    const answer = await browser.post(`/admin/providers/${llama.id}/delete`);
    expect(answer.location).toBe("/admin/providers?notice=provider-deleted");
    expect(await providerByName("Local Llama")).toBeUndefined();
    expect((await stack.lastAudit("provider.delete"))?.target).toBe(`provider:${llama.id}`);
    expect((await browser.post(`/admin/providers/${llama.id}/delete`)).status).toBe(404);
  });
});

describe("personalities", () => {
  const hostileTitle = "<img src=x onerror=alert(1)>";

  test("create with validation, shown escaped everywhere", async () => {
    await browser.get("/admin/personalities/new");
    const invalid = await browser.post("/admin/personalities", { title: "", instructions: "", style: "" });
    expect(invalid.status).toBe(422);
    expect(invalid.text).toMatch(/id="field-title-error">/);
    expect(invalid.text).toMatch(/id="field-instructions-error">/);

    const created = await browser.post("/admin/personalities", {
      title: hostileTitle,
      instructions: 'Argue with <script>alert("x")</script> & "quotes"',
      style: "Dry & short",
    });
    expect(created.status).toBe(303);
    const [row] = await stack.db.select().from(personalities).where(eq(personalities.title, hostileTitle));
    expect(row).toBeDefined();
    expect((await stack.lastAudit("personality.create"))?.target).toBe(`personality:${row!.id}`);

    const list = await browser.get("/admin/personalities");
    expect(list.text).not.toContain(hostileTitle);
    expect(list.text).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(list.text).not.toContain("<script>alert");
    const edit = await browser.get(`/admin/personalities/${row!.id}/edit`);
    expect(edit.text).not.toContain(hostileTitle);
    // The form gives the exact text back (attribute and textarea escaping round-trip).
    expect(edit.text).toContain('value="&lt;img src=x onerror=alert(1)&gt;"');
    expect(edit.text).toContain(
      "Argue with &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;",
    );
    // …and as a provider's default personality, on the provider pages.
    const providersPage = await browser.get("/admin/providers/new");
    expect(providersPage.text).not.toContain(hostileTitle);
  });

  test("edit, a duplicate title, defaults per provider, delete", async () => {
    const [row] = await stack.db.select().from(personalities).where(eq(personalities.title, hostileTitle));
    await browser.get(`/admin/personalities/${row!.id}/edit`);
    const duplicate = await browser.post(`/admin/personalities/${row!.id}`, {
      title: "Skeptic",
      instructions: "x",
      style: "",
    });
    expect(duplicate.status).toBe(422);
    expect(duplicate.text).toMatch(/id="field-title-error">A personality titled/);
    const saved = await browser.post(`/admin/personalities/${row!.id}`, {
      title: "Contrarian",
      instructions: "Disagree politely.",
      style: "",
    });
    expect(saved.location).toBe("/admin/personalities?notice=personality-saved");
    expect((await stack.lastAudit("personality.update"))?.meta).toMatchObject({
      changed: ["title", "instructions", "style"],
    });

    const chatGpt = (await providerByName("ChatGPT"))!;
    const deepSeek = (await providerByName("DeepSeek"))!;
    await browser.get("/admin/personalities");
    const defaults = await browser.post("/admin/personalities/defaults", {
      [`provider_${chatGpt.id}`]: String(row!.id),
      [`provider_${deepSeek.id}`]: "",
    });
    expect(defaults.location).toBe("/admin/personalities?notice=defaults-saved");
    expect((await providerByName("ChatGPT"))!.defaultPersonalityId).toBe(row!.id);
    expect((await providerByName("DeepSeek"))!.defaultPersonalityId).toBeNull();
    const page = await browser.get("/admin/personalities");
    expect(page.text).toMatch(/<strong>Contrarian<\/strong>[\s\S]*?<span>ChatGPT<\/span>/);
    const updates = await stack.db
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.action, "provider.update"), eq(auditLogs.target, `provider:${chatGpt.id}`)));
    expect(updates.length).toBeGreaterThan(0);

    const removed = await browser.post(`/admin/personalities/${row!.id}/delete`);
    expect(removed.location).toBe("/admin/personalities?notice=personality-deleted");
    expect((await providerByName("ChatGPT"))!.defaultPersonalityId).toBeNull();
    expect((await stack.lastAudit("personality.delete"))?.actor).toBe("admin:admin");
  });
});

describe("settings", () => {
  test("invalid values are refused with a message next to each field; nothing is saved", async () => {
    await browser.get("/admin/settings");
    const before = await stack.settings.getAll();
    const answer = await browser.post("/admin/settings", {
      MAX_ROUNDS: "0",
      TURN_TIMEOUT_SEC: "60",
      CONTEXT_TOKEN_LIMIT: "6000",
      SESSION_TIMEOUT_SEC: "1800",
      SESSION_TOKEN_LIMIT: "200000",
      SESSION_COST_LIMIT_USD: "-1",
      PAYMENT_URL: "http://insecure.example.com",
    });
    expect(answer.status).toBe(422);
    expect(answer.text).toMatch(/id="field-MAX_ROUNDS-error">MAX_ROUNDS must be an integer from 1 to 50/);
    expect(answer.text).toMatch(/id="field-SESSION_COST_LIMIT_USD-error">/);
    expect(answer.text).toMatch(/id="field-PAYMENT_URL-error">PAYMENT_URL must be an https URL/);
    expect(answer.text).not.toMatch(/id="field-TURN_TIMEOUT_SEC-error"/);
    // What was typed stays in the fields.
    expect(answer.text).toContain('value="http://insecure.example.com"');
    expect(await stack.settings.getAll()).toEqual(before);
  });

  test("valid values are saved and audited with only what changed", async () => {
    await browser.get("/admin/settings");
    const current = await stack.settings.getAll();
    const answer = await browser.post("/admin/settings", {
      ...Object.fromEntries(Object.entries(current).map(([key, value]) => [key, String(value)])),
      MAX_ROUNDS: "3",
      PAYMENT_URL: "https://pay.example.com/thanks?from=admin&x=1",
    });
    expect(answer.status).toBe(303);
    expect(answer.location).toBe("/admin/settings?notice=settings-saved");
    const saved = await stack.settings.getAll();
    expect(saved.MAX_ROUNDS).toBe(3);
    expect(saved.PAYMENT_URL).toBe("https://pay.example.com/thanks?from=admin&x=1");
    const audit = await stack.lastAudit("settings.update");
    expect(audit).toMatchObject({ actor: "admin:admin" });
    expect(Object.keys((audit!.meta as { changes: Record<string, string> }).changes).sort()).toEqual([
      "MAX_ROUNDS",
      "PAYMENT_URL",
    ]);
    const page = await browser.get(answer.location!);
    expect(page.text).toContain("Settings saved.");
    expect(page.text).toContain('value="https://pay.example.com/thanks?from=admin&amp;x=1"');
    const unchanged = await browser.post("/admin/settings", {
      ...Object.fromEntries(Object.entries(saved).map(([key, value]) => [key, String(value)])),
    });
    expect(unchanged.location).toBe("/admin/settings?notice=settings-unchanged");
  });
});

describe("audit log", () => {
  test("pages through every write, newest first, without secrets", async () => {
    for (let index = 0; index < 55; index++) {
      await stack.audit.record({ actor: "api", action: "filler.write", target: `filler:${index}` });
    }
    const first = await browser.get("/admin/audit");
    expect(first.status).toBe(200);
    expect(first.text).toMatch(/Showing 1–50 of \d+/);
    expect(first.text).toContain("filler:54");
    expect(first.text).toContain('rel="next"');
    const second = await browser.get("/admin/audit?page=2");
    expect(second.text).toMatch(/Showing 51–\d+ of \d+/);
    for (const action of [
      "admin.login",
      "provider.create",
      "provider.update",
      "provider.reorder",
      "provider.delete",
      "personality.create",
      "personality.update",
      "personality.delete",
      "settings.update",
    ]) {
      expect(
        second.text.includes(`data-audit-action="${action}"`) ||
          first.text.includes(`data-audit-action="${action}"`),
      ).toBe(true);
    }
    expectNoSecrets(first.text + second.text);
  });
});
