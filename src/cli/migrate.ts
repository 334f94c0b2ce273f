import { createConfig } from "../config";
import { openDatabase } from "../platform/db";

/** `bun run migrate`: applies pending migrations to the configured database and exits. */
const config = createConfig(process.env);
const database = await openDatabase(config);
try {
  await database.migrate();
  process.stdout.write(`Migrations applied (${database.kind}).\n`);
} finally {
  await database.close();
}
