import { describe, expect, test } from "bun:test";
import { createMetrics, type MetricsSources } from "../../src/http/metrics";
import { createLogger } from "../../src/platform/logger";
import { parsePrometheusText } from "../helpers/prometheus-text";

function metricsOver(sources: MetricsSources) {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
  return { metrics: createMetrics({ sources, logger, clock: { now: () => 42 } }), lines };
}

describe("metrics", () => {
  test("gauges read their sources on each scrape; a label set gone from the source reports 0", async () => {
    let debates = [
      { status: "running", stopReason: null, count: 2 },
      { status: "finished", stopReason: "max_rounds", count: 5 },
    ];
    const asked: number[] = [];
    const { metrics } = metricsOver({
      debates: async () => debates,
      dueSessions: async (nowMs) => {
        asked.push(nowMs);
        return 3;
      },
      deliveryQueue: async () => ({ turn: 1, closing: 4 }),
    });
    const first = parsePrometheusText(await metrics.scrape());
    expect(first.value("roundtable_debates", { status: "running", stop_reason: "none" })).toBe(2);
    expect(first.value("roundtable_debates", { status: "finished", stop_reason: "max_rounds" })).toBe(5);
    expect(first.value("roundtable_scheduler_due_sessions")).toBe(3);
    expect(asked).toEqual([42]);
    expect(first.value("roundtable_delivery_queue_depth", { kind: "closing" })).toBe(4);
    debates = [{ status: "finished", stopReason: "max_rounds", count: 7 }];
    const second = parsePrometheusText(await metrics.scrape());
    expect(second.value("roundtable_debates", { status: "running", stop_reason: "none" })).toBe(0);
    expect(second.value("roundtable_debates", { status: "finished" })).toBe(7);
  });

  test("a failing source is logged and the scrape still answers, with the other metrics", async () => {
    const { metrics, lines } = metricsOver({
      debates: async () => {
        throw new Error("database down");
      },
      dueSessions: async () => 1,
      deliveryQueue: async () => ({ turn: 0, closing: 0 }),
    });
    const scraped = parsePrometheusText(await metrics.scrape());
    expect(scraped.value("roundtable_debates")).toBeUndefined();
    expect(scraped.value("roundtable_scheduler_due_sessions")).toBe(1);
    expect(lines.some((line) => line.includes('"msg":"metrics source failed"'))).toBe(true);
  });

  test("LLM calls add up tokens and cost by provider; failures count without usage", async () => {
    const { metrics } = metricsOver({
      debates: async () => [],
      dueSessions: async () => 0,
      deliveryQueue: async () => ({}),
    });
    const usage = { input: 100, cachedInput: 40, output: 20, estimated: false };
    for (const costUsd of ["0.00001000", "0.00002500"]) {
      metrics.debate.llmCall({
        provider: "A",
        kind: "turn",
        outcome: "success",
        durationMs: 1500,
        usage,
        costUsd,
      });
    }
    metrics.debate.llmCall({ provider: "A", kind: "summary", outcome: "timeout", durationMs: 30_000 });
    metrics.debate.turn({ provider: "A", outcome: "timeout" });
    metrics.telegramRateLimited("sendMessage");
    const scraped = parsePrometheusText(await metrics.scrape());
    expect(scraped.value("roundtable_llm_tokens_total", { provider: "A", type: "input" })).toBe(200);
    expect(scraped.value("roundtable_llm_tokens_total", { provider: "A", type: "cached" })).toBe(80);
    expect(scraped.value("roundtable_llm_tokens_total", { provider: "A", type: "output" })).toBe(40);
    expect(scraped.value("roundtable_llm_cost_usd_total", { provider: "A" })).toBeCloseTo(0.000035, 12);
    expect(scraped.value("roundtable_llm_calls_total", { kind: "summary", outcome: "timeout" })).toBe(1);
    expect(
      scraped.value("roundtable_llm_call_duration_seconds_bucket", { outcome: "timeout", le: "30" }),
    ).toBe(1);
    expect(scraped.value("roundtable_llm_call_duration_seconds_sum", { outcome: "success" })).toBe(3);
    expect(scraped.value("roundtable_turns_total", { provider: "A", outcome: "timeout" })).toBe(1);
    expect(scraped.value("roundtable_telegram_rate_limited_total", { method: "sendMessage" })).toBe(1);
  });
});
