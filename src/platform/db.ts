import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { type SQL, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { Config } from "../config";
import * as schema from "../db/schema";

/** The drizzle database, whichever driver is behind it. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** A database connection with its life cycle. */
export interface Database {
  readonly db: Db;
  /** `postgres` (a server, several instances) or `pglite` (embedded, one instance). */
  readonly kind: "postgres" | "pglite";
  /** Applies pending migrations; safe when several instances start at once. */
  migrate(): Promise<void>;
  /** True when a trivial query answers within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Runs raw SQL and returns its rows whichever driver is behind `db`: postgres.js answers with an
 * array of rows, PGlite with `{ rows }`.
 */
export async function queryRows<T extends Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as T[] | { rows: T[] };
  return Array.isArray(result) ? result : result.rows;
}

/** The driver behind a drizzle database (drizzle keeps it as `$client`). */
function clientOf(db: Db): postgres.Sql | PGlite {
  return (db as unknown as { $client: postgres.Sql | PGlite }).$client;
}

/**
 * The SQLSTATE of a database error, on either driver, looking through the causes drizzle wraps
 * around the driver's error.
 */
export function databaseErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = typeof current === "object" ? (current as { code?: unknown }).code : undefined;
    // Only a SQLSTATE: wrappers may carry codes of their own (ERR_…).
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A unique constraint refused the write. */
export const isUniqueViolation = (error: unknown) => databaseErrorCode(error) === "23505";

/**
 * Runs one parameterised statement as a prepared statement and returns its rows with snake_case
 * column names, as the driver parses them. postgres.js prepares it once per connection and then
 * only binds, which is what a statement on the hot path of every turn wants; drizzle's `execute`
 * sends raw SQL unprepared (parsed and planned again every time). PGlite runs it as given.
 */
export async function preparedRows<T>(db: Db, text: string, params: readonly unknown[]): Promise<T[]> {
  const client = clientOf(db);
  if (client instanceof PGlite) return (await client.query<T>(text, params as unknown[])).rows;
  return (await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as T[];
}

/**
 * Calls `onChange` on every NOTIFY on `channel` (Postgres LISTEN, on either driver), and also each
 * time the listening connection is (re)established: notifications sent while it was down are lost,
 * so a listener must assume anything changed. Resolves once listening; the result stops it.
 */
export async function listen(db: Db, channel: string, onChange: () => void): Promise<() => Promise<void>> {
  const client = clientOf(db);
  if (client instanceof PGlite) {
    const unlisten = await client.listen(channel, onChange);
    return () => unlisten();
  }
  const { unlisten } = await client.listen(channel, onChange, onChange);
  return unlisten;
}

export const migrationsFolder = fileURLToPath(new URL("../../migrations", import.meta.url));

/** Arbitrary constant naming the migration advisory lock ("rt-migr"). */
const MIGRATION_LOCK_ID = 0x72746d6967;

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects to a Postgres server through postgres.js. */
export function createPostgresDatabase(url: string, options: { max?: number } = {}): Database {
  // NOTICEs (e.g. "relation already exists, skipping" from migrations) are not errors: keep logs clean.
  const client = postgres(url, { max: options.max ?? 10, onnotice: () => {}, connect_timeout: 10 });
  const db = drizzlePostgres(client, { schema }) as unknown as Db;
  return {
    db,
    kind: "postgres",
    async migrate() {
      // drizzle's migrate() takes no lock; two instances starting together would race on DDL.
      // A dedicated one-connection client holds a session-level advisory lock around it.
      const lockClient = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
      try {
        await lockClient`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
        await migratePostgres(drizzlePostgres(lockClient), { migrationsFolder });
        await lockClient`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
      } finally {
        await lockClient.end({ timeout: 5 });
      }
    },
    async ping(timeoutMs = 2000) {
      try {
        await withTimeout(client`select 1`, timeoutMs);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

/** Opens the embedded PGlite database under `dataDir` (or in memory with `memory://`). */
export async function createPgliteDatabase(dataDir: string): Promise<Database> {
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  let closed = false;
  return {
    db,
    kind: "pglite",
    async migrate() {
      // PGlite is one connection in one process: nothing else can migrate concurrently.
      await migratePglite(drizzlePglite(client), { migrationsFolder });
    },
    async ping() {
      if (closed) return false;
      try {
        await db.execute(sql`select 1`);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

/** Opens the database named by the config: a Postgres server, or embedded PGlite. */
export async function openDatabase(config: Pick<Config, "databaseUrl" | "dataDir">): Promise<Database> {
  return config.databaseUrl
    ? createPostgresDatabase(config.databaseUrl)
    : createPgliteDatabase(config.dataDir);
}
