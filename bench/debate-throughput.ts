/**
 * Debate throughput benchmark (`bun run bench`).
 *
 * N concurrent debates (2 models × R rounds) run through the real engine (turn runner, scheduler,
 * event bus) on real Postgres and Redis, against the fake OpenAI-compatible server in a child
 * process that answers after a chosen latency. Every turn is committed to Postgres.
 *
 *   bun run bench [--debates 200] [--rounds 5] [--latency MS[,MS…]] [--coordination redis|memory]
 *                 [--pg-pool 10] [--jitter MS] [--ramp MS] [--warmup 20] [--context-limit TOKENS]
 *                 [--timeout SEC] [--cpu-prof DIR]
 *
 * Without --latency it runs 0 ms and 200 ms. Each latency runs in a fresh Bun process (so peak
 * RSS is that scenario's own) with a fresh database (created, migrated, dropped) and a random
 * Redis key prefix (removed afterwards).
 *
 * Environment: BENCH_DATABASE_URL (admin connection, default postgres://root@127.0.0.1:5432/postgres),
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379/0).
 */
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { parseArgs } from "node:util";
import { eq, inArray } from "drizzle-orm";
import { Redis } from "ioredis";
import postgres from "postgres";
import { createApp } from "../src/app";
import { createConfig } from "../src/config";
import { messages, sessions } from "../src/db/schema";
import { messageTokens } from "../src/debate/prompt";
import type { Coordination } from "../src/platform/coordination";
import { createPostgresDatabase, type Db } from "../src/platform/db";
import { createLogger } from "../src/platform/logger";
import { createMemoryCoordination } from "../src/platform/memory-coordination";
import { createRedisCoordination } from "../src/platform/redis-coordination";
import { generateSecretKey } from "../src/platform/secret-box";
import type { FakeLlmStats } from "./fake-llm-server";

// ─── options ────────────────────────────────────────────────────────────────────────────────

interface Options {
  debates: number;
  rounds: number;
  latencies: number[];
  coordination: "redis" | "memory";
  pgPool: number;
  jitter: number;
  /** Starts are spread evenly over this many ms (0: all at once). */
  ramp: number;
  warmup: number;
  contextLimit: number | null;
  timeoutSec: number;
  cpuProfDir: string | null;
  scenario: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      debates: { type: "string" },
      rounds: { type: "string" },
      latency: { type: "string" },
      coordination: { type: "string" },
      "pg-pool": { type: "string" },
      jitter: { type: "string" },
      ramp: { type: "string" },
      warmup: { type: "string" },
      "context-limit": { type: "string" },
      timeout: { type: "string" },
      "cpu-prof": { type: "string" },
      scenario: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "usage: bun run bench [--debates N] [--rounds R] [--latency MS[,MS…]] [--coordination redis|memory]\n" +
        "                     [--pg-pool N] [--jitter MS] [--ramp MS] [--warmup N] [--context-limit TOKENS] [--timeout SEC]\n" +
        "                     [--cpu-prof DIR]",
    );
    process.exit(0);
  }
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`--${name} must be an integer from ${min} to ${max} (got ${raw})`);
    }
    return value;
  };
  const coordination = values.coordination ?? "redis";
  if (coordination !== "redis" && coordination !== "memory") {
    throw new Error(`--coordination must be redis or memory (got ${coordination})`);
  }
  const latencies = (values.latency ?? "0,200")
    .split(",")
    .map((part) => int("latency", part.trim(), 0, 0, 600_000));
  return {
    debates: int("debates", values.debates, 200, 1, 100_000),
    rounds: int("rounds", values.rounds, 5, 1, 50),
    latencies,
    coordination,
    pgPool: int("pg-pool", values["pg-pool"], 10, 1, 90),
    jitter: int("jitter", values.jitter, 0, 0, 600_000),
    ramp: int("ramp", values.ramp, 0, 0, 600_000),
    warmup: int("warmup", values.warmup, 20, 0, 10_000),
    contextLimit: values["context-limit"]
      ? int("context-limit", values["context-limit"], 6000, 1000, 1_000_000)
      : null,
    timeoutSec: int("timeout", values.timeout, 100, 1, 86_400),
    cpuProfDir: values["cpu-prof"] ?? null,
    scenario: values.scenario ?? false,
  };
}

function scenarioArgs(options: Options, latency: number): string[] {
  return [
    "--debates",
    String(options.debates),
    "--rounds",
    String(options.rounds),
    "--latency",
    String(latency),
    "--coordination",
    options.coordination,
    "--pg-pool",
    String(options.pgPool),
    "--jitter",
    String(options.jitter),
    "--ramp",
    String(options.ramp),
    "--warmup",
    String(options.warmup),
    "--timeout",
    String(options.timeoutSec),
    ...(options.contextLimit ? ["--context-limit", String(options.contextLimit)] : []),
    "--scenario",
  ];
}

// ─── statistics helpers ─────────────────────────────────────────────────────────────────────

interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return {
    count: sorted.length,
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted.at(-1)!,
  };
}

/** Samples of named operations, recorded only while `on`. */
class Recorder {
  on = false;
  readonly samples = new Map<string, number[]>();
  add(name: string, value: number) {
    if (!this.on) return;
    let list = this.samples.get(name);
    if (!list) {
      list = [];
      this.samples.set(name, list);
    }
    list.push(value);
  }
  summaries(): Record<string, Summary> {
    return Object.fromEntries([...this.samples].map(([name, list]) => [name, summarize(list)]));
  }
}

/** CPU ticks (utime + stime) of the processes whose command name matches; null without /proc. */
function processTicks(match: (comm: string) => boolean): number | null {
  try {
    let total = 0;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        if (!match(stat.slice(stat.indexOf("(") + 1, close))) continue;
        const fields = stat.slice(close + 2).split(" ");
        total += Number(fields[11]) + Number(fields[12]);
      } catch {
        // The process ended while we looked.
      }
    }
    return total;
  } catch {
    return null;
  }
}

/** Whole-machine busy and total jiffies from /proc/stat; null without /proc. */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Linux reports process CPU in clock ticks of 10 ms (USER_HZ = 100). */
const TICK_MS = 10;

// ─── one scenario (runs in its own process) ─────────────────────────────────────────────────

interface ScenarioResult {
  latencyMs: number;
  debates: number;
  rounds: number;
  coordination: string;
  pgPool: number;
  jitterMs: number;
  /** Starts spread evenly over this many ms. */
  rampMs: number;
  warmupDebates: number;
  wallSec: number;
  finished: number;
  stopReasons: Record<string, number>;
  turns: number;
  debatesPerSec: number;
  turnsPerSec: number;
  /** Turns/s between the 10th and 90th percentile turn-end times (without ramp-up and tail). */
  sustainedTurnsPerSec: number;
  /** Epoch ms of the measured window, to cut a CPU profile to it. */
  window: { startEpochMs: number; endEpochMs: number };
  /**
   * Turn wall minus the LLM HTTP time. The wall runs from the end of the debate's previous turn
   * (turn-end published) to this turn's turn-end, so the work before turn-start counts too; for a
   * debate's first turn it starts at turn-start.
   */
  overhead: Summary;
  /** Only turn-start published → turn-end published, minus the LLM HTTP time. */
  /** Turn wall minus the adapter's latency_ms (1 ms resolution, SDK parsing counted as LLM time). */
  overheadByLatencyMs: Summary;
  turnWall: Summary;
  llmHttp: Summary;
  llmLatencyMs: Summary;
  /** From the end of one LLM call of a debate to the start of its next: time spent on neither. */
  betweenCalls: Summary;
  pickup: Summary;
  rss: {
    baselineMb: number;
    baselineHeapMb: number;
    peakMb: number;
    afterGcMb: number;
    afterGcHeapMb: number;
    kernelMaxMb: number | null;
    fakeMaxMb: number;
  };
  tokens: {
    billedDb: number;
    billedFake: number;
    naiveFullHistory: number;
    cachedDb: number;
    outputDb: number;
    summaryCalls: number;
    costUsd: string;
  };
  cpu: {
    engineMsPerTurn: number;
    /** The kernel's share of the engine's CPU (syscalls: socket writes and reads, polling). */
    engineSystemMsPerTurn: number;
    fakeMsPerTurn: number | null;
    postgresMsPerTurn: number | null;
    redisMsPerTurn: number | null;
    machineBusyPct: number | null;
    /** Machine CPU used by anything else than the engine, the fake, Postgres and Redis (other work on the box). */
    otherPct: number | null;
    cores: number;
  };
  profile: {
    /** Step statements per turn (each carries the steps of the debates that wrote together). */
    stepStatementsPerTurn: number;
    stepStatements: Record<string, Summary>;
    coordination: Record<string, Summary>;
    events: Record<string, number>;
    tokenizerUsPerTurn: number;
    logLinesPerTurn: number;
    logBytesPerTurn: number;
    loopLag: Summary;
    unattributedLlmCalls: number;
  };
  /** Correctness problems (a debate not finished, a warning logged, …): the run exits non-zero. */
  problems: string[];
  /** Measurement caveats (other load on the machine): reported, not failures. */
  notes: string[];
}

const BENCH_TOPIC = (index: number) =>
  `Bench debate #${index}: should mid-sized cities replace private cars in the centre with trams and bikes?`;
const TOPIC_NUMBER = /Bench debate #(\d+)/;

async function spawnFakeLlm(latency: number, jitter: number) {
  let resolveReady!: (url: string) => void;
  let resolveStats: ((stats: FakeLlmStats) => void) | undefined;
  const ready = new Promise<string>((resolve) => {
    resolveReady = resolve;
  });
  const child = Bun.spawn(
    [
      process.execPath,
      new URL("./fake-llm-server.ts", import.meta.url).pathname,
      "--latency",
      String(latency),
      "--jitter",
      String(jitter),
    ],
    {
      stdout: "inherit",
      stderr: "inherit",
      ipc(message: { type?: string; url?: string; stats?: FakeLlmStats }) {
        if (message.type === "ready" && message.url) resolveReady(message.url);
        if (message.type === "stats" && message.stats) resolveStats?.(message.stats);
      },
    },
  );
  const url = await Promise.race([
    ready,
    child.exited.then((code) => {
      throw new Error(`fake LLM server exited early (code ${code})`);
    }),
  ]);
  return {
    url,
    pid: child.pid,
    stats(): Promise<FakeLlmStats> {
      return new Promise((resolve) => {
        resolveStats = resolve;
        child.send({ type: "stats" });
      });
    },
    async stop() {
      try {
        child.send({ type: "stop" });
      } catch {
        child.kill();
      }
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await child.exited;
      clearTimeout(timer);
    },
  };
}

async function runScenario(options: Options): Promise<ScenarioResult> {
  const latency = options.latencies[0] ?? 0;
  const problems: string[] = [];
  const notes: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      await step().catch((error: unknown) => console.error("  cleanup step failed:", error));
    }
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const log = (line: string) => console.log(`  [${latency} ms] ${line}`);

    // Fake LLM in its own process.
    const fake = await spawnFakeLlm(latency, options.jitter);
    cleanups.push(() => fake.stop());

    // A fresh database, dropped at the end.
    const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/postgres";
    const dbName = `rt_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${dbName}"`);
    await admin.end();
    cleanups.push(async () => {
      const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists "${dbName}" with (force)`);
      } finally {
        await dropper.end();
      }
    });
    const dbUrl = new URL(adminUrl);
    dbUrl.pathname = `/${dbName}`;
    const database = createPostgresDatabase(dbUrl.toString(), { max: options.pgPool });
    cleanups.push(() => database.close());
    await database.migrate();
    const db: Db = database.db;

    // Coordination, with a random Redis prefix removed at the end.
    const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/0";
    const prefix = `rt-bench:${crypto.randomUUID()}:`;
    const baseLogger = createLogger({ level: "warn", write: (line) => console.error(`  ${line}`) });
    const inner: Coordination =
      options.coordination === "redis"
        ? await createRedisCoordination({ url: redisUrl, prefix, logger: baseLogger })
        : createMemoryCoordination();
    if (options.coordination === "redis") {
      cleanups.push(async () => {
        const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
        await redis.connect();
        try {
          let cursor = "0";
          do {
            const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
            cursor = next;
            if (keys.length > 0) await redis.del(...keys);
          } while (cursor !== "0");
        } finally {
          await redis.quit();
        }
      });
    }
    cleanups.push(() => inner.close());

    // ── instrumentation ──
    const ops = new Recorder();
    const stepStatements = new Recorder();
    const eventCounts = new Map<string, number>();
    const measured = new Set<string>();
    const sessionByNumber = new Map<number, string>();
    const endWaiters = new Map<string, () => void>();
    const startCalledAt = new Map<string, number>();
    const firstTurnStart = new Map<string, number>();
    /** Every LLM call of a debate, in the order they were made. */
    const llmCalls = new Map<string, { startedAt: number; lastAt: number; summary: boolean }[]>();
    let unattributedLlmCalls = 0;
    interface TurnTiming {
      sessionId: string;
      turnIndex: number;
      start: number;
      end: number;
    }
    const turnStarts = new Map<string, number>();
    const turns: TurnTiming[] = [];

    const onEvent = (message: string, calledAt: number, doneAt: number) => {
      // Events are JSON objects whose first field is `type`: cheap to spot the three we time.
      const head = message.slice(0, 24);
      if (
        !head.startsWith('{"type":"turn-start"') &&
        !head.startsWith('{"type":"turn-end"') &&
        !head.startsWith('{"type":"session-end"')
      ) {
        return;
      }
      const event = JSON.parse(message) as { type: string; sessionId: string; turnIndex?: number };
      if (event.type === "session-end") endWaiters.get(event.sessionId)?.();
      if (!measured.has(event.sessionId)) return;
      const key = `${event.sessionId}:${event.turnIndex}`;
      if (event.type === "turn-start") {
        turnStarts.set(key, calledAt);
        if (!firstTurnStart.has(event.sessionId)) firstTurnStart.set(event.sessionId, calledAt);
      } else if (event.type === "turn-end") {
        const start = turnStarts.get(key);
        if (start !== undefined) {
          turns.push({
            sessionId: event.sessionId,
            turnIndex: event.turnIndex ?? -1,
            start,
            end: doneAt,
          });
        }
      }
    };

    const coordination = { kind: inner.kind } as Coordination;
    for (const name of Object.keys(inner) as (keyof Coordination)[]) {
      const original = inner[name];
      if (typeof original !== "function") continue;
      const bound = (original as (...args: unknown[]) => Promise<unknown>).bind(inner);
      (coordination as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
        const calledAt = performance.now();
        try {
          return await bound(...args);
        } finally {
          const doneAt = performance.now();
          ops.add(name, doneAt - calledAt);
          if (name === "publish" && ops.on) {
            const channel = String(args[0]);
            const message = String(args[1]);
            const type = /^\{"type":"([^"]+)"/.exec(message)?.[1] ?? channel;
            eventCounts.set(type, (eventCounts.get(type) ?? 0) + 1);
          }
          if (name === "publish" && args[0] === "debate:events") onEvent(String(args[1]), calledAt, doneAt);
        }
      };
    }

    // Time every step statement (the turn writes of the debates that finished a turn together) and
    // count them; they go through postgres.js' \`unsafe\` as prepared statements.
    const client = (db as unknown as { $client: postgres.Sql }).$client;
    const originalUnsafe = client.unsafe.bind(client);
    (client as unknown as { unsafe: unknown }).unsafe = (...args: Parameters<postgres.Sql["unsafe"]>) => {
      const query = originalUnsafe(...args);
      if (stepStatements.on && args[0].includes("jsonb_to_recordset($1")) {
        const calledAt = performance.now();
        query.then(
          () => stepStatements.add("statement", performance.now() - calledAt),
          () => {},
        );
      }
      return query;
    };

    // LLM HTTP time per call (request sent → last chunk of the stream received), attributed to its
    // debate through the topic number in the request body. The SDK may stop reading at `[DONE]`
    // without draining the body, so the time of the last chunk seen is kept, not the end of the stream.
    const timedFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const summary = typeof init?.body === "string" && init.body.includes('"You summarise');
      const call = { startedAt: performance.now(), lastAt: performance.now(), summary };
      const number = typeof init?.body === "string" ? TOPIC_NUMBER.exec(init.body)?.[1] : undefined;
      const sessionId = number === undefined ? undefined : sessionByNumber.get(Number(number));
      if (sessionId === undefined) unattributedLlmCalls += 1;
      else llmCalls.get(sessionId)?.push(call);
      const response = await fetch(input, init);
      call.lastAt = performance.now();
      if (!response.body) return response;
      const body = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            call.lastAt = performance.now();
            controller.enqueue(chunk);
          },
        }),
      );
      return new Response(body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    }) as typeof fetch;

    let logLines = 0;
    let logBytes = 0;
    const logger = createLogger({
      level: "info",
      write: (line) => {
        // Production writes these JSON lines to stdout; here they are built the same way and dropped.
        logLines += 1;
        logBytes += line.length + 1;
        if (line.includes('"level":"warn"') || line.includes('"level":"error"')) {
          if (problems.length < 20) problems.push(line.slice(0, 400));
        }
      },
    });

    // ── the app, composed as in src/app.ts ──
    const secretsKey = generateSecretKey();
    const config = createConfig({
      NODE_ENV: "production",
      SECRETS_KEY: secretsKey,
      LOG_LEVEL: "info",
      OPENAI_API_KEY: "sk-bench-openai-000000000000",
      DEEPSEEK_API_KEY: "sk-bench-deepseek-0000000000",
      OPENAI_BASE_URL: fake.url,
      DEEPSEEK_BASE_URL: fake.url,
      OPENAI_MODEL: "gpt-bench",
      DEEPSEEK_MODEL: "deepseek-bench",
    });
    // The product's own wiring (no HTTP server, no bot): the engine on the instrumented stores.
    const app = await createApp({
      config,
      logger,
      database,
      coordination,
      // Production defaults (poll 250 ms, lease 15 s, deltas every 250 ms), room for every debate.
      tuning: {
        engine: {
          scheduler: { maxConcurrent: Math.max(500, options.debates) },
          models: { fetch: timedFetch },
        },
      },
    });
    await app.services.settings.update(
      {
        MAX_ROUNDS: options.rounds,
        TURN_TIMEOUT_SEC: 600,
        SESSION_TIMEOUT_SEC: 86_400,
        SESSION_TOKEN_LIMIT: 100_000_000,
        // 0 = no cost limit.
        SESSION_COST_LIMIT_USD: "0",
        ...(options.contextLimit ? { CONTEXT_TOKEN_LIMIT: options.contextLimit } : {}),
      },
      "bench",
    );
    await app.start();
    cleanups.push(() => app.stop());
    const engine = app.engine;

    const createDebates = async (first: number, count: number) => {
      const ids: string[] = [];
      const batch = 50;
      for (let offset = 0; offset < count; offset += batch) {
        const created = await Promise.all(
          Array.from({ length: Math.min(batch, count - offset) }, (_, i) =>
            engine.debate.createSession({
              topic: BENCH_TOPIC(first + offset + i),
              maxRounds: options.rounds,
              source: "api",
              language: "en",
              // Turn throughput of today's round table: no moderator's call after the last round.
              format: "roundtable",
              verdict: false,
            }),
          ),
        );
        created.forEach((detail, i) => {
          sessionByNumber.set(first + offset + i, detail.session.id);
          llmCalls.set(detail.session.id, []);
          ids.push(detail.session.id);
        });
      }
      return ids;
    };
    const runDebates = async (ids: string[], timeoutMs: number) => {
      const ended = Promise.all(
        ids.map(
          (id) =>
            new Promise<void>((resolve) => {
              endWaiters.set(id, resolve);
            }),
        ),
      );
      // All at once by default (the hardest case: with a fixed latency every debate's turns land
      // together); --ramp spreads the starts, as users starting debates at different moments do.
      await Promise.all(
        ids.map(async (id, index) => {
          const delayMs = (options.ramp * index) / ids.length;
          if (delayMs > 0) await Bun.sleep(delayMs);
          startCalledAt.set(id, performance.now());
          return engine.debate.startSession(id);
        }),
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      });
      const late = await Promise.race([ended.then(() => false), timedOut]);
      clearTimeout(timer);
      return !late;
    };

    if (options.warmup > 0) {
      log(`warm-up: ${options.warmup} debates`);
      const warm = await createDebates(1_000_000, options.warmup);
      if (!(await runDebates(warm, options.timeoutSec * 1000))) problems.push("warm-up timed out");
    }

    log(`creating ${options.debates} debates`);
    const ids = await createDebates(0, options.debates);
    for (const id of ids) measured.add(id);
    Bun.gc(true);

    // ── samplers ──
    const baselineRss = process.memoryUsage().rss;
    const baselineHeap = process.memoryUsage().heapUsed;
    let peakRss = baselineRss;
    const rssTimer = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, 50);
    const loopLag: number[] = [];
    let lagExpected = performance.now() + 10;
    let lagTimer: ReturnType<typeof setTimeout> | undefined;
    const lagTick = () => {
      const now = performance.now();
      loopLag.push(Math.max(0, now - lagExpected));
      lagExpected = now + 10;
      lagTimer = setTimeout(lagTick, 10);
    };
    lagTimer = setTimeout(lagTick, 10);

    const isPostgres = (comm: string) => comm === "postgres" || comm.startsWith("postgres:");
    const isRedis = (comm: string) => comm.startsWith("redis-server");
    const fakeBefore = await fake.stats();
    const pgBefore = processTicks(isPostgres);
    const redisBefore = processTicks(isRedis);
    const machineBefore = machineTicks();
    const cpuBefore = process.cpuUsage();

    log(`running ${options.debates} debates × 2 models × ${options.rounds} rounds`);
    ops.on = true;
    stepStatements.on = true;
    const t0 = performance.now();
    const startEpochMs = Date.now();
    const completed = await runDebates(ids, options.timeoutSec * 1000);
    const t1 = performance.now();
    const endEpochMs = Date.now();
    ops.on = false;
    stepStatements.on = false;

    const cpuAfter = process.cpuUsage(cpuBefore);
    const machineAfter = machineTicks();
    const pgAfter = processTicks(isPostgres);
    const redisAfter = processTicks(isRedis);
    const fakeAfter = await fake.stats();
    clearInterval(rssTimer);
    clearTimeout(lagTimer);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    Bun.gc(true);
    const afterGcRss = process.memoryUsage().rss;
    const afterGcHeap = process.memoryUsage().heapUsed;
    if (!completed) problems.push(`not every debate ended within ${options.timeoutSec} s`);

    // ── what Postgres holds ──
    const sessionRows = await db
      .select({ id: sessions.id, status: sessions.status, stopReason: sessions.stopReason })
      .from(sessions)
      .where(inArray(sessions.id, ids));
    const stopReasons: Record<string, number> = {};
    for (const row of sessionRows) {
      const key = `${row.status}/${row.stopReason ?? "-"}`;
      stopReasons[key] = (stopReasons[key] ?? 0) + 1;
    }
    const finished = sessionRows.filter((row) => row.stopReason === "max_rounds").length;
    const rows = await db
      .select({
        sessionId: messages.sessionId,
        turnIndex: messages.turnIndex,
        authorType: messages.authorType,
        authorName: messages.authorName,
        content: messages.content,
        tokensIn: messages.tokensIn,
        tokensOut: messages.tokensOut,
        cachedTokens: messages.cachedTokens,
        cost: messages.cost,
        latencyMs: messages.latencyMs,
      })
      .from(messages)
      .where(inArray(messages.sessionId, ids));
    const modelRows = rows.filter((row) => row.authorType === "model");
    const llmRows = rows.filter((row) => row.authorType === "model" || row.authorType === "summary");
    const latencyByTurn = new Map(
      modelRows.map((row) => [`${row.sessionId}:${row.turnIndex}`, row.latencyMs]),
    );
    const expectedTurns = options.debates * 2 * options.rounds;
    if (modelRows.length !== expectedTurns) {
      problems.push(`expected ${expectedTurns} model turns in Postgres, found ${modelRows.length}`);
    }
    const costMicros = llmRows.reduce((sum, row) => sum + Math.round(Number(row.cost) * 1e8), 0);

    // Tokenizer cost: each turn's text is counted once raw (its author's view) and once as
    // "Name: text" (the others' view); the runner caches counts per distinct text.
    const texts = modelRows.flatMap((row) => [row.content, `${row.authorName}: ${row.content}`]);
    for (const text of texts.slice(0, 200)) messageTokens(`${text} warm`);
    const tokenizeStart = performance.now();
    for (const text of texts) messageTokens(text);
    const tokenizerUsPerTurn = ((performance.now() - tokenizeStart) * 1000) / Math.max(1, modelRows.length);

    // The k-th turn call of a debate made its k-th model turn (the next call starts before the
    // previous turn's write lands, so calls are matched by order, not by time); a summary call
    // counts towards the turn it was made for, the next one.
    const llmByTurn = new Map<string, { http: number; firstStart: number; lastEnd: number }>();
    const betweenCalls: number[] = [];
    const turnIndexes = Map.groupBy(
      modelRows.toSorted((a, b) => a.turnIndex - b.turnIndex),
      (row) => row.sessionId,
    );
    for (const [sessionId, calls] of llmCalls) {
      const indexes = turnIndexes.get(sessionId) ?? [];
      let http = 0;
      let firstStart: number | null = null;
      let turn = 0;
      calls.forEach((call, index) => {
        if (index > 0 && measured.has(sessionId))
          betweenCalls.push(call.startedAt - calls[index - 1]!.lastAt);
        http += call.lastAt - call.startedAt;
        firstStart ??= call.startedAt;
        if (call.summary) return;
        const row = indexes[turn++];
        if (row) llmByTurn.set(`${sessionId}:${row.turnIndex}`, { http, firstStart, lastEnd: call.lastAt });
        http = 0;
        firstStart = null;
      });
    }

    const turnCount = modelRows.length;
    const wallMs = t1 - t0;
    const overhead: number[] = [];
    const overheadByLatency: number[] = [];
    const walls: number[] = [];
    const http: number[] = [];
    // A turn lasts from the end of the previous turn's LLM call (the first turn: from its turn-start)
    // to its turn-end event; the next turn's call starts while this one's write is still landing.
    const previousCallEnd = new Map<string, number>();
    for (const turn of turns.toSorted((a, b) => a.turnIndex - b.turnIndex)) {
      const key = `${turn.sessionId}:${turn.turnIndex}`;
      const llm = llmByTurn.get(key);
      if (llm === undefined) continue;
      const wall = turn.end - (previousCallEnd.get(turn.sessionId) ?? turn.start);
      previousCallEnd.set(turn.sessionId, llm.lastEnd);
      walls.push(wall);
      http.push(llm.http);
      overhead.push(wall - llm.http);
      const latencyMs = latencyByTurn.get(`${turn.sessionId}:${turn.turnIndex}`);
      if (latencyMs !== undefined && latencyMs !== null) overheadByLatency.push(wall - latencyMs);
    }
    const pickup = ids
      .map((id) => (firstTurnStart.get(id) ?? Number.NaN) - (startCalledAt.get(id) ?? Number.NaN))
      .filter(Number.isFinite);
    const ends = turns.map((turn) => turn.end).sort((a, b) => a - b);
    const p10 = ends[Math.floor(ends.length * 0.1)] ?? 0;
    const p90 = ends[Math.floor(ends.length * 0.9)] ?? 0;
    const sustainedTurnsPerSec =
      p90 > p10 ? (Math.floor(ends.length * 0.9) - Math.floor(ends.length * 0.1)) / ((p90 - p10) / 1000) : 0;
    const cores = typeof availableParallelism === "function" ? availableParallelism() : cpus().length;
    const ownMs =
      (cpuAfter.user + cpuAfter.system) / 1000 +
      (fakeAfter.cpuUserMs + fakeAfter.cpuSystemMs - fakeBefore.cpuUserMs - fakeBefore.cpuSystemMs) +
      ((pgAfter ?? 0) - (pgBefore ?? 0) + (redisAfter ?? 0) - (redisBefore ?? 0)) * TICK_MS;
    const machineBusyMs =
      machineBefore && machineAfter ? (machineAfter.busy - machineBefore.busy) * TICK_MS : null;
    const otherPct =
      machineBusyMs === null ? null : Math.max(0, (100 * (machineBusyMs - ownMs)) / (wallMs * cores));
    if (otherPct !== null && otherPct > 10) {
      notes.push(
        `other processes used ~${otherPct.toFixed(0)}% of the machine's CPU during the run: figures are pessimistic`,
      );
    }
    const perTurn = (value: number | null) => (value === null ? null : value / Math.max(1, turnCount));
    const statements = stepStatements.samples.get("statement")?.length ?? 0;

    const result: ScenarioResult = {
      latencyMs: latency,
      debates: options.debates,
      rounds: options.rounds,
      coordination: options.coordination,
      pgPool: options.pgPool,
      jitterMs: options.jitter,
      rampMs: options.ramp,
      warmupDebates: options.warmup,
      wallSec: wallMs / 1000,
      finished,
      stopReasons,
      turns: turnCount,
      debatesPerSec: finished / (wallMs / 1000),
      turnsPerSec: turnCount / (wallMs / 1000),
      sustainedTurnsPerSec,
      window: { startEpochMs, endEpochMs },
      overhead: summarize(overhead),
      overheadByLatencyMs: summarize(overheadByLatency),
      turnWall: summarize(walls),
      llmHttp: summarize(http),
      llmLatencyMs: summarize(modelRows.map((row) => row.latencyMs ?? 0)),
      betweenCalls: summarize(betweenCalls),
      pickup: summarize(pickup),
      rss: {
        baselineMb: baselineRss / 2 ** 20,
        baselineHeapMb: baselineHeap / 2 ** 20,
        afterGcMb: afterGcRss / 2 ** 20,
        afterGcHeapMb: afterGcHeap / 2 ** 20,
        peakMb: peakRss / 2 ** 20,
        kernelMaxMb: kernelMaxRssMb(),
        fakeMaxMb: fakeAfter.maxRssBytes / 2 ** 20,
      },
      tokens: {
        billedDb: llmRows.reduce((sum, row) => sum + row.tokensIn, 0),
        billedFake: fakeAfter.promptTokens - fakeBefore.promptTokens,
        naiveFullHistory: fakeAfter.naivePromptTokens - fakeBefore.naivePromptTokens,
        cachedDb: llmRows.reduce((sum, row) => sum + row.cachedTokens, 0),
        outputDb: llmRows.reduce((sum, row) => sum + row.tokensOut, 0),
        summaryCalls: fakeAfter.summaryRequests - fakeBefore.summaryRequests,
        costUsd: (costMicros / 1e8).toFixed(6),
      },
      cpu: {
        engineMsPerTurn: (cpuAfter.user + cpuAfter.system) / 1000 / Math.max(1, turnCount),
        engineSystemMsPerTurn: cpuAfter.system / 1000 / Math.max(1, turnCount),
        fakeMsPerTurn: perTurn(
          fakeAfter.cpuUserMs + fakeAfter.cpuSystemMs - fakeBefore.cpuUserMs - fakeBefore.cpuSystemMs,
        ),
        postgresMsPerTurn:
          pgBefore === null || pgAfter === null ? null : perTurn((pgAfter - pgBefore) * TICK_MS),
        redisMsPerTurn:
          redisBefore === null || redisAfter === null || options.coordination !== "redis"
            ? null
            : perTurn((redisAfter - redisBefore) * TICK_MS),
        machineBusyPct:
          machineBefore && machineAfter
            ? (100 * (machineAfter.busy - machineBefore.busy)) /
              Math.max(1, machineAfter.total - machineBefore.total)
            : null,
        otherPct,
        cores,
      },
      profile: {
        stepStatementsPerTurn: statements / Math.max(1, turnCount),
        stepStatements: stepStatements.summaries(),
        coordination: ops.summaries(),
        events: Object.fromEntries(eventCounts),
        tokenizerUsPerTurn,
        logLinesPerTurn: logLines / Math.max(1, turnCount),
        logBytesPerTurn: logBytes / Math.max(1, turnCount),
        loopLag: summarize(loopLag),
        unattributedLlmCalls,
      },
      problems,
      notes,
    };
    // Log lines and bytes above cover the whole process life; scale them to the measured part.
    result.profile.logLinesPerTurn = logLines / Math.max(1, turnCount + options.warmup * 2 * options.rounds);
    result.profile.logBytesPerTurn = logBytes / Math.max(1, turnCount + options.warmup * 2 * options.rounds);
    if (unattributedLlmCalls > 0) problems.push(`${unattributedLlmCalls} LLM calls could not be attributed`);
    // Check nothing of the run is left behind before handing the figures back.
    const leftover = await db
      .select({ id: sessions.id })
      .from(sessions)
      .where(eq(sessions.status, "running"));
    if (leftover.length > 0) problems.push(`${leftover.length} sessions still running at the end`);
    return result;
  } finally {
    await cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function kernelMaxRssMb(): number | null {
  try {
    // ru_maxrss, in kilobytes on Linux.
    return process.resourceUsage().maxRSS / 1024;
  } catch {
    return null;
  }
}

// ─── report ─────────────────────────────────────────────────────────────────────────────────

const ms = (value: number) =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
const int = (value: number) => Math.round(value).toLocaleString("en-US");
const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "n/a");

function report(result: ScenarioResult, showWindow = false): string {
  const lines: string[] = [];
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(24)}${text}`);
  const dist = (summary: Summary) =>
    `p50 ${ms(summary.p50)} ms, p90 ${ms(summary.p90)} ms, p99 ${ms(summary.p99)} ms, max ${ms(summary.max)} ms`;
  lines.push(
    `── LLM latency ${result.latencyMs} ms${result.jitterMs ? ` (+0–${result.jitterMs} ms jitter)` : ""}, ` +
      `${result.rampMs > 0 ? `starts spread over ${result.rampMs} ms` : "all debates started at once"} ──`,
  );
  row(
    "run",
    `${result.wallSec.toFixed(2)} s wall, ${int(result.turns)} turns committed, ${result.finished}/${result.debates} debates ` +
      `finished (${Object.entries(result.stopReasons)
        .map(([reason, count]) => `${reason} ×${count}`)
        .join(", ")})`,
  );
  row(
    "throughput",
    `${result.debatesPerSec.toFixed(1)} debates/s, ${int(result.turnsPerSec)} turns/s ` +
      `(sustained ${int(result.sustainedTurnsPerSec)} turns/s between the 10th and 90th percentile turn)`,
  );
  row("overhead per turn", `${dist(result.overhead)}  (turn wall − LLM HTTP time)`);
  row("  via latency_ms", `${dist(result.overheadByLatencyMs)}  (turn wall − adapter latency_ms)`);
  row("turn wall", `${dist(result.turnWall)}  (previous turn's LLM call ends → turn-end event)`);
  row("LLM HTTP time", dist(result.llmHttp));
  row("adapter latency_ms", `p50 ${ms(result.llmLatencyMs.p50)} ms, p99 ${ms(result.llmLatencyMs.p99)} ms`);
  row("between LLM calls", `${dist(result.betweenCalls)}  (one call's last chunk → the next call)`);
  row("start → first turn", dist(result.pickup));
  row(
    "peak RSS",
    `${result.rss.peakMb.toFixed(0)} MB sampled every 50 ms` +
      `${result.rss.kernelMaxMb === null ? "" : ` (kernel high-water mark ${result.rss.kernelMaxMb.toFixed(0)} MB)`}; ` +
      `before the run ${result.rss.baselineMb.toFixed(0)} MB (JS heap ${result.rss.baselineHeapMb.toFixed(0)} MB), ` +
      `after it and a full GC ${result.rss.afterGcMb.toFixed(0)} MB (JS heap ${result.rss.afterGcHeapMb.toFixed(0)} MB)`,
  );
  row("  fake LLM process", `${result.rss.fakeMaxMb.toFixed(0)} MB (separate process, not included)`);
  const tokens = result.tokens;
  row(
    "input tokens",
    `billed ${int(tokens.billedDb)} vs full-history resend ${int(tokens.naiveFullHistory)} ` +
      `(${pct(tokens.billedDb, tokens.naiveFullHistory)}; ${tokens.summaryCalls} summary calls)`,
  );
  row(
    "  cached",
    `${int(tokens.cachedDb)} (${pct(tokens.cachedDb, tokens.billedDb)} of billed input; simulated ideal prefix cache ` +
      `in the fake, 64-token blocks); output ${int(tokens.outputDb)}; cost $${tokens.costUsd}`,
  );
  if (tokens.billedDb !== tokens.billedFake) {
    row("  check", `Postgres tokens_in ${int(tokens.billedDb)} ≠ fake reported ${int(tokens.billedFake)}`);
  }
  lines.push("  where the time goes (per turn):");
  const cpu = result.cpu;
  const opt = (value: number | null, suffix = " ms") =>
    value === null ? "n/a" : `${value.toFixed(2)}${suffix}`;
  row(
    "  CPU",
    `engine ${opt(cpu.engineMsPerTurn)} (kernel ${opt(cpu.engineSystemMsPerTurn)}), fake LLM ${opt(cpu.fakeMsPerTurn)}, Postgres ${opt(cpu.postgresMsPerTurn)}, ` +
      `Redis ${opt(cpu.redisMsPerTurn)}; machine ${cpu.machineBusyPct === null ? "n/a" : `${cpu.machineBusyPct.toFixed(0)}%`} ` +
      `busy of ${cpu.cores} cores` +
      `${cpu.otherPct === null ? "" : ` (other processes ${cpu.otherPct.toFixed(0)}%)`}`,
  );
  const { stepStatements } = result.profile;
  const brief = (summary: Summary | undefined) =>
    summary ? `p50 ${ms(summary.p50)} / p99 ${ms(summary.p99)} ms` : "n/a";
  row(
    "  Postgres step writes",
    `${result.profile.stepStatementsPerTurn.toFixed(2)} statements/turn (≈ ${(1 / Math.max(0.001, result.profile.stepStatementsPerTurn)).toFixed(0)} ` +
      `turns each), ${brief(stepStatements.statement)} (one statement, no BEGIN/COMMIT)`,
  );
  const turnsCount = Math.max(1, result.turns);
  for (const [name, summary] of Object.entries(result.profile.coordination).sort(
    (a, b) => b[1].count - a[1].count,
  )) {
    row(
      `  ${result.coordination} ${name}`,
      `${(summary.count / turnsCount).toFixed(2)}/turn, ${brief(summary)}`,
    );
  }
  row(
    "  events published",
    Object.entries(result.profile.events)
      .map(([type, count]) => `${type} ${(count / turnsCount).toFixed(2)}`)
      .join(", "),
  );
  row(
    "  tokenizer",
    `${result.profile.tokenizerUsPerTurn.toFixed(0)} µs (re-counting this run's new texts with gpt-tokenizer after the run)`,
  );
  row(
    "  JSON logging",
    `${result.profile.logLinesPerTurn.toFixed(2)} lines, ${int(result.profile.logBytesPerTurn)} bytes (built, not written)`,
  );
  row("  event-loop lag", dist(result.profile.loopLag));
  if (showWindow)
    row("measured window", `${result.window.startEpochMs}–${result.window.endEpochMs} (epoch ms)`);
  for (const note of result.notes) lines.push(`  note: ${note}`);
  if (result.problems.length > 0) {
    lines.push("  problems:");
    for (const problem of result.problems) lines.push(`    - ${problem}`);
  }
  return lines.join("\n");
}

function targets(results: ScenarioResult[]): string {
  const lines = ["── targets (issue #3, 2-core machine) ──"];
  const check = (ok: boolean, text: string) => lines.push(`  ${ok ? "MET   " : "MISSED"}  ${text}`);
  const zero = results.find((result) => result.latencyMs === 0 && result.debates >= 200);
  const slow = results.find((result) => result.latencyMs === 200 && result.debates >= 200);
  if (zero) check(zero.turnsPerSec >= 1000, `≥ 1 000 turns/s at 0 ms: ${int(zero.turnsPerSec)} turns/s`);
  if (slow) {
    check(slow.overhead.p50 <= 2, `overhead p50 ≤ 2 ms at 200 ms: ${ms(slow.overhead.p50)} ms`);
    check(slow.overhead.p99 <= 20, `overhead p99 ≤ 20 ms at 200 ms: ${ms(slow.overhead.p99)} ms`);
    lines.push(
      `          (the debates' pace, one call's end → the next call: p50 ${ms(slow.betweenCalls.p50)} ms, ` +
        `p99 ${ms(slow.betweenCalls.p99)} ms; the overhead above also holds the turn's write and turn-end event)`,
    );
  }
  for (const result of results) {
    if (result.debates >= 200) {
      check(
        result.rss.peakMb < 300,
        `${result.debates} concurrent debates under 300 MB RSS (${result.latencyMs} ms): ${result.rss.peakMb.toFixed(1)} MB sampled` +
          `${result.rss.kernelMaxMb === null ? "" : `, kernel high-water mark ${result.rss.kernelMaxMb.toFixed(0)} MB`}`,
      );
    }
  }
  if (lines.length === 1) lines.push("  (the targets apply to --latency 0 / 200 with ≥ 200 debates)");
  return lines.join("\n");
}

// ─── main ───────────────────────────────────────────────────────────────────────────────────

async function runScenarioProcess(options: Options, latency: number): Promise<ScenarioResult | null> {
  let result: ScenarioResult | null = null;
  const runtimeFlags = options.cpuProfDir
    ? [
        "--cpu-prof",
        "--cpu-prof-md",
        `--cpu-prof-dir=${options.cpuProfDir}`,
        `--cpu-prof-name=bench-${latency}ms`,
      ]
    : [];
  const child = Bun.spawn(
    [process.execPath, ...runtimeFlags, import.meta.path, ...scenarioArgs(options, latency)],
    {
      stdout: "inherit",
      stderr: "inherit",
      ipc(message: { type?: string; result?: ScenarioResult }) {
        if (message.type === "result" && message.result) result = message.result;
      },
    },
  );
  const code = await child.exited;
  if (code !== 0) console.error(`  scenario ${latency} ms exited with code ${code}`);
  return result;
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.scenario) {
    const result = await runScenario(options);
    if (process.send) process.send({ type: "result", result });
    else console.log(report(result));
    // Give the IPC message time to leave before exiting.
    await Bun.sleep(50);
    process.exit(0);
  }
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const cores = typeof availableParallelism === "function" ? availableParallelism() : cpus().length;
  console.log(
    `Round Table debate throughput: ${options.debates} debates × 2 models × ${options.rounds} rounds, ` +
      `coordination ${options.coordination}, Postgres pool ${options.pgPool}, ` +
      `${options.warmup} warm-up debates, fake LLM in a child process`,
  );
  console.log(`Bun ${Bun.version}, ${cores} cores (${cpu.trim()}), ${new Date().toISOString()}\n`);
  const results: ScenarioResult[] = [];
  let failed = false;
  for (const latency of options.latencies) {
    const result = await runScenarioProcess(options, latency);
    if (!result) {
      failed = true;
      continue;
    }
    results.push(result);
    console.log(`${report(result, options.cpuProfDir !== null)}\n`);
    if (result.problems.length > 0 || result.finished !== result.debates) failed = true;
  }
  console.log(targets(results));
  process.exit(failed ? 1 : 0);
}

await main();
