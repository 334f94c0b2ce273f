/**
 * `bun run rekey`: re-encrypts every stored provider API key under the first `SECRETS_KEY`, so an
 * older key can then be removed from the list. Put the new key first and keep the old ones after it
 * (`SECRETS_KEY=new,old`), run this, then drop the old ones. Idempotent (a key already under the
 * first one is left alone) and all-or-nothing (one transaction). Prints counts, never key material;
 * exits 1 on an error or when some key cannot be decrypted with any configured key.
 */
import { asc, eq, isNotNull, sql } from "drizzle-orm";
import { createAuditLog } from "../audit/audit-log";
import { ConfigError, createConfig } from "../config";
import { providers } from "../db/schema";
import { type Db, openDatabase } from "../platform/db";
import { createSecretBox, parseSecretKeys, SecretBoxError } from "../platform/secret-box";

/** What {@link rekeyProviderKeys} did. */
export interface RekeyReport {
  reencrypted: number;
  /** Already encrypted under the first key: left as is. */
  current: number;
  /** Names of the providers whose key no configured key decrypts (left as is). */
  undecryptable: string[];
}

/** Re-encrypts every provider key that is not under the first of `secretsKey`'s keys. */
export async function rekeyProviderKeys(db: Db, secretsKey: string): Promise<RekeyReport> {
  const keys = parseSecretKeys(secretsKey);
  const ring = createSecretBox(keys);
  const primaryOnly = createSecretBox(keys.slice(0, 1));
  const audit = createAuditLog(db);
  return db.transaction(async (tx) => {
    const executor = tx as unknown as Db;
    const rows = await executor
      .select({ id: providers.id, name: providers.name, token: providers.apiKeyEncrypted })
      .from(providers)
      .where(isNotNull(providers.apiKeyEncrypted))
      .orderBy(asc(providers.id))
      .for("update");
    const report: RekeyReport = { reencrypted: 0, current: 0, undecryptable: [] };
    for (const row of rows) {
      const token = row.token as string;
      if (decrypts(primaryOnly, token)) {
        report.current += 1;
        continue;
      }
      let plaintext: string;
      try {
        plaintext = ring.decrypt(token);
      } catch {
        report.undecryptable.push(row.name);
        continue;
      }
      // updated_at versions the cached chat models: a running instance that could not read the old
      // token (its SECRETS_KEY already lacks the old key) picks the new one up at the next turn.
      await executor
        .update(providers)
        .set({ apiKeyEncrypted: ring.encrypt(plaintext), updatedAt: sql`now()` })
        .where(eq(providers.id, row.id));
      report.reencrypted += 1;
    }
    if (report.reencrypted > 0) {
      await audit.record(
        {
          actor: "cli",
          action: "provider.rekey",
          target: "providers",
          meta: { ...report, undecryptable: report.undecryptable.length },
        },
        executor,
      );
    }
    return report;
  });
}

function decrypts(box: ReturnType<typeof createSecretBox>, token: string): boolean {
  try {
    box.decrypt(token);
    return true;
  } catch {
    return false;
  }
}

/** The report as the operator reads it. */
export function describeRekey(report: RekeyReport): string {
  const lines = [
    `Provider API keys: ${report.reencrypted} re-encrypted under the first SECRETS_KEY, ${report.current} already current, ${report.undecryptable.length} undecryptable.`,
  ];
  if (report.undecryptable.length > 0) {
    lines.push(
      `Not decryptable with any SECRETS_KEY: ${report.undecryptable.join(", ")}. Add the key they were encrypted with to SECRETS_KEY (after the first) and run again, or enter their API keys again in the admin.`,
    );
  }
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<number> {
  const config = createConfig(process.env);
  if (!config.secretsKey) throw new ConfigError("SECRETS_KEY is not set", "SECRETS_KEY");
  // Checked before opening anything: a malformed key list must not leave a half-open database.
  parseSecretKeys(config.secretsKey);
  const database = await openDatabase(config);
  try {
    await database.migrate();
    const report = await rekeyProviderKeys(database.db, config.secretsKey);
    process.stdout.write(describeRekey(report));
    return report.undecryptable.length > 0 ? 1 : 0;
  } finally {
    await database.close();
  }
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      const known = error instanceof ConfigError || error instanceof SecretBoxError;
      process.stderr.write(
        `${known ? "Configuration error" : "Rekey failed"}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
