import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";

export const mainScript = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/** A child `bun src/main.ts` process with its output collected. */
export interface SpawnedApp {
  process: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first match of `pattern` in the output, or rejects when the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
  /** The process's resident memory now, in MB (from /proc/<pid>/status). */
  rssMb(): Promise<number>;
}

/** `bytes` as a stream of 1 MB chunks: fetch sends it chunked, with no Content-Length. */
export const chunkedBody = (bytes: Uint8Array, chunkBytes = 1024 * 1024) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (let offset = 0; offset < bytes.length; offset += chunkBytes)
        controller.enqueue(bytes.subarray(offset, offset + chunkBytes));
      controller.close();
    },
  });

/**
 * Starts the app as a real process with exactly `env` (plus PATH and HOME): nothing leaks from the
 * test runner, nor from a `.env`. Bun loads the `.env` of a process's working directory into it, and
 * the quickstart writes one in the project folder: the child runs with `--no-env-file`, in a fresh
 * empty folder unless `cwd` is given (so a first start never writes a `.env` into the project either).
 */
export function spawnApp(options: {
  env: Record<string, string>;
  cwd?: string;
  script?: string;
}): SpawnedApp {
  const ownCwd = options.cwd ? null : mkdtempSync(join(tmpdir(), "rt-app-cwd-"));
  const child = Bun.spawn(["bun", "--no-env-file", options.script ?? mainScript], {
    cwd: options.cwd ?? ownCwd!,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const listeners = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      for (const listener of listeners) listener();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = child.exited.then(async (code) => {
    await pumps;
    if (ownCwd) rmSync(ownCwd, { recursive: true, force: true });
    for (const listener of listeners) listener();
    return code;
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    process: child,
    output: () => text,
    exited,
    kill: (signal = "SIGTERM") => child.kill(signal),
    async rssMb() {
      const status = await Bun.file(`/proc/${child.pid}/status`).text();
      return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
    },
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = text.match(pattern);
          if (match) return finish(() => resolve(match));
          if (done) finish(() => reject(new Error(`process exited before ${pattern}; output:\n${text}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`timed out waiting for ${pattern}; output:\n${text}`))),
          timeoutMs,
        );
        const finish = (action: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          action();
        };
        listeners.add(check);
        void exited.then(check);
        check();
      });
    },
  };
}

/** The line the app logs once it serves HTTP; the first group is its base URL. */
export const LISTENING = /"msg":"http listening".*?"url":"(http[^"]+)"/;
