/**
 * `/api/users`: the bot's Telegram users with their usage today and in all, paged and filtered;
 * block, allow and per-user limits through PATCH (validated, audited, applied to the next debate).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DebateError } from "../../src/debate/debate-errors";
import { type ApiClient, createApiClient } from "../helpers/api-client";
import { startDebate } from "../helpers/debate-test-utils";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let api: ApiClient;
let annId: number;
let annCost: string;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 1 } });
  api = await createApiClient(stack);
  const users = stack.app.services.users;
  annId = (await users.touch({ id: 9001, username: "ann", language_code: "en" })).id;
  await users.touch({ id: 9002, username: "Bob_the_builder" });
  await users.touch({ id: 9003 });
  const { id, recorder } = await startDebate(stack, {
    topic: "Ann's debate",
    userId: annId,
    chatId: 9001,
    source: "telegram",
    language: "en",
  });
  await recorder.waitFor("session-end");
  annCost = (await stack.debate.getTotals(id)).cost;
});
afterAll(async () => {
  await stack?.stop();
});

const list = async (query = "") => {
  const answer = await api.request("GET", `/api/users${query}`);
  expect(answer.status).toBe(200);
  return answer.json;
};
const ids = (page: { items: { telegram_id: number }[] }) => page.items.map((user) => user.telegram_id);

describe("GET /api/users", () => {
  test("every user with usage today and in all, the most recently seen first", async () => {
    const page = await list();
    expect(page.total).toBe(3);
    expect(ids(page)).toEqual([9003, 9002, 9001]);
    const ann = page.items.find((user: { telegram_id: number }) => user.telegram_id === 9001);
    expect(Number(annCost)).toBeGreaterThan(0);
    expect(ann).toEqual({
      id: annId,
      telegram_id: 9001,
      username: "ann",
      language_code: "en",
      created_at: expect.any(String),
      last_seen_at: expect.any(String),
      debates_today: 1,
      cost_today: annCost,
      debates_total: 1,
      cost_total: annCost,
      blocked: false,
      allowed: false,
      debates_per_day: null,
      cost_per_day_usd: null,
    });
    expect(page.items[0]).toMatchObject({ debates_today: 0, cost_today: "0.00000000", username: null });
  });

  test("search by part of the username (any case, @ ignored) or Telegram id; wildcards are literal", async () => {
    expect(ids(await list("?q=an"))).toEqual([9001]);
    expect(ids(await list("?q=%40BOB"))).toEqual([9002]);
    expect(ids(await list("?q=9003"))).toEqual([9003]);
    expect(ids(await list("?q=%25"))).toEqual([]);
    expect(ids(await list("?q=_the_"))).toEqual([9002]);
  });

  test("paged, and filtered by blocked and allowed", async () => {
    const second = await list("?limit=2&offset=2");
    expect(second).toMatchObject({ total: 3, limit: 2, offset: 2 });
    expect(ids(second)).toEqual([9001]);
    expect((await list("?blocked=true")).total).toBe(0);
    expect((await list("?allowed=false")).total).toBe(3);
    for (const bad of ["?limit=0", "?limit=101", "?blocked=maybe", `?q=${"x".repeat(101)}`]) {
      const answer = await api.request("GET", `/api/users${bad}`);
      expect(answer.status, bad).toBe(422);
      expect(answer.json.error.code).toBe("validation_failed");
    }
  });

  test("needs the bearer token", async () => {
    expect((await api.request("GET", "/api/users", { token: null })).status).toBe(401);
  });
});

describe("GET and PATCH /api/users/{telegram_id}", () => {
  test("one user; 404 for a stranger or a malformed id", async () => {
    const answer = await api.request("GET", "/api/users/9002");
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ telegram_id: 9002, username: "Bob_the_builder" });
    for (const path of ["/api/users/12345", "/api/users/abc"]) {
      const missing = await api.request("GET", path);
      expect(missing.status, path).toBe(404);
    }
    expect((await api.request("GET", "/api/users/12345")).json.error.code).toBe("user_not_found");
  });

  test("block, allow and own limits: stored, audited, and null gives the setting back", async () => {
    const patched = await api.request("PATCH", "/api/users/9002", {
      body: { blocked: true, allowed: true, debates_per_day: 5, cost_per_day_usd: "1.25" },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({
      blocked: true,
      allowed: true,
      debates_per_day: 5,
      cost_per_day_usd: "1.25000000",
    });
    const audit = await stack.lastAudit("user.update");
    expect(audit).toMatchObject({
      actor: "api",
      target: "user:9002",
      meta: { changes: { blocked: true, allowed: true, debates_per_day: 5, cost_per_day_usd: "1.25" } },
    });
    expect(ids(await list("?blocked=true"))).toEqual([9002]);
    expect(ids(await list("?allowed=true&blocked=true"))).toEqual([9002]);

    const numeric = await api.request("PATCH", "/api/users/9002", { body: { cost_per_day_usd: 2 } });
    expect(numeric.json.cost_per_day_usd).toBe("2.00000000");
    const reset = await api.request("PATCH", "/api/users/9002", {
      body: { blocked: false, debates_per_day: null, cost_per_day_usd: null },
    });
    expect(reset.json).toMatchObject({ blocked: false, debates_per_day: null, cost_per_day_usd: null });
  });

  test("invalid changes answer 422 with the field and change nothing; a stranger is 404", async () => {
    for (const body of [
      { debates_per_day: -1 },
      { debates_per_day: 1.5 },
      { cost_per_day_usd: "abc" },
      { cost_per_day_usd: 20_000 },
      // Below the 8 places money is kept to: it would become 0, "no limit".
      { cost_per_day_usd: 1e-9 },
      { blocked: "yes" },
      { telegram_id: 1 },
    ]) {
      const answer = await api.request("PATCH", "/api/users/9001", { body });
      expect(answer.status, JSON.stringify(body)).toBe(422);
      expect(answer.json.error.code).toBe("validation_failed");
    }
    expect((await api.request("GET", "/api/users/9001")).json).toMatchObject({
      blocked: false,
      debates_per_day: null,
      cost_per_day_usd: null,
    });
    expect((await api.request("PATCH", "/api/users/12345", { body: { blocked: true } })).status).toBe(404);
  });

  test("a user's own limit applies to their next debate; 0 lifts it", async () => {
    await api.request("PATCH", "/api/users/9001", { body: { debates_per_day: 1 } });
    const start = () =>
      stack.debate.createSession({ topic: "Again", userId: annId, chatId: 9001, source: "telegram" });
    const refused = await start().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DebateError);
    expect(refused).toMatchObject({
      code: "quota_exceeded",
      details: { limit: "USER_DEBATES_PER_DAY", value: 1 },
    });
    await api.request("PATCH", "/api/users/9001", { body: { debates_per_day: 0 } });
    const created = await start();
    await stack.debate.stopSession(created.session.id, "user");
  });
});
