import { type RunningApp, startApp } from "./app";
import { ConfigError, createConfig } from "./config";
import { ensureFirstRunEnv } from "./platform/first-run";
import { createLogger } from "./platform/logger";
import { SecretBoxError } from "./platform/secret-box";

/** The only module with side effects at import: reads the environment, starts, handles signals. */
async function main(): Promise<void> {
  const firstRun = ensureFirstRunEnv({ cwd: process.cwd(), env: process.env });
  // Values from a freshly written .env never override what the environment already says.
  const env = { ...firstRun.values, ...process.env };
  const config = createConfig(env);
  if (!config.secretsKey) {
    throw new ConfigError(
      config.nodeEnv === "production"
        ? "SECRETS_KEY is required in production: generate one with `bun run keygen` and set it"
        : "SECRETS_KEY is not set: add it to .env (generate one with `bun run keygen`)",
      "SECRETS_KEY",
    );
  }
  const logger = createLogger({ level: config.logLevel });

  // Handlers first: a signal during start-up (migrations, a slow first PGlite boot) must end the
  // process cleanly too. Until the app is up there is nothing to stop but the process itself.
  let app: RunningApp | null = null;
  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info("shutting down", { signal, during_start: app === null });
    try {
      await app?.stop();
      logger.info("stopped");
      process.exit(0);
    } catch (error) {
      logger.error("shutdown failed", { error });
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  const started = await startApp({ config, logger });
  app = started;
  if (firstRun.created) {
    // One-time banner for the person who just ran `bun run start` on a bare machine.
    process.stdout.write(
      `\nRound Table AI is running. A new .env was written with generated secrets.\n` +
        `  Admin:    ${started.url}/admin\n` +
        `  Login:    ${config.admin.username} / ${config.admin.password}\n` +
        `  API:      Authorization: Bearer <API_TOKEN from .env>\n\n`,
    );
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof SecretBoxError) {
    process.stderr.write(`Configuration error: ${error.message}\n`);
  } else {
    process.stderr.write(`Start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
