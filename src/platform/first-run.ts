import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSecretKey } from "./secret-box";

/** What the first start outside production did to give a bare machine a working `.env`. */
export interface FirstRunResult {
  created: boolean;
  path: string;
  /** The env values read from the written file (to merge under process.env). */
  values: Record<string, string>;
}

/** Parses `KEY=value` lines (comments and blanks skipped; no interpolation). */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    let value = match[2] ?? "";
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    values[match[1]!] = value;
  }
  return values;
}

function setValue(text: string, key: string, value: string): string {
  const pattern = new RegExp(`^${key}=.*$`, "m");
  return pattern.test(text) ? text.replace(pattern, `${key}=${value}`) : `${text}\n${key}=${value}\n`;
}

const randomToken = (bytes: number) => randomBytes(bytes).toString("base64url");

/** The secrets a first start (or `bun run setup`) generates, by variable. */
const secretGenerators = {
  SECRETS_KEY: generateSecretKey,
  ADMIN_PASSWORD: () => randomToken(12),
  API_TOKEN: () => randomToken(24),
} as const;

/**
 * Gives every secret of {@link secretGenerators} that `text` (a `.env`) leaves empty or unset a
 * generated value, on its own line (an existing `KEY=` line is filled in, never repeated); secrets
 * already set are kept, so running it again changes nothing.
 */
export function fillMissingSecrets(text: string): { text: string; generated: string[] } {
  const current = parseEnvFile(text);
  const generated: string[] = [];
  for (const [key, generate] of Object.entries(secretGenerators)) {
    if (current[key]) continue;
    text = setValue(text, key, generate());
    generated.push(key);
  }
  return { text, generated };
}

/**
 * On a first start outside production with no `.env` and no SECRETS_KEY in the environment,
 * writes `.env` from `.env.example` with a generated SECRETS_KEY, ADMIN_PASSWORD and API_TOKEN,
 * so that `bun install && bun run start` works on a bare machine.
 */
export function ensureFirstRunEnv(options: {
  cwd: string;
  env: Record<string, string | undefined>;
}): FirstRunResult {
  const path = join(options.cwd, ".env");
  const { env } = options;
  if (env.NODE_ENV === "production" || existsSync(path) || env.SECRETS_KEY) {
    return { created: false, path, values: {} };
  }
  const examplePath = join(options.cwd, ".env.example");
  let text = existsSync(examplePath) ? readFileSync(examplePath, "utf8") : "";
  text = setValue(text, "SECRETS_KEY", secretGenerators.SECRETS_KEY());
  if (!env.ADMIN_PASSWORD) text = setValue(text, "ADMIN_PASSWORD", secretGenerators.ADMIN_PASSWORD());
  if (!env.API_TOKEN) text = setValue(text, "API_TOKEN", secretGenerators.API_TOKEN());
  try {
    // `wx` fails instead of overwriting if another process wrote it meanwhile; then use theirs.
    writeFileSync(path, text, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return { created: false, path, values: parseEnvFile(readFileSync(path, "utf8")) };
  }
  return { created: true, path, values: parseEnvFile(text) };
}
