/**
 * GET /metrics: debates, turns, LLM calls (latency, tokens, cost), scheduler lag and due sessions,
 * the delivery queue and Telegram 429s, as Prometheus scrapes them after a real debate through the
 * app (fake LLM and Bot API); behind the API token, or alone on METRICS_PORT; and a Grafana
 * dashboard that only queries metrics a scrape has.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq, sql } from "drizzle-orm";
import { messages, providers, sessionParticipants } from "../../src/db/schema";
import { createApiClient, TEST_API_TOKEN } from "../helpers/api-client";
import { startTestBot } from "../helpers/bot-harness";
import { eventually } from "../helpers/eventually";
import { type PrometheusScrape, parsePrometheusText } from "../helpers/prometheus-text";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let running: Awaited<ReturnType<typeof startTestBot>> | null = null;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 2 } });
});
afterAll(async () => {
  await running?.stop();
  await stack?.stop();
});

/** Scrapes the stack's app as Prometheus would, through its HTTP door, with the API token. */
async function scrape(): Promise<PrometheusScrape> {
  const api = await createApiClient(stack);
  const answer = await api.request("GET", "/metrics");
  expect(answer.status).toBe(200);
  expect(answer.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheusText(answer.text);
}

async function startDebate(chatId: number) {
  const created = await stack.debate.createSession({
    topic: "Should cities ban cars from their centres?",
    chatId,
    source: "telegram",
    language: "en",
    verdict: false,
  });
  await stack.debate.startSession(created.session.id);
  return created.session.id;
}

/** Tokens and cost of a provider's answers as stored: what the counters must add up to. */
async function storedUsage(providerName: string) {
  const [row] = await stack.db
    .select({
      input: sql<number>`coalesce(sum(${messages.tokensIn}), 0)::int`,
      cached: sql<number>`coalesce(sum(${messages.cachedTokens}), 0)::int`,
      output: sql<number>`coalesce(sum(${messages.tokensOut}), 0)::int`,
      cost: sql<string>`coalesce(sum(${messages.cost}), 0)::text`,
    })
    .from(messages)
    .innerJoin(sessionParticipants, eq(messages.participantId, sessionParticipants.id))
    .innerJoin(providers, eq(sessionParticipants.providerId, providers.id))
    .where(and(eq(providers.name, providerName), eq(messages.authorType, "model")));
  return row!;
}

describe("GET /metrics", () => {
  test("a debate, a provider failure and a Telegram 429 show up with their labels and values", async () => {
    running = await startTestBot(stack);
    const { telegram } = running;
    const closing = (chatId: number) =>
      telegram.waitForSent((m) => m.chat_id === chatId && m.text.startsWith("Discussion ended"), 20_000);
    // The first message of the first debate is answered 429 once (and waited out: retry_after 1 s).
    telegram.failNext("sendMessage", {
      error_code: 429,
      description: "Too Many Requests: retry after 1",
      retry_after: 1,
    });
    const finished = await startDebate(9001);
    // While the bot waits out the 429, the session's closing line is still to come.
    await eventually(async () => ((await scrape()).value("roundtable_delivery_queue_depth") ?? 0) >= 1, {
      timeoutMs: 10_000,
      message: "a pending delivery shows in the queue depth",
    });
    await closing(9001);
    // ChatGPT speaks first and its key is refused: it is excluded, and one participant cannot debate.
    stack.fakeLlm.enqueue({ status: 401, errorMessage: "Incorrect API key provided" });
    const stopped = await startDebate(9002);
    await closing(9002);
    expect(await stack.debate.getSessionRow(finished)).toMatchObject({ status: "finished" });
    expect(await stack.debate.getSessionRow(stopped)).toMatchObject({
      status: "stopped",
      stopReason: "no_participants",
    });

    const metrics = await scrape();
    expect(metrics.value("roundtable_debates", { status: "finished", stop_reason: "max_rounds" })).toBe(1);
    expect(metrics.value("roundtable_debates", { status: "stopped", stop_reason: "no_participants" })).toBe(
      1,
    );
    // A status seen before and gone since reports 0 (a grouped count has no row for it).
    expect(metrics.value("roundtable_debates", { status: "running" }) ?? 0).toBe(0);

    expect(metrics.value("roundtable_turns_total", { provider: "ChatGPT", outcome: "answer" })).toBe(2);
    expect(metrics.value("roundtable_turns_total", { provider: "DeepSeek", outcome: "answer" })).toBe(2);
    expect(metrics.value("roundtable_turns_total", { provider: "ChatGPT", outcome: "failure" })).toBe(1);
    expect(metrics.value("roundtable_turns_total")).toBe(5);

    const calls = { kind: "turn", outcome: "success" };
    expect(metrics.value("roundtable_llm_calls_total", { provider: "ChatGPT", ...calls })).toBe(2);
    expect(metrics.value("roundtable_llm_calls_total", { provider: "DeepSeek", ...calls })).toBe(2);
    expect(
      metrics.value("roundtable_llm_calls_total", { provider: "ChatGPT", kind: "turn", outcome: "bad_key" }),
    ).toBe(1);
    expect(metrics.value("roundtable_llm_calls_total")).toBe(5);
    // Every call is in the latency histogram, in its bucket: the +Inf bucket holds them all.
    const latency = "roundtable_llm_call_duration_seconds";
    expect(metrics.value(`${latency}_count`, { provider: "ChatGPT", ...calls })).toBe(2);
    expect(metrics.value(`${latency}_bucket`, { provider: "DeepSeek", ...calls, le: "+Inf" })).toBe(2);
    expect(metrics.value(`${latency}_count`, { outcome: "bad_key" })).toBe(1);
    expect(metrics.value(`${latency}_sum`, { provider: "ChatGPT", ...calls })).toBeGreaterThan(0);

    for (const provider of ["ChatGPT", "DeepSeek"]) {
      const stored = await storedUsage(provider);
      expect(stored.input).toBeGreaterThan(0);
      expect(metrics.value("roundtable_llm_tokens_total", { provider, type: "input" })).toBe(stored.input);
      expect(metrics.value("roundtable_llm_tokens_total", { provider, type: "cached" })).toBe(stored.cached);
      expect(metrics.value("roundtable_llm_tokens_total", { provider, type: "output" })).toBe(stored.output);
      expect(Number(stored.cost)).toBeGreaterThan(0);
      expect(metrics.value("roundtable_llm_cost_usd_total", { provider })).toBeCloseTo(
        Number(stored.cost),
        10,
      );
    }

    // Each debate was picked up by the scheduler once it was due.
    expect(metrics.value("roundtable_scheduler_lag_seconds_count")).toBeGreaterThanOrEqual(2);
    expect(metrics.value("roundtable_scheduler_due_sessions")).toBe(0);
    expect(metrics.value("roundtable_telegram_rate_limited_total", { method: "sendMessage" })).toBe(1);
    // Everything posted: the queue is empty, and both kinds still report (at 0).
    expect(metrics.value("roundtable_delivery_queue_depth", { kind: "turn" })).toBe(0);
    expect(metrics.value("roundtable_delivery_queue_depth", { kind: "closing" })).toBe(0);
    // Process metrics, under their standard names.
    expect(metrics.value("process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024);
    expect(metrics.types.get("nodejs_eventloop_lag_seconds")).toBe("gauge");
  }, 60_000);

  test("behind the API token: 401 without it or with a wrong one, 503 when no token is set", async () => {
    const api = await createApiClient(stack);
    for (const token of [null, "wrong-token"]) {
      const refused = await api.request("GET", "/metrics", { token });
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="api"');
      expect(refused.json.error.code).toBe("unauthorized");
      expect(refused.text).not.toContain("roundtable_");
    }
    const disabled = await createApiClient(stack, { env: { API_TOKEN: "" }, start: false });
    const answer = await disabled.request("GET", "/metrics", { token: TEST_API_TOKEN });
    expect(answer.status).toBe(503);
    expect(answer.json.error.code).toBe("api_disabled");
  });

  test("with METRICS_PORT, /metrics is served there without auth, and not on the app's port", async () => {
    const other = await stack.instance({ env: { METRICS_PORT: "0" }, start: false });
    const url = other.listen({ port: 0, hostname: "127.0.0.1" });
    expect(other.metricsUrl).not.toBeNull();
    expect(other.metricsUrl).not.toBe(url);
    const served = await fetch(`${other.metricsUrl}/metrics`);
    expect(served.status).toBe(200);
    const metrics = parsePrometheusText(await served.text());
    // The same database: the debates of the test above.
    expect(metrics.value("roundtable_debates", { status: "finished" })).toBe(1);
    // Only /metrics there.
    expect((await fetch(`${other.metricsUrl}/api/sessions`)).status).toBe(404);
    const onAppPort = await fetch(`${url}/metrics`, {
      headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
    });
    expect(onAppPort.status).toBe(404);
    await other.stop();
  });

  test("due sessions: those due and not yet picked up", async () => {
    // No scheduler runs here, so what is due stays due.
    await stack.restart({ startEngine: false });
    const member = crypto.randomUUID();
    await stack.coordination.markDue(member, Date.now() - 5_000);
    try {
      expect((await scrape()).value("roundtable_scheduler_due_sessions")).toBe(1);
    } finally {
      await stack.coordination.unmarkDue(member);
    }
    expect((await scrape()).value("roundtable_scheduler_due_sessions")).toBe(0);
  });
});

describe("the Grafana dashboard", () => {
  test("is valid JSON whose every query names a metric a scrape has", async () => {
    const dashboard = JSON.parse(
      readFileSync(join(import.meta.dir, "../../deploy/grafana/roundtable-dashboard.json"), "utf8"),
    );
    const targets = (dashboard.panels as { title: string; targets?: { expr: string }[] }[]).flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })),
    );
    expect(targets.length).toBeGreaterThanOrEqual(10);
    const known = (await scrape()).names();
    const queried = new Set<string>();
    for (const { panel, expr } of targets) {
      const names = [...expr.matchAll(/\b(?:roundtable|process|nodejs)_[a-z0-9_]+\b/g)].map(
        (match) => match[0],
      );
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        expect(known.has(name), `${panel} queries ${name}`).toBe(true);
        queried.add(name.replace(/_(bucket|sum|count)$/, ""));
      }
    }
    // Every metric of ours is on the dashboard.
    for (const name of known) {
      if (name.startsWith("roundtable_") && !/_(bucket|sum|count)$/.test(name)) {
        expect(queried.has(name), `${name} has a panel`).toBe(true);
      }
    }
  });
});
