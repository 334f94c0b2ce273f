import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import {
  createPgliteDatabase,
  createPostgresDatabase,
  type Database,
  migrationsFolder,
} from "../../src/platform/db";

/** The Postgres server tests use; CI creates this database fresh. */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/postgres";
export const testRedisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";

/** A service the integration and e2e tests run against. */
export type TestService = "postgres" | "redis";

async function postgresProblem(): Promise<string | null> {
  const sql = postgres(testDatabaseUrl, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return null;
  } catch (error) {
    return `Postgres at TEST_DATABASE_URL (${new URL(testDatabaseUrl).host}) is not reachable: ${(error as Error).message}`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function redisProblem(): Promise<string | null> {
  const { host, hostname, port } = new URL(testRedisUrl);
  try {
    const socket = await Bun.connect({ hostname, port: Number(port || 6379), socket: { data() {} } });
    socket.end();
    return null;
  } catch (error) {
    return `Redis at TEST_REDIS_URL (${host}) is not reachable: ${(error as Error).message}`;
  }
}

const checks = new Map<TestService, Promise<void>>();

/**
 * Ends the run at once with one clear line when a service is down, instead of a timeout in every
 * test. Checked on first use (once per process), not in a preload, so unit tests run without
 * Postgres and Redis.
 */
export async function requireServices(...services: TestService[]): Promise<void> {
  await Promise.all(
    services.map((service) => {
      let check = checks.get(service);
      if (!check) {
        check = (service === "postgres" ? postgresProblem() : redisProblem()).then((problem) => {
          if (!problem) return;
          process.stderr.write(
            `\n${problem}\nThese tests need a local Postgres and Redis (see README, "Tests").\n\n`,
          );
          process.exit(1);
        });
        checks.set(service, check);
      }
      return check;
    }),
  );
}

function urlFor(database: string): string {
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function migrationsHash(): string {
  const hash = createHash("sha256");
  for (const file of readdirSync(migrationsFolder).sort()) {
    if (file.endsWith(".sql")) hash.update(readFileSync(join(migrationsFolder, file)));
  }
  return hash.digest("hex").slice(0, 12);
}

let templateReady: Promise<string> | undefined;

/** A migrated template database, made once per migrations content and reused by every test file. */
function ensureTemplate(): Promise<string> {
  templateReady ??= (async () => {
    const name = `rt_template_${migrationsHash()}`;
    const admin = postgres(testDatabaseUrl, { max: 1, onnotice: () => {} });
    try {
      await admin`select pg_advisory_lock(7007)`;
      const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
      if (!exists) {
        await admin.unsafe(`create database "${name}"`);
        const database = createPostgresDatabase(urlFor(name), { max: 1 });
        try {
          await database.migrate();
        } catch (error) {
          await database.close();
          await admin.unsafe(`drop database if exists "${name}" with (force)`);
          throw error;
        }
        await database.close();
      }
      await admin`select pg_advisory_unlock(7007)`;
    } finally {
      await admin.end();
    }
    return name;
  })();
  return templateReady;
}

/** A fresh database for one test file. */
export interface TestDatabase {
  url: string;
  name: string;
  database: Database;
  /** Closes the connection and drops the database. */
  drop(): Promise<void>;
}

/**
 * Creates an isolated database: migrated (from the template) unless `empty` is set.
 * Real Postgres always; the embedded driver has tests of its own. Checks Redis too: nearly every
 * test on Postgres also uses it (the stack's coordination, a second instance, a spawned app).
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  await requireServices("postgres", "redis");
  const name = `rt_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(testDatabaseUrl, { max: 1, onnotice: () => {} });
  try {
    if (options.empty) await admin.unsafe(`create database "${name}"`);
    else await admin.unsafe(`create database "${name}" template "${await ensureTemplate()}"`);
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  const database = createPostgresDatabase(url);
  return {
    url,
    name,
    database,
    async drop() {
      await database.close().catch(() => {});
      const cleanup = postgres(testDatabaseUrl, { max: 1, onnotice: () => {} });
      try {
        await cleanup.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

/** The embedded default: a migrated in-memory PGlite database, gone when dropped. */
export async function createPgliteTestDatabase(): Promise<TestDatabase> {
  const database = await createPgliteDatabase("memory://");
  await database.migrate();
  return { url: "memory://", name: "pglite", database, drop: () => database.close() };
}
