import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { asc, eq } from "drizzle-orm";
import { auditLogs, providers } from "../../src/db/schema";
import { addCostUsd, ZERO_COST_USD } from "../../src/llm/pricing";
import { type ApiAnswer, type ApiClient, createApiClient, type Json, readSse } from "../helpers/api-client";
import { eventually } from "../helpers/eventually";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let api: ApiClient;

beforeAll(async () => {
  stack = await createTestStack();
  api = await createApiClient(stack);
});
afterAll(async () => {
  await stack.stop();
});

/** Polls GET /api/sessions/{id} until `predicate` holds; returns that session. */
async function waitForSession(id: string, predicate: (session: Json) => boolean, timeoutMs = 15_000) {
  let last: ApiAnswer | undefined;
  await eventually(
    async () => {
      last = await api.request("GET", `/api/sessions/${id}`);
      return predicate(last.json);
    },
    { timeoutMs, intervalMs: 25, message: () => `session ${id} to match; last: ${last?.text.slice(0, 500)}` },
  );
  return last!.json;
}

const modelTurns = (session: Json): Json[] =>
  session.messages.filter((message: Json) => message.author_type === "model");

describe("session life cycle through the API", () => {
  test("create → start → 2 rounds → history with totals → stop, followed live over SSE", async () => {
    stack.fakeLlm.reset();
    // Two full rounds answer normally; the fifth turn hangs until the stop aborts it.
    stack.fakeLlm.setResponder((_request, index) => (index >= 4 ? { hang: true } : {}));

    const created = await api.request("POST", "/api/sessions", {
      body: { topic: "Is remote work here to stay?", max_rounds: 10 },
    });
    expect(created.status).toBe(201);
    const id: string = created.json.id;
    expect(created.json).toMatchObject({
      topic: "Is remote work here to stay?",
      status: "created",
      stop_reason: null,
      max_rounds: 10,
      current_round: 0,
      source: "api",
      messages: [],
      totals: { tokens_in: 0, tokens_out: 0, cached_tokens: 0, cost: ZERO_COST_USD },
    });
    expect(
      created.json.participants.map((participant: Json) => [
        participant.display_name,
        participant.persona_title,
      ]),
    ).toEqual([
      ["ChatGPT", "Optimist"],
      ["DeepSeek", "Skeptic"],
    ]);

    // Follow it live before it starts.
    const eventsResponse = await api.fetch("GET", `/api/sessions/${id}/events`);
    expect(eventsResponse.status).toBe(200);
    expect(eventsResponse.headers.get("content-type")).toContain("text/event-stream");
    const streamed = readSse(eventsResponse);

    const started = await api.request("POST", `/api/sessions/${id}/start`);
    expect(started.status).toBe(200);
    expect(started.json.status).toBe("running");
    expect(started.json.started_at).toEqual(expect.any(String));

    // Starting a running session is a conflict.
    const again = await api.request("POST", `/api/sessions/${id}/start`);
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("invalid_state");

    const afterTwoRounds = await waitForSession(id, (session) => modelTurns(session).length >= 4);
    await stack.fakeLlm.waitForRequests(5);
    expect(afterTwoRounds.status).toBe("running");
    const turns = modelTurns(afterTwoRounds);
    expect(turns.map((turn: Json) => [turn.author_name, turn.round, turn.turn_index])).toEqual([
      ["ChatGPT", 1, 0],
      ["DeepSeek", 1, 1],
      ["ChatGPT", 2, 2],
      ["DeepSeek", 2, 3],
    ]);
    for (const turn of turns) {
      for (const field of [
        "id",
        "tokens_in",
        "tokens_out",
        "cached_tokens",
        "participant_id",
        "latency_ms",
      ]) {
        expect(typeof turn[field]).toBe("number");
      }
      expect(typeof turn.content).toBe("string");
      expect(Number.isNaN(Date.parse(turn.created_at))).toBe(false);
      expect(turn.tokens_in).toBeGreaterThan(0);
      expect(turn.tokens_out).toBeGreaterThan(0);
      expect(turn.cost).toMatch(/^\d+\.\d{8}$/);
      expect(Number(turn.cost)).toBeGreaterThan(0);
    }

    const stopped = await api.request("POST", `/api/sessions/${id}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.json).toMatchObject({
      status: "stopped",
      stop_reason: "user",
      finished_at: expect.any(String),
    });
    await stack.fakeLlm.waitForAbort(4);

    // The live stream carried the debate and closed after session-end.
    const { events, ended } = await streamed;
    expect(ended).toBe(true);
    const types = events.map((event) => event.event);
    expect(types[0]).toBe("session-start");
    expect(types.at(-1)).toBe("session-end");
    expect(types.filter((type) => type === "turn-end").length).toBe(4);
    // (The test stack turns turn-delta events off; the stream forwards whatever the bus carries.)
    expect(types.filter((type) => type === "turn-start").length).toBe(5);
    const firstTurn = events.find((event) => event.event === "turn-end")!.data as Json;
    expect(firstTurn).toMatchObject({
      type: "turn-end",
      session_id: id,
      turn_index: 0,
      round: 1,
      name: "ChatGPT",
    });
    expect(firstTurn.content).toBe(turns[0].content);
    const end = events.at(-1)!.data as Json;
    expect(end).toMatchObject({
      type: "session-end",
      session_id: id,
      status: "stopped",
      stop_reason: "user",
    });

    // The history after the stop: the same four turns, totals that add up.
    const history = await api.request("GET", `/api/sessions/${id}`);
    expect(history.status).toBe(200);
    const finalTurns = modelTurns(history.json);
    expect(finalTurns.map((turn: Json) => turn.id)).toEqual(turns.map((turn: Json) => turn.id));
    const messages = history.json.messages;
    expect(history.json.totals).toEqual({
      tokens_in: messages.reduce((sum: number, message: Json) => sum + message.tokens_in, 0),
      tokens_out: messages.reduce((sum: number, message: Json) => sum + message.tokens_out, 0),
      cached_tokens: messages.reduce((sum: number, message: Json) => sum + message.cached_tokens, 0),
      cost: messages.reduce((sum: string, message: Json) => addCostUsd(sum, message.cost), ZERO_COST_USD),
    });
    expect(end.totals).toEqual(history.json.totals);
    expect(history.json.current_round).toBeGreaterThanOrEqual(2);

    // Ended: stop and start are conflicts; the event stream sends one session-end and closes.
    const stopAgain = await api.request("POST", `/api/sessions/${id}/stop`);
    expect(stopAgain.status).toBe(409);
    expect(stopAgain.json.error).toMatchObject({ code: "invalid_state", details: { status: "stopped" } });
    expect((await api.request("POST", `/api/sessions/${id}/start`)).status).toBe(409);
    const replay = await readSse(await api.fetch("GET", `/api/sessions/${id}/events`), 5_000);
    expect(replay.ended).toBe(true);
    expect(replay.events).toEqual([
      {
        event: "session-end",
        data: {
          type: "session-end",
          session_id: id,
          status: "stopped",
          stop_reason: "user",
          rounds: history.json.current_round,
          totals: history.json.totals,
        },
      },
    ]);

    // Every write went to the audit log as the API.
    const audit = await stack.db
      .select()
      .from(auditLogs)
      .where(eq(auditLogs.target, `session:${id}`))
      .orderBy(asc(auditLogs.id));
    expect(audit.map((row) => [row.actor, row.action])).toEqual([
      ["api", "session.create"],
      ["api", "session.start"],
      ["api", "session.stop"],
    ]);
    stack.fakeLlm.setResponder(() => ({}));
  });

  test("a debate left alone runs to max_rounds and the stream says so", async () => {
    stack.fakeLlm.reset();
    const created = await api.request("POST", "/api/sessions", {
      body: { topic: "Tea or coffee?", max_rounds: 2 },
    });
    const id = created.json.id;
    const streamed = readSse(await api.fetch("GET", `/api/sessions/${id}/events`));
    await api.request("POST", `/api/sessions/${id}/start`);
    const { events, ended } = await streamed;
    expect(ended).toBe(true);
    expect(events.at(-1)!.data).toMatchObject({ status: "finished", stop_reason: "max_rounds", rounds: 2 });
    const history = await waitForSession(id, (session) => session.status === "finished");
    expect(modelTurns(history).length).toBe(4);
    expect(history.stop_reason).toBe("max_rounds");
  });

  test("stop of a created session, explicit participants and personalities", async () => {
    const [deepSeek] = await stack.db.select().from(providers).where(eq(providers.name, "DeepSeek"));
    const personas = (await api.request("GET", "/api/personalities")).json;
    const pragmatist = personas.find((persona: Json) => persona.title === "Pragmatist");
    const created = await api.request("POST", "/api/sessions", {
      body: {
        topic: "Four-day week?",
        participants: [
          { provider_id: deepSeek!.id, personality_id: pragmatist.id },
          { provider_id: deepSeek!.id, personality_id: null },
        ],
      },
    });
    expect(created.status).toBe(201);
    expect(created.json.max_rounds).toBe(5);
    expect(
      created.json.participants.map((participant: Json) => [
        participant.display_name,
        participant.persona_title,
      ]),
    ).toEqual([
      ["DeepSeek", "Pragmatist"],
      ["DeepSeek", null],
    ]);
    const stopped = await api.request("POST", `/api/sessions/${created.json.id}/stop`);
    expect(stopped.json).toMatchObject({ status: "stopped", stop_reason: "user", started_at: null });
  });
});

describe("session events stream", () => {
  test("forwards every bus event in snake_case with keep-alives, and ends with the stop", async () => {
    const client = await createApiClient(stack, { tuning: { api: { sseKeepAliveMs: 30 } } });
    const created = await client.request("POST", "/api/sessions", { body: { topic: "Streams?" } });
    const id = created.json.id;
    const response = await client.fetch("GET", `/api/sessions/${id}/events`);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let raw = "";
    const readUntil = async (marker: string) => {
      const deadline = Date.now() + 5_000;
      while (!raw.includes(marker)) {
        if (Date.now() > deadline) throw new Error(`no ${marker} in ${raw}`);
        const next = await reader.read();
        if (next.done) throw new Error(`stream ended before ${marker}`);
        raw += decoder.decode(next.value, { stream: true });
      }
    };
    await readUntil(": keep-alive");
    await stack.events.publish({
      type: "turn-delta",
      sessionId: id,
      turnIndex: 0,
      participantId: 7,
      text: "Hel",
    });
    await readUntil("event: turn-delta");
    expect(raw).toContain(
      `event: turn-delta\ndata: ${JSON.stringify({ type: "turn-delta", session_id: id, turn_index: 0, participant_id: 7, text: "Hel" })}\n\n`,
    );
    // Another session's events are not mixed in.
    await stack.events.publish({
      type: "turn-delta",
      sessionId: crypto.randomUUID(),
      turnIndex: 0,
      participantId: 1,
      text: "other",
    });
    await client.request("POST", `/api/sessions/${id}/stop`);
    await readUntil("event: session-end");
    expect((await reader.read()).done).toBe(true);
    expect(raw).not.toContain("other");
  });

  test("a client that goes away mid-stream is let go", async () => {
    const created = await api.request("POST", "/api/sessions", { body: { topic: "Leaving early" } });
    const response = await api.fetch("GET", `/api/sessions/${created.json.id}/events`);
    const reader = response.body!.getReader();
    await reader.cancel();
    // Publishing afterwards must not throw into the bus (the subscription is gone). A probe
    // subscriber sees the event after every earlier handler has run: then the logs are final.
    const delivered = new Promise<void>((resolve) => {
      const off = stack.events.subscribe((event) => {
        if (event.type === "turn-delta" && event.text === "x") {
          off();
          resolve();
        }
      }, created.json.id);
    });
    await stack.events.publish({
      type: "turn-delta",
      sessionId: created.json.id,
      turnIndex: 0,
      participantId: 1,
      text: "x",
    });
    await delivered;
    expect(stack.logLines.some((line) => line.includes("debate event handler failed"))).toBe(false);
    await api.request("POST", `/api/sessions/${created.json.id}/stop`);
  });
});

describe("session errors and listing", () => {
  test("invalid creations answer 422 with the reason", async () => {
    const cases: [unknown, string][] = [
      [{ topic: "   " }, "invalid_topic"],
      [{ topic: "x".repeat(1001) }, "invalid_topic"],
      [{}, "validation_failed"],
      [{ topic: 5 }, "validation_failed"],
      [{ topic: "ok", max_rounds: 0 }, "validation_failed"],
      [{ topic: "ok", max_rounds: 51 }, "validation_failed"],
      [{ topic: "ok", max_rounds: 2.5 }, "validation_failed"],
      [
        { topic: "ok", participants: [{ provider_id: 999999 }, { provider_id: 999998 }] },
        "provider_not_found",
      ],
      [
        { topic: "ok", participants: [{ provider_id: 1, personality_id: 999999 }, { provider_id: 2 }] },
        "personality_not_found",
      ],
      [{ topic: "ok", participants: [{ provider_id: 1 }] }, "not_enough_participants"],
      [{ topic: "ok", participants: [{ providerId: 1 }] }, "validation_failed"],
      [{ topic: "ok", chat_id: 5 }, "validation_failed"],
    ];
    for (const [body, code] of cases) {
      const answer = await api.request("POST", "/api/sessions", { body });
      expect({ body, status: answer.status, code: answer.json?.error?.code }).toEqual({
        body,
        status: 422,
        code,
      });
    }
  });

  test("the list is paged, newest first, filtered by status", async () => {
    const all = await api.request("GET", "/api/sessions");
    expect(all.status).toBe(200);
    expect(all.json).toMatchObject({ limit: 20, offset: 0 });
    expect(all.json.total).toBeGreaterThanOrEqual(3);
    expect(all.json.items.length).toBe(all.json.total);
    const created = all.json.items.map((item: Json) => item.created_at);
    expect([...created].sort().reverse()).toEqual(created);
    expect(all.json.items[0]).not.toHaveProperty("messages");
    expect(all.json.items[0].totals).toEqual(
      expect.objectContaining({ cost: expect.stringMatching(/^\d+\.\d{8}$/) }),
    );

    const page = await api.request("GET", "/api/sessions?limit=1&offset=1");
    expect(page.json).toMatchObject({ limit: 1, offset: 1, total: all.json.total });
    expect(page.json.items.map((item: Json) => item.id)).toEqual([all.json.items[1].id]);

    const stopped = await api.request("GET", "/api/sessions?status=stopped");
    expect(stopped.json.items.length).toBeGreaterThanOrEqual(2);
    expect(stopped.json.items.every((item: Json) => item.status === "stopped")).toBe(true);
    const finished = await api.request("GET", "/api/sessions?status=finished");
    expect(finished.json.items.every((item: Json) => item.status === "finished")).toBe(true);

    for (const query of ["limit=0", "limit=101", "limit=abc", "offset=-1", "status=paused"]) {
      const answer = await api.request("GET", `/api/sessions?${query}`);
      expect({ query, status: answer.status }).toEqual({ query, status: 422 });
    }
  });

  test("SSE of an unknown session answers 404 in the error shape", async () => {
    const answer = await api.request("GET", "/api/sessions/00000000-0000-4000-8000-000000000000/events");
    expect(answer.status).toBe(404);
    expect(answer.json.error.code).toBe("session_not_found");
  });

  test("no response and no log line carries a provider key", async () => {
    const secrets = [stack.config.providers.openai.apiKey, stack.config.providers.deepseek.apiKey];
    for (const body of api.bodies) for (const secret of secrets) expect(body).not.toContain(secret);
    for (const line of stack.logLines) for (const secret of secrets) expect(line).not.toContain(secret);
  });
});
