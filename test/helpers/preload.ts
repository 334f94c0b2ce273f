import postgres from "postgres";
import { testDatabaseUrl, testRedisUrl } from "./test-db";

// The suite runs against a real Postgres and Redis: say so at once, instead of 400 timeouts.
// (The per-test timeout is `bun test --timeout` in package.json: Bun 1.4 applies neither bunfig's
// [test] timeout nor a preload's setDefaultTimeout beyond the first test file.)
async function reachable(): Promise<string | null> {
  const sql = postgres(testDatabaseUrl, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (error) {
    return `Postgres at TEST_DATABASE_URL (${new URL(testDatabaseUrl).host}) is not reachable: ${(error as Error).message}`;
  } finally {
    await sql.end({ timeout: 1 });
  }
  const { host, port } = new URL(testRedisUrl);
  try {
    const socket = await Bun.connect({
      hostname: host.replace(/:\d+$/, ""),
      port: Number(port || 6379),
      socket: { data() {} },
    });
    socket.end();
  } catch (error) {
    return `Redis at TEST_REDIS_URL (${host}) is not reachable: ${(error as Error).message}`;
  }
  return null;
}

const problem = await reachable();
if (problem) {
  process.stderr.write(`\n${problem}\nThe tests need a local Postgres and Redis (see README, "Tests").\n\n`);
  process.exit(1);
}
