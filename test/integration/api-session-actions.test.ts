/**
 * Issue 13 through the API door: sessions created with a format, a verdict switch and a language;
 * interjections in a running debate; continue after finished and after stopped; a verdict asked
 * for after the end; export as Markdown and JSON. Every refusal answers in the one error shape.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { sessionExportView } from "../../src/http/api/api-schemas";
import { jsonSchemaOf } from "../../src/http/api/openapi-components";
import { type ApiAnswer, type ApiClient, createApiClient, type Json, readSse } from "../helpers/api-client";
import { eventually } from "../helpers/eventually";
import type { FakeRequestRecord } from "../helpers/fake-openai-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let api: ApiClient;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 2 } });
  api = await createApiClient(stack);
});
afterAll(async () => {
  await stack.stop();
});
beforeEach(() => {
  stack.fakeLlm.reset();
  stack.fakeLlm.setResponder(() => ({}));
});

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";
const isVerdictRequest = (request: FakeRequestRecord) =>
  request.messages[0]?.content.startsWith("You are the impartial moderator") === true;
const VERDICT_TEXT = "## Where they agree\nBoth value focus.\n\n## Consensus level\nmedium";

const create = async (body: Json) => {
  const answer = await api.request("POST", "/api/sessions", { body });
  expect(answer.status).toBe(201);
  return answer.json;
};
const start = async (id: string) =>
  expect((await api.request("POST", `/api/sessions/${id}/start`)).status).toBe(200);

async function waitForSession(id: string, predicate: (session: Json) => boolean) {
  let last: ApiAnswer | undefined;
  await eventually(
    async () => {
      last = await api.request("GET", `/api/sessions/${id}`);
      return predicate(last.json);
    },
    { timeoutMs: 15_000, intervalMs: 25, message: () => `session ${id}; last: ${last?.text.slice(0, 400)}` },
  );
  return last!.json;
}
const ended = (session: Json) => ["finished", "stopped", "failed"].includes(session.status);
const ofType = (session: Json, type: string): Json[] =>
  session.messages.filter((message: Json) => message.author_type === type);

/** Every refusal has the one shape: a code, a message, and nothing else but details. */
function expectError(answer: ApiAnswer, status: number, code: string) {
  expect({ status: answer.status, code: answer.json?.error?.code }).toEqual({ status, code });
  expect(answer.headers.get("content-type")).toBe("application/json; charset=utf-8");
  expect(typeof answer.json.error.message).toBe("string");
  expect(Object.keys(answer.json)).toEqual(["error"]);
  for (const key of Object.keys(answer.json.error)) expect(["code", "message", "details"]).toContain(key);
}

/** A debate that runs until stopped: every turn hangs (the stop aborts it). */
async function runningSession(topic: string) {
  stack.fakeLlm.setResponder(() => ({ hang: true }));
  const session = await create({ topic, verdict: false, language: "en" });
  await start(session.id);
  await stack.fakeLlm.waitForRequests(1);
  return session.id as string;
}

describe("creating with a format, a verdict switch and a language", () => {
  test("the fields are taken, answered and listed; defaults follow the topic", async () => {
    const chosen = await create({
      topic: "Should cities ban cars from their centres?",
      format: "pro_contra",
      verdict: false,
      language: "ru",
    });
    expect(chosen).toMatchObject({ format: "pro_contra", verdict: false, language: "ru", status: "created" });
    const read = await api.request("GET", `/api/sessions/${chosen.id}`);
    expect(read.json).toMatchObject({ format: "pro_contra", verdict: false, language: "ru" });
    const listed = (await api.request("GET", "/api/sessions")).json.items.find(
      (item: Json) => item.id === chosen.id,
    );
    expect(listed).toMatchObject({ format: "pro_contra", verdict: false, language: "ru" });
    const audit = await stack.lastAudit("session.create");
    expect(audit?.meta).toMatchObject({ format: "pro_contra", verdict: false, language: "ru" });

    expect(await create({ topic: "Is remote work here to stay?" })).toMatchObject({
      format: "roundtable",
      verdict: true,
      language: "en",
    });
    expect(await create({ topic: "Останется ли удалённая работа?" })).toMatchObject({ language: "ru" });
    for (const format of ["socratic", "delphi"]) {
      expect((await create({ topic: `A ${format} debate`, format })).format).toBe(format);
    }
  });

  test("a format, verdict or language outside its set is refused with the field named", async () => {
    for (const [field, value] of [
      ["format", "shouting"],
      ["format", 3],
      ["verdict", "yes"],
      ["verdict", null],
      ["language", "de"],
      ["language", "EN"],
    ] as const) {
      const answer = await api.request("POST", "/api/sessions", { body: { topic: "ok", [field]: value } });
      expectError(answer, 422, "validation_failed");
      expect(answer.json.error.details).toEqual([expect.objectContaining({ path: field })]);
    }
  });
});

describe("interjections", () => {
  test("a running debate takes one: 201 with the message, in the history, on the stream, audited", async () => {
    const id = await runningSession("Tea or coffee?");
    const stream = readSse(await api.fetch("GET", `/api/sessions/${id}/events`), 5_000);
    const sent = await api.request("POST", `/api/sessions/${id}/messages`, {
      body: { content: "  What about decaf?  " },
    });
    expect(sent.status).toBe(201);
    expect(sent.json).toMatchObject({
      author_type: "user",
      author_name: "User",
      content: "What about decaf?",
      participant_id: null,
      tokens_in: 0,
      cost: expect.stringMatching(/^\d+\.\d{8}$/),
    });
    const history = (await api.request("GET", `/api/sessions/${id}`)).json;
    expect(ofType(history, "user")).toEqual([sent.json]);
    const audit = await stack.lastAudit("session.interject");
    expect(audit).toMatchObject({ actor: "api", target: `session:${id}` });
    expect(audit?.meta).toMatchObject({ turn_index: sent.json.turn_index });

    // Too soon after the first: 429 in the error shape, with when to come back.
    const again = await api.request("POST", `/api/sessions/${id}/messages`, {
      body: { content: "And tea?" },
    });
    expectError(again, 429, "rate_limited");
    expect(again.json.error.details.retry_after_sec).toBeGreaterThan(0);
    expect(Number(again.headers.get("retry-after"))).toBe(
      Math.max(1, Math.ceil(again.json.error.details.retry_after_sec)),
    );

    await api.request("POST", `/api/sessions/${id}/stop`);
    const { events } = await stream;
    const created = events.find(
      (event) => event.event === "message-created" && (event.data as Json).author_type === "user",
    );
    expect(created?.data).toMatchObject({
      session_id: id,
      message_id: sent.json.id,
      turn_index: sent.json.turn_index,
      content: "What about decaf?",
    });
  });

  test("bad content, bad bodies, other states and unknown sessions are refused", async () => {
    const id = await runningSession("Cats or dogs?");
    for (const content of ["", "   ", "x".repeat(1001)]) {
      const answer = await api.request("POST", `/api/sessions/${id}/messages`, { body: { content } });
      expectError(answer, 400, "invalid_content");
    }
    for (const body of [{}, { content: 5 }, { content: "ok", by: "operator" }]) {
      expectError(
        await api.request("POST", `/api/sessions/${id}/messages`, { body }),
        422,
        "validation_failed",
      );
    }
    expectError(
      await api.request("POST", `/api/sessions/${id}/messages`, { body: "{not json" }),
      400,
      "malformed_json",
    );
    await api.request("POST", `/api/sessions/${id}/stop`);

    const stopped = await api.request("POST", `/api/sessions/${id}/messages`, { body: { content: "Late?" } });
    expectError(stopped, 409, "invalid_state");
    expect(stopped.json.error.details).toMatchObject({ status: "stopped" });
    const created = await create({ topic: "Not started" });
    expectError(
      await api.request("POST", `/api/sessions/${created.id}/messages`, { body: { content: "Early?" } }),
      409,
      "invalid_state",
    );
    expectError(
      await api.request("POST", `/api/sessions/${UNKNOWN_ID}/messages`, { body: { content: "Anyone?" } }),
      404,
      "session_not_found",
    );
    expectError(
      await api.request("POST", "/api/sessions/not-a-uuid/messages", { body: { content: "x" } }),
      404,
      "session_not_found",
    );
    expectError(
      await api.request("POST", `/api/sessions/${id}/messages`, { body: { content: "x" }, token: null }),
      401,
      "unauthorized",
    );
    // Nothing was stored by any refusal.
    expect(ofType((await api.request("GET", `/api/sessions/${id}`)).json, "user")).toEqual([]);
  });
});

describe("continue", () => {
  test("a finished debate goes on for more rounds with the same participants, and is audited", async () => {
    const session = await create({ topic: "Four-day week?", max_rounds: 1, verdict: false });
    await start(session.id);
    const finished = await waitForSession(session.id, (s) => s.status === "finished");
    expect(ofType(finished, "model").length).toBe(2);

    const continued = await api.request("POST", `/api/sessions/${session.id}/continue`, {
      body: { rounds: 2 },
    });
    expect(continued.status).toBe(200);
    expect(continued.json).toMatchObject({ status: "running", max_rounds: 3, stop_reason: null });
    const again = await waitForSession(session.id, (s) => s.status === "finished");
    const turns = ofType(again, "model");
    expect(turns.map((turn: Json) => [turn.author_name, turn.round])).toEqual([
      ["ChatGPT", 1],
      ["DeepSeek", 1],
      ["ChatGPT", 2],
      ["DeepSeek", 2],
      ["ChatGPT", 3],
      ["DeepSeek", 3],
    ]);
    expect(again).toMatchObject({ current_round: 3, max_rounds: 3, stop_reason: "max_rounds" });
    expect(again.participants.map((p: Json) => p.id)).toEqual(finished.participants.map((p: Json) => p.id));
    const audit = await stack.lastAudit("session.continue");
    expect(audit).toMatchObject({ actor: "api", target: `session:${session.id}` });
    expect(audit?.meta).toEqual({ rounds: 2, max_rounds: 3 });
  });

  test("a stopped debate continues; a created or running one is a conflict; rounds are 1–10", async () => {
    const id = await runningSession("Stop and go");
    expectError(
      await api.request("POST", `/api/sessions/${id}/continue`, { body: { rounds: 1 } }),
      409,
      "invalid_state",
    );
    const stopped = (await api.request("POST", `/api/sessions/${id}/stop`)).json;
    for (const rounds of [0, 11, 2.5, "2", null]) {
      const answer = await api.request("POST", `/api/sessions/${id}/continue`, { body: { rounds } });
      expectError(answer, 422, "validation_failed");
      expect(answer.json.error.details).toEqual([expect.objectContaining({ path: "rounds" })]);
    }
    for (const body of [{}, { rounds: 1, topic: "x" }]) {
      expectError(
        await api.request("POST", `/api/sessions/${id}/continue`, { body }),
        422,
        "validation_failed",
      );
    }
    const continued = await api.request("POST", `/api/sessions/${id}/continue`, { body: { rounds: 10 } });
    expect(continued.status).toBe(200);
    expect(continued.json).toMatchObject({ status: "running", max_rounds: stopped.max_rounds + 10 });
    await api.request("POST", `/api/sessions/${id}/stop`);

    const created = await create({ topic: "Never started" });
    const early = await api.request("POST", `/api/sessions/${created.id}/continue`, { body: { rounds: 1 } });
    expectError(early, 409, "invalid_state");
    expect(early.json.error.details).toMatchObject({ status: "created" });
    expectError(
      await api.request("POST", `/api/sessions/${UNKNOWN_ID}/continue`, { body: { rounds: 1 } }),
      404,
      "session_not_found",
    );
  });
});

describe("verdict", () => {
  test("asked for after the end: 202, written by the moderator, streamed, then a conflict", async () => {
    const session = await create({ topic: "Is nuclear power green?", max_rounds: 1, verdict: false });
    await start(session.id);
    const finished = await waitForSession(session.id, (s) => s.status === "finished");
    expect(ofType(finished, "verdict")).toEqual([]);
    stack.fakeLlm.setResponder((request) => (isVerdictRequest(request) ? { text: VERDICT_TEXT } : {}));

    const accepted = await api.request("POST", `/api/sessions/${session.id}/verdict`);
    expect(accepted.status).toBe(202);
    expect(accepted.json).toMatchObject({ id: session.id, status: "finished" });
    // The stream of an ended session waiting for its verdict stays open until the verdict is in.
    const { events, ended: closed } = await readSse(
      await api.fetch("GET", `/api/sessions/${session.id}/events`),
    );
    expect(closed).toBe(true);
    const judged = await waitForSession(session.id, (s) => ofType(s, "verdict").length === 1);
    const [verdict] = ofType(judged, "verdict");
    expect(verdict).toMatchObject({ content: VERDICT_TEXT, author_name: "ChatGPT", participant_id: null });
    expect(verdict.tokens_out).toBeGreaterThan(0);
    expect(Number(verdict.cost)).toBeGreaterThan(0);
    expect(judged.status).toBe("finished");
    expect(stack.fakeLlm.requests.filter(isVerdictRequest).length).toBe(1);
    const last = events.at(-1);
    if (last?.event === "message-created") {
      expect(last.data).toMatchObject({ author_type: "verdict", message_id: verdict.id });
    } else {
      // The verdict was written before the stream opened: then the end was all there was to say.
      expect(last?.event).toBe("session-end");
    }
    expect((await stack.lastAudit("session.verdict"))?.target).toBe(`session:${session.id}`);

    const twice = await api.request("POST", `/api/sessions/${session.id}/verdict`);
    expectError(twice, 409, "invalid_state");
    expect(twice.json.error.message).toContain("already has a verdict");
  });

  test("a debate with verdict on gets one at the end; running, created and unknown sessions are refused", async () => {
    stack.fakeLlm.setResponder((request) => (isVerdictRequest(request) ? { text: VERDICT_TEXT } : {}));
    const session = await create({ topic: "Pineapple on pizza?", max_rounds: 1 });
    await start(session.id);
    const finished = await waitForSession(session.id, (s) => s.status === "finished");
    expect(ofType(finished, "verdict").map((message: Json) => message.content)).toEqual([VERDICT_TEXT]);
    expectError(await api.request("POST", `/api/sessions/${session.id}/verdict`), 409, "invalid_state");

    const id = await runningSession("Still talking");
    const running = await api.request("POST", `/api/sessions/${id}/verdict`);
    expectError(running, 409, "invalid_state");
    expect(running.json.error.details).toMatchObject({ status: "running" });
    await api.request("POST", `/api/sessions/${id}/stop`);
    const created = await create({ topic: "Nothing said yet" });
    expectError(await api.request("POST", `/api/sessions/${created.id}/verdict`), 409, "invalid_state");
    expectError(await api.request("POST", `/api/sessions/${UNKNOWN_ID}/verdict`), 404, "session_not_found");
  });
});

describe("export", () => {
  let detail: Json;

  beforeAll(async () => {
    // A whole debate: two rounds, an interjection in the middle, the verdict at the end.
    stack.fakeLlm.reset();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    stack.fakeLlm.setResponder(async (request, index) => {
      if (isVerdictRequest(request)) return { text: VERDICT_TEXT };
      if (index === 0) await held;
      return {};
    });
    const session = await create({
      topic: 'Remote work: "here to stay"?',
      max_rounds: 2,
      language: "en",
      format: "pro_contra",
    });
    await start(session.id);
    await stack.fakeLlm.waitForRequests(1);
    const sent = await api.request("POST", `/api/sessions/${session.id}/messages`, {
      body: { content: "What about juniors who learn by watching?" },
    });
    expect(sent.status).toBe(201);
    release();
    detail = await waitForSession(session.id, (s) => ended(s) && ofType(s, "verdict").length === 1);
    expect(detail.status).toBe("finished");
  });

  test("Markdown: a file with the topic, participants, every turn with speaker and round, the verdict, totals", async () => {
    const response = await api.fetch("GET", `/api/sessions/${detail.id}/export?format=md`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe(
      `attachment; filename="roundtable-${detail.id.slice(0, 8)}.md"`,
    );
    const markdown = await response.text();
    expect(markdown.split("\n")[0]).toBe(`# ${detail.topic}`);
    for (const participant of detail.participants) {
      expect(markdown).toContain(`**${participant.display_name}** — ${participant.persona_title}`);
    }
    // Every turn, in order, under a heading naming its speaker and round.
    let from = 0;
    for (const message of detail.messages) {
      if (message.author_type !== "model") continue;
      const heading = `### ${message.author_name} (${detail.participants.find((p: Json) => p.id === message.participant_id).persona_title}) · round ${message.round}`;
      const at = markdown.indexOf(`${heading}\n\n${message.content}`, from);
      expect({ turn: message.turn_index, found: at >= 0 }).toEqual({ turn: message.turn_index, found: true });
      from = at;
    }
    expect(ofType(detail, "model").length).toBe(4);
    expect(markdown).toContain("> **Question (User):** What about juniors who learn by watching?");
    expect(markdown).toContain(`Moderator's verdict (ChatGPT)\n\n${VERDICT_TEXT}`);
    expect(markdown.indexOf(VERDICT_TEXT)).toBeGreaterThan(from);
    const { totals } = detail;
    expect(markdown).toContain(`${totals.tokens_in} (`);
    expect(markdown).toContain(`: ${totals.tokens_out}`);
    expect(markdown).toContain(`$${totals.cost}`);
    // The default format is Markdown.
    const plain = await api.fetch("GET", `/api/sessions/${detail.id}/export`);
    expect(plain.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(await plain.text()).toBe(markdown);
  });

  test("JSON: the whole session as the document's SessionExport, as a file", async () => {
    const response = await api.fetch("GET", `/api/sessions/${detail.id}/export?format=json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe(
      `attachment; filename="roundtable-${detail.id.slice(0, 8)}.json"`,
    );
    const exported = JSON.parse(await response.text());
    expect(sessionExportView.allows(exported)).toBe(true);
    // Exactly the documented fields, no more.
    const documented = jsonSchemaOf(sessionExportView).properties as Json;
    expect(Object.keys(exported).sort()).toEqual(Object.keys(documented).sort());
    const keysOf = (list: Json[]) => [...new Set(list.flatMap((item) => Object.keys(item)))].sort();
    expect(keysOf(exported.participants)).toEqual(
      Object.keys(documented.participants.items.properties).sort(),
    );
    expect(keysOf(exported.messages)).toEqual(Object.keys(documented.messages.items.properties).sort());
    // What the API shows of the session, with the same values.
    const { messages: shownMessages, participants: shownParticipants, ...shown } = detail;
    expect(exported).toMatchObject(shown);
    expect(exported.participants).toMatchObject(shownParticipants);
    expect(exported.messages).toMatchObject(shownMessages);
    expect(exported.messages.every((message: Json) => message.session_id === detail.id)).toBe(true);
  });

  test("another format is a bad request; an unknown session is not found; the token is needed", async () => {
    for (const query of ["format=pdf", "format=MD", "format=md&format=json", "format="]) {
      const answer = await api.request("GET", `/api/sessions/${detail.id}/export?${query}`);
      expectError(answer, 400, "invalid_format");
      expect(answer.json.error.details).toEqual({ formats: ["md", "json"] });
    }
    expectError(await api.request("GET", `/api/sessions/${UNKNOWN_ID}/export`), 404, "session_not_found");
    expectError(
      await api.request("GET", `/api/sessions/${detail.id}/export`, { token: null }),
      401,
      "unauthorized",
    );
  });
});
