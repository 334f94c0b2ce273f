/**
 * Deployment files, read as Docker would (no Docker engine here): images pinned to patch versions,
 * a production image without dev tools running as a non-root user with a health check, a build
 * context without local installs, data, history or secrets, and a `make help` listing the targets.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const repoRoot = join(import.meta.dir, "../..");
const read = (file: string) => readFileSync(join(repoRoot, file), "utf8");

/** Dockerfile instructions (continuation lines joined, comments dropped), split into stages. */
function dockerfileStages(text: string): { from: string; instructions: [string, string][] }[] {
  const instructions = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return [keyword!.toUpperCase(), rest.join(" ")] as [string, string];
    });
  const stages: { from: string; instructions: [string, string][] }[] = [];
  for (const instruction of instructions) {
    if (instruction[0] === "FROM") stages.push({ from: instruction[1], instructions: [] });
    else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

/** A `.dockerignore` decision for one path (last matching pattern wins, `!` re-includes). */
function dockerIgnores(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    const glob = new Bun.Glob(negated ? pattern.slice(1) : pattern);
    if (glob.match(path) || glob.match(path.split("/")[0]!)) ignored = !negated;
  }
  return ignored;
}

describe("deployment files", () => {
  test("the Dockerfile pins Bun to the tested version and builds a production image", () => {
    const stages = dockerfileStages(read("Dockerfile"));
    const bunTag = `oven/bun:${Bun.version}-slim`;
    for (const stage of stages) expect(stage.from.split(" ")[0]).toBe(bunTag);
    const final = stages.at(-1)!;
    const install = stages
      .flatMap((stage) => stage.instructions)
      .find(([, args]) => args.includes("bun install"));
    expect(install?.[1]).toContain("--frozen-lockfile");
    expect(install?.[1]).toContain("--production");
    expect(install?.[1]).toMatch(/rm -rf node_modules\/typescript node_modules\/@types/);
    const user = final.instructions.filter(([keyword]) => keyword === "USER").at(-1)?.[1];
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user!.split(":")[0]);
    const healthcheck = final.instructions.find(([keyword]) => keyword === "HEALTHCHECK")?.[1];
    expect(healthcheck).toContain("/health");
    const copied = final.instructions.filter(([keyword]) => keyword === "COPY").map(([, args]) => args);
    expect(copied.some((args) => /\bsrc\b/.test(args))).toBe(true);
    expect(copied.some((args) => /\btest\b|\.env\b/.test(args))).toBe(false);
  });

  test("docker-compose pins Postgres and Redis to patch versions and runs setup inside the image", () => {
    const compose = parse(read("docker-compose.yml")) as {
      services: Record<string, { image?: string; build?: unknown; command?: string[]; profiles?: string[] }>;
    };
    const { postgres, redis, app, setup } = compose.services;
    expect(postgres?.image).toMatch(/^postgres:15\.\d+-alpine$/);
    expect(redis?.image).toMatch(/^redis:7\.\d+\.\d+-alpine$/);
    expect(app?.build).toBeDefined();
    // `docker compose run --rm setup` needs no Bun on the host and is never started by `up`.
    expect(setup?.profiles).toEqual(["setup"]);
    expect(setup?.image).toBe(app?.image);
    expect(setup?.command?.join(" ")).toContain("src/cli/setup.ts");
    for (const service of Object.values(compose.services)) {
      if (service.image && !service.build) expect(service.image).not.toMatch(/:(latest|\d+(-alpine)?)$/);
    }
  });

  test(".dockerignore keeps installs, data, history and secrets out of the build context", () => {
    const patterns = read(".dockerignore")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    for (const path of [
      "node_modules",
      "node_modules/elysia/package.json",
      "data",
      "data/base/1",
      ".git",
      ".git/HEAD",
      ".env",
      ".env.local",
    ]) {
      expect(dockerIgnores(patterns, path), path).toBe(true);
    }
    for (const path of [
      "src/main.ts",
      "package.json",
      "bun.lock",
      "tsconfig.json",
      "migrations/0000_init.sql",
      "admin-jsx/layout.tsx",
    ]) {
      expect(dockerIgnores(patterns, path), path).toBe(false);
    }
  });

  test("make help lists every target with what it does", async () => {
    const make = Bun.spawn(["make", "--no-print-directory", "help"], { cwd: repoRoot, stdout: "pipe" });
    const [code, output] = await Promise.all([make.exited, new Response(make.stdout).text()]);
    expect(code).toBe(0);
    const listed = new Map(
      output
        .trim()
        .split("\n")
        .map((line) => line.trim().split(/\s{2,}/) as [string, string]),
    );
    const targets = [...read("Makefile").matchAll(/^([a-z][a-z-]*):/gm)].map((match) => match[1]!);
    expect(targets.length).toBeGreaterThan(10);
    for (const target of targets) expect(listed.get(target), target).toEqual(expect.any(String));
    expect(read("README.md")).toContain("make help");
  });
});
