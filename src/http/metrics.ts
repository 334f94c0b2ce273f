import { Elysia } from "elysia";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DebateObserver } from "../debate/debate-observer";
import { type Clock, systemClock } from "../platform/clock";
import type { Logger } from "../platform/logger";

/** What the gauges read on each scrape: cheap grouped counts from Postgres and the due-set. */
export interface MetricsSources {
  /** Sessions by status and stop reason. */
  debates(): Promise<{ status: string; stopReason: string | null; count: number }[]>;
  /** Sessions due at `nowMs` and not claimed yet. */
  dueSessions(nowMs: number): Promise<number>;
  /** Pending rows of the bot's deliveries by kind. */
  deliveryQueue(): Promise<Record<string, number>>;
}

/** The product's Prometheus metrics: one registry per instance (never prom-client's global one). */
export interface Metrics {
  registry: Registry;
  /** For the debate engine: LLM calls, turns, scheduler lag. */
  debate: DebateObserver;
  /** Counts one 429 answer from the Telegram Bot API to `method`. */
  telegramRateLimited(method: string): void;
  /** Every metric in the text exposition format (the gauges read their sources first). */
  scrape(): Promise<string>;
  /** The Content-Type of {@link scrape}'s text. */
  contentType: string;
}

/** Seconds; LLM calls take from a fraction of a second to the turn timeout. */
const LLM_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120];
/** Seconds; a wake-up is picked up within milliseconds, a lapsed lease after seconds. */
const SCHEDULER_LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Builds the metrics of one instance. Counters and histograms are fed by the core's observer hooks
 * and the bot's 429 hook; gauges are read from their sources on scrape. Process metrics (CPU,
 * memory, event-loop lag, GC) are prom-client's defaults, under their standard names.
 */
export function createMetrics(deps: {
  sources: MetricsSources;
  logger: Logger;
  clock?: Pick<Clock, "now">;
}): Metrics {
  const { sources, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  /** A gauge read from a source on scrape; a failing source keeps the last values (and is logged). */
  const sourcedGauge = (
    options: { name: string; help: string; labelNames: string[] },
    read: () => Promise<{ labels: Record<string, string>; value: number }[]>,
  ) => {
    // Label sets seen before stay, at 0, when they are gone from the source (a zero count is no row).
    const seen = new Map<string, Record<string, string>>();
    return new Gauge({
      ...options,
      registers,
      async collect() {
        let samples: Awaited<ReturnType<typeof read>>;
        try {
          samples = await read();
        } catch (error) {
          logger.warn("metrics source failed", { metric: options.name, error });
          return;
        }
        for (const labels of seen.values()) this.set(labels, 0);
        for (const { labels, value } of samples) {
          seen.set(JSON.stringify(labels), labels);
          this.set(labels, value);
        }
      },
    });
  };

  sourcedGauge(
    {
      name: "roundtable_debates",
      help: "Debate sessions by status and stop reason (all instances: read from Postgres)",
      labelNames: ["status", "stop_reason"],
    },
    async () =>
      (await sources.debates()).map((row) => ({
        labels: { status: row.status, stop_reason: row.stopReason ?? "none" },
        value: row.count,
      })),
  );
  sourcedGauge(
    {
      name: "roundtable_scheduler_due_sessions",
      help: "Sessions due and not yet picked up by a scheduler (all instances: read from the due-set)",
      labelNames: [],
    },
    async () => [{ labels: {}, value: await sources.dueSessions(clock.now()) }],
  );
  sourcedGauge(
    {
      name: "roundtable_delivery_queue_depth",
      help: "Pending rows of the bot's deliveries: turns to post, sessions whose closing line is to come",
      labelNames: ["kind"],
    },
    async () =>
      Object.entries(await sources.deliveryQueue()).map(([kind, value]) => ({ labels: { kind }, value })),
  );

  const turns = new Counter({
    name: "roundtable_turns_total",
    help: "Debate turns run on this instance, by provider and outcome",
    labelNames: ["provider", "outcome"],
    registers,
  });
  const llmCalls = new Counter({
    name: "roundtable_llm_calls_total",
    help: "LLM calls by provider, kind (turn, summary, verdict) and outcome (success or the failure's kind)",
    labelNames: ["provider", "kind", "outcome"],
    registers,
  });
  const llmDuration = new Histogram({
    name: "roundtable_llm_call_duration_seconds",
    help: "LLM call latency (a success: its successful attempt; a failure: the whole call)",
    labelNames: ["provider", "kind", "outcome"],
    buckets: LLM_DURATION_BUCKETS,
    registers,
  });
  const llmTokens = new Counter({
    name: "roundtable_llm_tokens_total",
    help: "Tokens of successful LLM calls: input (cached included), cached (input served from the provider's cache), output",
    labelNames: ["provider", "type"],
    registers,
  });
  const llmCost = new Counter({
    name: "roundtable_llm_cost_usd_total",
    help: "Cost of successful LLM calls in USD (a float here; the database keeps it exact)",
    labelNames: ["provider"],
    registers,
  });
  const schedulerLag = new Histogram({
    name: "roundtable_scheduler_lag_seconds",
    help: "How late after its due time a session was picked up by this instance's scheduler",
    buckets: SCHEDULER_LAG_BUCKETS,
    registers,
  });
  const telegramRateLimited = new Counter({
    name: "roundtable_telegram_rate_limited_total",
    help: "429 Too Many Requests answers from the Telegram Bot API, by method",
    labelNames: ["method"],
    registers,
  });

  return {
    registry,
    debate: {
      llmCall(call) {
        const labels = { provider: call.provider, kind: call.kind, outcome: call.outcome };
        llmCalls.inc(labels);
        llmDuration.observe(labels, call.durationMs / 1000);
        if (call.usage) {
          llmTokens.inc({ provider: call.provider, type: "input" }, call.usage.input);
          llmTokens.inc({ provider: call.provider, type: "cached" }, call.usage.cachedInput);
          llmTokens.inc({ provider: call.provider, type: "output" }, call.usage.output);
        }
        if (call.costUsd !== undefined) llmCost.inc({ provider: call.provider }, Number(call.costUsd));
      },
      turn(turn) {
        turns.inc({ provider: turn.provider, outcome: turn.outcome });
      },
      sessionClaimed(lagMs) {
        schedulerLag.observe(lagMs / 1000);
      },
    },
    telegramRateLimited(method) {
      telegramRateLimited.inc({ method });
    },
    scrape: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/**
 * `GET /metrics` for Prometheus. On the app's own port it sits behind `guard` (the API token); on
 * METRICS_PORT, a port kept off the public network, it is served without one.
 */
export function createMetricsRoutes(deps: {
  metrics: Metrics;
  guard?: (request: Request) => Response | undefined;
}) {
  return new Elysia({ name: "metrics" }).get(
    "/metrics",
    async ({ request }) =>
      deps.guard?.(request) ??
      new Response(await deps.metrics.scrape(), { headers: { "content-type": deps.metrics.contentType } }),
    // Not part of the API: text for Prometheus, and maybe on another port.
    { detail: { hide: true } },
  );
}
