import { createConfig } from "../config";
import { seedDatabase } from "../db/seed";
import { openDatabase } from "../platform/db";
import { createSecretBox } from "../platform/secret-box";

/** `bun run seed`: migrates, then seeds providers and personalities once (idempotent). */
const config = createConfig(process.env);
const secretBox = createSecretBox(config.secretsKey);
const database = await openDatabase(config);
try {
  await database.migrate();
  const seeded = await seedDatabase({ db: database.db, config, secretBox });
  process.stdout.write(seeded ? "Seeded providers and personalities.\n" : "Already seeded: nothing to do.\n");
} finally {
  await database.close();
}
