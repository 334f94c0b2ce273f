/**
 * Tests never read the project's `.env`. The quickstart (`bun run start`) writes one in the project
 * folder, and Bun loads the `.env` of the working directory into `bun test` and into every process
 * it starts: the test script runs with `--no-env-file`, and spawned apps get `--no-env-file` and an
 * explicit env. Each case here puts a hostile `.env` where it would be picked up.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnApp } from "../helpers/spawn-app";
import { testSecretsKey } from "../helpers/test-config";

const repoRoot = join(import.meta.dir, "../..");
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function folderWithDotenv(lines: string[]): string {
  const folder = mkdtempSync(join(tmpdir(), "rt-dotenv-"));
  folders.push(folder);
  writeFileSync(join(folder, ".env"), `${lines.join("\n")}\n`);
  return folder;
}

async function run(command: string[], cwd: string) {
  const child = Bun.spawn(command, {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { code, output: stdout + stderr };
}

describe("tests and the project's .env", () => {
  test("`bun run test` does not load the .env of its folder (plain `bun test` would)", async () => {
    const folder = folderWithDotenv(["ROUNDTABLE_DOTENV_PROBE=loaded"]);
    copyFileSync(join(repoRoot, "package.json"), join(folder, "package.json"));
    writeFileSync(
      join(folder, "probe.test.ts"),
      `import { expect, test } from "bun:test";
test("probe", () => { expect(process.env.ROUNDTABLE_DOTENV_PROBE).toBeUndefined(); });
`,
    );
    const script = await run(["bun", "run", "test", "./probe.test.ts"], folder);
    expect(script.output).toContain("1 pass");
    expect(script.code).toBe(0);
    // The probe can fail: without the flag Bun loads the file.
    const plain = await run(["bun", "test", "./probe.test.ts"], folder);
    expect(plain.output).toContain("1 fail");
    expect(plain.code).not.toBe(0);
  }, 60_000);

  test("a spawned app never reads the .env of its working directory", async () => {
    // Values that would let a production start succeed, or break it loudly, were they read.
    const folder = folderWithDotenv([
      `SECRETS_KEY=${testSecretsKey}`,
      "NODE_ENV=development",
      "DATABASE_URL=postgres://hostile:hostile@127.0.0.1:1/hostile",
      "MAX_ROUNDS=not-a-number",
    ]);
    const app = spawnApp({ cwd: folder, env: { NODE_ENV: "production", PORT: "0" } });
    expect(await app.exited).toBe(1);
    expect(app.output()).toContain("SECRETS_KEY is required in production");
    expect(app.output()).not.toContain("MAX_ROUNDS");
  });

  test("a spawned app runs outside the project folder unless told otherwise", async () => {
    const projectDotenv = join(repoRoot, ".env");
    const before = existsSync(projectDotenv) ? readFileSync(projectDotenv, "utf8") : null;
    // A first start outside production writes a .env into its working directory (then stops here on
    // the bad value): that must never be the project's.
    const app = spawnApp({ env: { PORT: "0", MAX_ROUNDS: "lots" } });
    expect(await app.exited).toBe(1);
    expect(app.output()).toContain("MAX_ROUNDS must be");
    expect(existsSync(projectDotenv) ? readFileSync(projectDotenv, "utf8") : null).toBe(before);
  });
});
