/**
 * `bun run setup` (what `docker compose run --rm setup` runs in the image): a ready `.env` with each
 * secret on one line, idempotent, and keeping what the operator set.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnvFile } from "../../src/platform/first-run";
import { parseSecretKeys } from "../../src/platform/secret-box";

const repoRoot = join(import.meta.dir, "../..");
const setupScript = join(repoRoot, "src/cli/setup.ts");
const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function projectCopy(): string {
  const folder = mkdtempSync(join(tmpdir(), "rt-setup-"));
  folders.push(folder);
  copyFileSync(join(repoRoot, ".env.example"), join(folder, ".env.example"));
  return folder;
}

async function setup(folder: string) {
  const child = Bun.spawn(["bun", "--no-env-file", setupScript, folder], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, output] = await Promise.all([child.exited, new Response(child.stdout).text()]);
  return { code, output };
}

const lines = (text: string, key: string) => text.split("\n").filter((line) => line.startsWith(`${key}=`));

describe("bun run setup", () => {
  test("writes .env from .env.example with each secret once; a second run changes nothing", async () => {
    const folder = projectCopy();
    const first = await setup(folder);
    expect(first.code).toBe(0);
    expect(first.output).toContain("generated SECRETS_KEY, ADMIN_PASSWORD, API_TOKEN");
    const written = readFileSync(join(folder, ".env"), "utf8");
    for (const key of ["SECRETS_KEY", "ADMIN_PASSWORD", "API_TOKEN"])
      expect(lines(written, key)).toHaveLength(1);
    const values = parseEnvFile(written);
    expect(parseSecretKeys(values.SECRETS_KEY!)).toHaveLength(1);
    expect(values.API_TOKEN!.length).toBeGreaterThan(20);
    // Everything else is the example's.
    expect(values.MAX_ROUNDS).toBe(
      parseEnvFile(readFileSync(join(folder, ".env.example"), "utf8")).MAX_ROUNDS,
    );
    expect(statSync(join(folder, ".env")).mode & 0o777).toBe(0o600);

    const second = await setup(folder);
    expect(second.code).toBe(0);
    expect(second.output).toContain("nothing changed");
    expect(readFileSync(join(folder, ".env"), "utf8")).toBe(written);
  });

  test("fills only the secrets an existing .env leaves empty, in place", async () => {
    const folder = projectCopy();
    writeFileSync(join(folder, ".env"), "ADMIN_PASSWORD=chosen-by-me\nSECRETS_KEY=\nPORT=8080\n");
    const result = await setup(folder);
    expect(result.code).toBe(0);
    const text = readFileSync(join(folder, ".env"), "utf8");
    const values = parseEnvFile(text);
    expect(values.ADMIN_PASSWORD).toBe("chosen-by-me");
    expect(values.PORT).toBe("8080");
    expect(lines(text, "SECRETS_KEY")).toHaveLength(1);
    expect(parseSecretKeys(values.SECRETS_KEY!)).toHaveLength(1);
    expect(lines(text, "API_TOKEN")).toHaveLength(1);
  });
});
