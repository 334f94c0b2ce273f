/**
 * A stored key that `SECRETS_KEY` no longer decrypts excludes its provider with a clear reason (not
 * a crashed run ending in `error`), shows as `unreadable`, and `bun run rekey` — run as a real
 * process, on Postgres and on the embedded PGlite — re-encrypts it once the old key is back second.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eq } from "drizzle-orm";
import { auditLogs, providers } from "../../src/db/schema";
import { seedDatabase } from "../../src/db/seed";
import { createPgliteDatabase } from "../../src/platform/db";
import { createSecretBox, generateSecretKey } from "../../src/platform/secret-box";
import { createApiClient } from "../helpers/api-client";
import { spawnApp } from "../helpers/spawn-app";
import { testConfig, testSecretsKey } from "../helpers/test-config";
import { createTestStack, type TestStack } from "../helpers/test-stack";

const rekeyScript = fileURLToPath(new URL("../../src/cli/rekey.ts", import.meta.url));
/** The key the stored tokens were made with, since removed from SECRETS_KEY. */
const OLD_KEY = generateSecretKey();
const oldBox = createSecretBox(OLD_KEY);
const currentBox = createSecretBox(testSecretsKey);

let stack: TestStack;
let cwd: string;

beforeAll(async () => {
  stack = await createTestStack();
  cwd = mkdtempSync(join(tmpdir(), "rt-rekey-"));
});
afterAll(async () => {
  await stack.stop();
  rmSync(cwd, { recursive: true, force: true });
});

/** Runs `bun src/cli/rekey.ts` with exactly `env`; resolves with its exit code and output. */
async function rekey(env: Record<string, string>) {
  const child = spawnApp({ env: { NODE_ENV: "test", LOG_LEVEL: "error", ...env }, cwd, script: rekeyScript });
  const code = await child.exited;
  return { code, output: child.output() };
}

/** A debate created while the keys decrypt, run after `beforeStart` (which may make them unreadable). */
async function debate(topic: string, beforeStart: () => Promise<void> = async () => {}) {
  const created = await stack.debate.createSession({ topic, maxRounds: 1, verdict: false });
  const recorder = stack.recordEvents(created.session.id);
  await beforeStart();
  await stack.debate.startSession(created.session.id);
  await recorder.waitFor("session-end");
  recorder.stop();
  return stack.debate.getSession(created.session.id);
}

describe("an undecryptable key", () => {
  const plaintexts = () => [stack.config.providers.openai.apiKey, stack.config.providers.deepseek.apiKey];

  const encryptUnderOldKey = async () => {
    for (const [name, key] of [
      ["ChatGPT", stack.config.providers.openai.apiKey],
      ["DeepSeek", stack.config.providers.deepseek.apiKey],
    ] as const) {
      await stack.db
        .update(providers)
        .set({ apiKeyEncrypted: oldBox.encrypt(key) })
        .where(eq(providers.name, name));
    }
  };

  test("excludes its provider with the reason; with both unreadable the debate ends no_participants", async () => {
    stack.fakeLlm.reset();
    // Created while the keys decrypted; by the first turn they no longer do.
    const detail = await debate("Keys under an old SECRETS_KEY?", encryptUnderOldKey);
    const listed = await (await createApiClient(stack)).request("GET", "/api/providers");
    expect(listed.json.map((provider: { api_key_status: string }) => provider.api_key_status)).toEqual([
      "unreadable",
      "unreadable",
    ]);
    expect(listed.json[0]).toMatchObject({ has_api_key: true, api_key_masked: "••••" });
    expect(detail.session).toMatchObject({ status: "stopped", stopReason: "no_participants" });
    // The first exclusion leaves one participant: the debate ends there, never as `error`.
    const [first, second] = detail.participants;
    expect(first).toMatchObject({
      status: "excluded",
      exclusionReason:
        "key_unreadable: the stored API key cannot be decrypted with SECRETS_KEY; re-enter it or run `bun run rekey`",
    });
    expect(second!.status).toBe("active");
    expect(stack.fakeLlm.requests).toHaveLength(0);
    // A new debate is refused before it is created, naming the keys (the preflight).
    const refused = await (await createApiClient(stack)).request("POST", "/api/sessions", {
      body: { topic: "Again?" },
    });
    expect(refused.status).toBe(422);
    expect(refused.json.error.code).toBe("not_enough_participants");
    expect(refused.json.error.message).toContain("ChatGPT has an API key SECRETS_KEY cannot decrypt");
  });

  test("rekey without the old key reports them undecryptable and changes nothing", async () => {
    const before = await stack.db.select().from(providers);
    const { code, output } = await rekey({
      DATABASE_URL: stack.testDatabase.url,
      SECRETS_KEY: testSecretsKey,
    });
    expect(code).toBe(1);
    expect(output).toContain(
      "Provider API keys: 0 re-encrypted under the first SECRETS_KEY, 0 already current, 2 undecryptable.",
    );
    expect(output).toContain("Not decryptable with any SECRETS_KEY: ChatGPT, DeepSeek.");
    const after = await stack.db.select().from(providers);
    expect(after.map((row) => row.apiKeyEncrypted)).toEqual(before.map((row) => row.apiKeyEncrypted));
  });

  test("rekey with the old key second re-encrypts under the first, once; debates run again", async () => {
    const env = { DATABASE_URL: stack.testDatabase.url, SECRETS_KEY: `${testSecretsKey},${OLD_KEY}` };
    const first = await rekey(env);
    expect(first.code).toBe(0);
    expect(first.output).toBe(
      "Provider API keys: 2 re-encrypted under the first SECRETS_KEY, 0 already current, 0 undecryptable.\n",
    );
    const rows = await stack.db.select().from(providers);
    expect(rows.map((row) => currentBox.decrypt(row.apiKeyEncrypted!))).toEqual(plaintexts());
    const [audit] = await stack.db.select().from(auditLogs).where(eq(auditLogs.action, "provider.rekey"));
    expect(audit).toMatchObject({ actor: "cli", meta: { reencrypted: 2, current: 0, undecryptable: 0 } });

    const second = await rekey(env);
    expect(second.output).toBe(
      "Provider API keys: 0 re-encrypted under the first SECRETS_KEY, 2 already current, 0 undecryptable.\n",
    );
    const unchanged = await stack.db.select().from(providers);
    expect(unchanged.map((row) => row.apiKeyEncrypted)).toEqual(rows.map((row) => row.apiKeyEncrypted));

    // The running engine (SECRETS_KEY without the old key) picks the new tokens up.
    stack.fakeLlm.reset();
    const detail = await debate("Keys back under the current SECRETS_KEY?");
    expect(detail.session).toMatchObject({ status: "finished", stopReason: "max_rounds" });
    expect(stack.fakeLlm.requests.map((request) => request.headers.authorization)).toEqual(
      plaintexts().map((key) => `Bearer ${key}`),
    );
    for (const output of [first.output, second.output]) {
      for (const secret of [...plaintexts(), OLD_KEY, testSecretsKey]) expect(output).not.toContain(secret);
    }
  });

  test("rekey works on the embedded database too", async () => {
    const dataDir = join(cwd, "pglite");
    const seeded = await createPgliteDatabase(dataDir);
    await seeded.migrate();
    await seedDatabase({ db: seeded.db, config: testConfig({ DATA_DIR: dataDir }), secretBox: oldBox });
    await seeded.close();

    const result = await rekey({ DATA_DIR: dataDir, SECRETS_KEY: `${testSecretsKey},${OLD_KEY}` });
    expect(result.output).toContain("2 re-encrypted under the first SECRETS_KEY, 0 already current");
    expect(result.code).toBe(0);

    const reopened = await createPgliteDatabase(dataDir);
    try {
      const rows = await reopened.db.select().from(providers);
      expect(rows.map((row) => currentBox.decrypt(row.apiKeyEncrypted!))).toEqual([
        "sk-test-openai-key-000000000000",
        "sk-test-deepseek-key-00000000000",
      ]);
    } finally {
      await reopened.close();
    }
    // A fresh on-disk PGlite runs initdb (10–20 s on a loaded 2-core VM), like the bare-machine start test.
  }, 90_000);
});
