import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureFirstRunEnv, parseEnvFile } from "../../src/platform/first-run";
import { parseSecretKeys } from "../../src/platform/secret-box";

const directories: string[] = [];
function workspace(): string {
  const directory = mkdtempSync(join(tmpdir(), "rt-first-run-"));
  directories.push(directory);
  writeFileSync(
    join(directory, ".env.example"),
    "# comment\nSECRETS_KEY=\nADMIN_PASSWORD=\nAPI_TOKEN=\nPORT=3000\n",
  );
  return directory;
}
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

describe("first-run .env", () => {
  test("writes .env from .env.example with generated secrets, private to the owner", () => {
    const cwd = workspace();
    const result = ensureFirstRunEnv({ cwd, env: {} });
    expect(result.created).toBe(true);
    const text = readFileSync(join(cwd, ".env"), "utf8");
    const values = parseEnvFile(text);
    expect(parseSecretKeys(values.SECRETS_KEY!)).toHaveLength(1);
    expect(values.ADMIN_PASSWORD!.length).toBeGreaterThanOrEqual(16);
    expect(values.API_TOKEN!.length).toBeGreaterThanOrEqual(32);
    expect(values.PORT).toBe("3000");
    expect(text).toContain("# comment");
    expect(result.values).toEqual(values);
  });

  test("never overwrites an existing .env and does nothing in production or with SECRETS_KEY set", () => {
    const cwd = workspace();
    writeFileSync(join(cwd, ".env"), "API_TOKEN=mine\n");
    expect(ensureFirstRunEnv({ cwd, env: {} }).created).toBe(false);
    expect(readFileSync(join(cwd, ".env"), "utf8")).toBe("API_TOKEN=mine\n");
    const production = workspace();
    expect(ensureFirstRunEnv({ cwd: production, env: { NODE_ENV: "production" } }).created).toBe(false);
    const keyed = workspace();
    expect(ensureFirstRunEnv({ cwd: keyed, env: { SECRETS_KEY: "k" } }).created).toBe(false);
  });

  test("keeps a password or token the environment already provides", () => {
    const cwd = workspace();
    const { values } = ensureFirstRunEnv({ cwd, env: { ADMIN_PASSWORD: "chosen" } });
    expect(values.ADMIN_PASSWORD).toBe("");
    expect(values.API_TOKEN!.length).toBeGreaterThan(0);
  });

  test("parseEnvFile reads quoted values and skips comments", () => {
    expect(parseEnvFile("# x\nA=1\nB='two words'\nC=\"3\"\n  D = spaced \nbad line")).toEqual({
      A: "1",
      B: "two words",
      C: "3",
      D: "spaced",
    });
  });
});
