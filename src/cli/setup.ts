/**
 * `bun run setup [folder]`: makes the folder's `.env` ready for a production start. Writes it from
 * `.env.example` when it is missing, then fills SECRETS_KEY, ADMIN_PASSWORD and API_TOKEN where they
 * are empty. Secrets already set are kept: running it twice changes nothing. For Docker without Bun
 * on the host: `docker compose run --rm setup` runs it in the image on the mounted project folder.
 */
import { chownSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fillMissingSecrets } from "../platform/first-run";

const folder = resolve(process.argv[2] ?? process.cwd());
const envPath = join(folder, ".env");
const examplePath = join(folder, ".env.example");
const existed = existsSync(envPath);
const source = existed ? envPath : examplePath;
if (!existsSync(source)) {
  process.stderr.write(`setup: neither ${envPath} nor ${examplePath} exists\n`);
  process.exit(1);
}
const { text, generated } = fillMissingSecrets(readFileSync(source, "utf8"));
if (existed && generated.length === 0) {
  process.stdout.write(`${envPath}: every secret is already set; nothing changed.\n`);
  process.exit(0);
}
writeFileSync(envPath, text, { mode: 0o600 });
// Run as root in a container on a mounted folder: give the file to the folder's owner, so the
// operator (and `docker compose`, reading it as them) can open it.
if (process.getuid?.() === 0) {
  const owner = statSync(folder);
  chownSync(envPath, owner.uid, owner.gid);
}
process.stdout.write(
  `${envPath}: ${existed ? "updated" : `written from ${examplePath}`}; generated ${generated.join(", ")}.\n`,
);
