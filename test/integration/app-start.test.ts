import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { Elysia } from "elysia";
import { createHealthRoutes } from "../../src/http/health";
import { createPostgresDatabase, queryRows } from "../../src/platform/db";
import { parseEnvFile } from "../../src/platform/first-run";
import { silentLogger } from "../../src/platform/logger";
import { createRedisCoordination } from "../../src/platform/redis-coordination";
import { LISTENING, spawnApp } from "../helpers/spawn-app";
import { testSecretsKey } from "../helpers/test-config";
import { createTestDatabase, testRedisUrl } from "../helpers/test-db";

const repoRoot = join(import.meta.dir, "../..");
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("GET /health", () => {
  test("200 with both stores up, 503 naming the one that is down", async () => {
    const testDatabase = await createTestDatabase();
    cleanups.push(() => testDatabase.drop());
    const redisUp = await createRedisCoordination({ url: testRedisUrl, prefix: "rt-test:health:" });
    const redisDown = await createRedisCoordination({
      url: "redis://127.0.0.1:6390/0",
      prefix: "x:",
      logger: silentLogger,
    });
    const databaseDown = createPostgresDatabase("postgres://root@127.0.0.1:5499/none");
    cleanups.push(
      () => redisUp.close(),
      () => redisDown.close(),
      () => databaseDown.close(),
    );
    const appWith = (db: () => Promise<boolean>, redis: typeof redisUp) =>
      new Elysia().use(createHealthRoutes({ db, redis: () => redis.ping(), coordinationKind: redis.kind }));
    const call = async (app: { handle: (request: Request) => Promise<Response> }) => {
      const response = await app.handle(new Request("http://localhost/health"));
      return { status: response.status, body: await response.json() };
    };
    expect(await call(appWith(() => testDatabase.database.ping(), redisUp))).toEqual({
      status: 200,
      body: { status: "ok", db: "up", redis: "up" },
    });
    expect(await call(appWith(() => testDatabase.database.ping(), redisDown))).toEqual({
      status: 503,
      body: { status: "unavailable", db: "up", redis: "down" },
    });
    const dbDown = await call(appWith(() => databaseDown.ping(1000), redisUp));
    expect(dbDown).toEqual({ status: 503, body: { status: "unavailable", db: "down", redis: "up" } });
  });
});

describe("the app as a process", () => {
  test("on a bare machine: writes .env, prints the admin login, serves /health on the embedded default, exits 0 on SIGTERM", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "rt-bare-"));
    cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
    copyFileSync(join(repoRoot, ".env.example"), join(cwd, ".env.example"));
    const app = spawnApp({ cwd, env: { PORT: "0" } });
    cleanups.push(() => app.kill("SIGKILL"));
    const [, url] = await app.waitFor(LISTENING, 60_000);
    const [, username, password] = await app.waitFor(/Login:\s+(\S+) \/ (\S+)/);
    const written = parseEnvFile(readFileSync(join(cwd, ".env"), "utf8"));
    expect(username).toBe("admin");
    expect(password).toBe(written.ADMIN_PASSWORD!);
    expect(written.SECRETS_KEY!.length).toBeGreaterThan(40);
    expect(written.API_TOKEN!.length).toBeGreaterThan(20);
    expect(written.DATABASE_URL).toBe("");
    const response = await fetch(`${url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", db: "up", redis: "in-process" });
    expect(existsSync(join(cwd, "data"))).toBe(true);
    // The admin is served and asks for the printed login.
    const root = await fetch(url!, { redirect: "manual" });
    expect(root.headers.get("location")).toBe("/admin");
    const login = await fetch(`${url}/admin`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('name="password"');
    expect(app.output()).toContain("in-process (single instance");
    app.kill("SIGTERM");
    expect(await app.exited).toBe(0);
    expect(app.output()).toContain('"msg":"stopped"');
    // The generated secrets never reach the JSON log lines.
    const logLines = app
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"));
    expect(logLines.join("\n")).not.toContain(written.SECRETS_KEY!);
    expect(logLines.join("\n")).not.toContain(written.API_TOKEN!);
  }, 90_000);

  test("against an empty Postgres and Redis: /health 200 within 5 s, seeded once across two starts", async () => {
    const testDatabase = await createTestDatabase({ empty: true });
    cleanups.push(() => testDatabase.drop());
    const env = {
      PORT: "0",
      NODE_ENV: "production",
      DATABASE_URL: testDatabase.url,
      REDIS_URL: testRedisUrl,
      SECRETS_KEY: testSecretsKey,
      API_TOKEN: "process-api-token",
      LOG_LEVEL: "info",
    };
    for (let start = 0; start < 2; start++) {
      const started = Date.now();
      const app = spawnApp({ env });
      cleanups.push(() => app.kill("SIGKILL"));
      const [, url] = await app.waitFor(LISTENING, 15_000);
      const response = await fetch(`${url}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ok", db: "up", redis: "up" });
      expect(Date.now() - started).toBeLessThan(5_000);
      // The API and its OpenAPI document are served by the same process.
      expect((await fetch(`${url}/api/providers`)).status).toBe(401);
      const listed = await fetch(`${url}/api/providers`, {
        headers: { authorization: "Bearer process-api-token" },
      });
      expect(listed.status).toBe(200);
      // In production the document is not public (DOCS_PUBLIC defaults to off): the token opens it.
      expect((await fetch(`${url}/openapi/json`)).status).toBe(401);
      const document = await fetch(`${url}/openapi/json`, {
        headers: { authorization: "Bearer process-api-token" },
      });
      expect(document.status).toBe(200);
      app.kill("SIGINT");
      expect(await app.exited).toBe(0);
    }
    const rows = await queryRows<{ n: number }>(
      testDatabase.database.db,
      sql`select count(*)::int as n from providers`,
    );
    expect(rows[0]?.n).toBe(2);
  }, 60_000);

  test("production without SECRETS_KEY refuses to start with a clear message", async () => {
    const app = spawnApp({ env: { NODE_ENV: "production", PORT: "0" } });
    expect(await app.exited).toBe(1);
    expect(app.output()).toContain("SECRETS_KEY is required in production");
  });

  test("an invalid value stops the start with one line naming the variable, never a secret", async () => {
    const bad = spawnApp({ env: { SECRETS_KEY: testSecretsKey, MAX_ROUNDS: "lots", PORT: "0" } });
    expect(await bad.exited).toBe(1);
    expect(bad.output().trim()).toBe(
      'Configuration error: MAX_ROUNDS must be an integer from 1 to 50 (got "lots")',
    );
    const badKey = spawnApp({ env: { SECRETS_KEY: "not-a-key-hunter2", PORT: "0" } });
    expect(await badKey.exited).toBe(1);
    expect(badKey.output()).toContain("Configuration error: SECRETS_KEY");
    expect(badKey.output()).not.toContain("hunter2");
  });

  test("an unreachable Postgres or Redis stops the start with a message naming the variable, not its value", async () => {
    // On a real Postgres: the embedded one would first be created in the child's fresh folder.
    const testDatabase = await createTestDatabase({ empty: true });
    cleanups.push(() => testDatabase.drop());
    const noRedis = spawnApp({
      env: {
        SECRETS_KEY: testSecretsKey,
        PORT: "0",
        NODE_ENV: "production",
        DATABASE_URL: testDatabase.url,
        REDIS_URL: "redis://:hunter2@127.0.0.1:6390/0",
      },
    });
    expect(await noRedis.exited).toBe(1);
    expect(noRedis.output()).toContain("Start failed: Cannot reach Redis at REDIS_URL");
    expect(noRedis.output()).not.toContain("hunter2");
    const noPostgres = spawnApp({
      env: {
        SECRETS_KEY: testSecretsKey,
        PORT: "0",
        NODE_ENV: "production",
        DATABASE_URL: "postgres://root:hunter2@127.0.0.1:5499/none",
      },
    });
    expect(await noPostgres.exited).toBe(1);
    expect(noPostgres.output()).toContain("Start failed: Cannot reach Postgres at DATABASE_URL");
    expect(noPostgres.output()).not.toContain("hunter2");
  });
});
