/**
 * Issue 13 through the admin's real pages (forms with CSRF, redirects, the live fragment and its
 * event stream): a debate started with a format, the verdict switch and a language; the operator's
 * interjection in a running debate; continue; a verdict asked for after the end, shown highlighted
 * and followed live; export as Markdown and JSON.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { messages, providers, sessions } from "../../src/db/schema";
import { createAdminTestApp } from "../helpers/admin-app";
import { ADMIN_PASSWORD, ADMIN_USERNAME, AdminClient } from "../helpers/admin-client";
import { sessionInStatus } from "../helpers/debate-test-utils";
import { eventually } from "../helpers/eventually";
import type { FakeRequestRecord } from "../helpers/fake-openai-server";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let app: Awaited<ReturnType<typeof createAdminTestApp>>;
let browser: AdminClient;

beforeAll(async () => {
  stack = await createTestStack({ settings: { MAX_ROUNDS: 2 } });
  app = await createAdminTestApp(stack, { options: { heartbeatMs: 200 } });
  browser = new AdminClient((request) => app.handle(request));
  expect((await browser.login(ADMIN_USERNAME, ADMIN_PASSWORD)).status).toBe(303);
});
afterAll(async () => {
  await stack.stop();
});
beforeEach(() => {
  stack.fakeLlm.reset();
  stack.fakeLlm.setResponder(() => ({}));
});

const isVerdictRequest = (request: FakeRequestRecord) =>
  request.messages[0]?.content.startsWith("You are the impartial moderator") === true;
const VERDICT_TEXT =
  "## Where the participants agree\n\nBoth want **fewer** meetings.\n\n## Consensus\n\nmedium";

const sessionIdOf = (location: string | null) =>
  /\/admin\/sessions\/([0-9a-f-]{36})/.exec(location ?? "")?.[1] ?? "";
const sessionRow = async (id: string) =>
  (await stack.db.select().from(sessions).where(eq(sessions.id, id)))[0]!;
const rowsOf = (id: string, authorType: "user" | "verdict") =>
  stack.db
    .select()
    .from(messages)
    .where(and(eq(messages.sessionId, id), eq(messages.authorType, authorType)));

/** Starts a debate from the form; returns its id. */
async function startFromForm(fields: Record<string, string>) {
  await browser.get("/admin/sessions");
  const started = await browser.post("/admin/sessions", fields);
  expect(started.status).toBe(303);
  return sessionIdOf(started.location);
}

/** A debate started from the form whose turns hang until it is stopped. */
async function runningDebate(topic: string) {
  stack.fakeLlm.setResponder((request) => (isVerdictRequest(request) ? {} : { hang: true }));
  const id = await startFromForm({ topic, language: "en" });
  await stack.fakeLlm.waitForRequests(1);
  return id;
}

describe("starting a debate with a format, the verdict switch and a language", () => {
  test("the form offers them; the debate gets what was chosen, audited", async () => {
    const page = await browser.get("/admin/sessions");
    for (const format of ["roundtable", "pro_contra", "socratic", "delphi"]) {
      expect(page.text).toContain(`<option value="${format}"`);
    }
    expect(page.text).toContain(
      '<option value="roundtable" selected>Round table: each speaks in turn</option>',
    );
    expect(page.text).toMatch(
      /<input id="field-verdict" type="checkbox" name="verdict" value="1" checked\/?>/,
    );
    expect(page.text).toContain('<select id="field-language" name="language"');
    expect(page.text).toContain('<option value="" selected>The topic&#x27;s language</option>');

    // An unchecked box is not sent: no verdict.
    const id = await startFromForm({ topic: "Is chess a sport?", format: "socratic", language: "ru" });
    expect(await sessionRow(id)).toMatchObject({ format: "socratic", verdict: false, language: "ru" });
    const audit = await stack.lastAudit("session.start");
    expect(audit?.meta).toMatchObject({ format: "socratic", verdict: false, language: "ru" });
    const detail = await browser.get(`/admin/sessions/${id}`);
    expect(detail.text).toMatch(/<dt>Format<\/dt><dd>Socratic<\/dd>/);
    expect(detail.text).toMatch(/<dt>Verdict<\/dt><dd>on request<\/dd>/);
    expect(detail.text).toMatch(/<dt>Language<\/dt><dd>ru<\/dd>/);
    await sessionInStatus(stack, id, ["finished"]);

    // Blank language: the topic's; the box checked: a verdict at the end.
    const second = await startFromForm({ topic: "Is chess a sport?", verdict: "1", format: "delphi" });
    expect(await sessionRow(second)).toMatchObject({ format: "delphi", verdict: true, language: "en" });
    await sessionInStatus(stack, second, ["finished"]);
  });

  test("a format or language not on the list is refused next to its field, the rest kept", async () => {
    await browser.get("/admin/sessions");
    const answer = await browser.post("/admin/sessions", {
      topic: "Kept <topic>",
      format: "shouting",
      language: "de",
      max_rounds: "3",
    });
    expect(answer.status).toBe(422);
    expect(answer.text).toContain('id="field-format-error">Choose a format from the list.');
    expect(answer.text).toContain('id="field-language-error">Choose a language from the list.');
    expect(answer.text).toContain("Kept &lt;topic&gt;");
    expect(answer.text).toContain('value="3"');
    // The box was not sent, so it comes back unchecked.
    expect(answer.text).not.toMatch(/name="verdict" value="1" checked/);
  });
});

describe("the operator interjects in a running debate", () => {
  test("the question is stored as the operator's, shown in the transcript, audited; too soon is refused", async () => {
    const id = await runningDebate("Trains or planes?");
    const page = await browser.get(`/admin/sessions/${id}`);
    expect(page.text).toMatch(/<section class="card" id="interject" aria-labelledby="interject-title">/);
    expect(page.text).toContain(`action="/admin/sessions/${id}/messages"`);

    const sent = await browser.post(`/admin/sessions/${id}/messages`, {
      content: "What about <night> trains?",
    });
    expect(sent.status).toBe(303);
    expect(sent.location).toBe(`/admin/sessions/${id}?notice=interjection-sent`);
    const [row] = await rowsOf(id, "user");
    expect(row).toMatchObject({ authorName: "Operator", content: "What about <night> trains?" });
    const audit = await stack.lastAudit("session.interject");
    expect(audit).toMatchObject({ actor: "admin:admin", target: `session:${id}` });

    const after = await browser.get(sent.location!);
    expect(after.text).toContain("Sent: the next speakers will address it.");
    const card = new RegExp(
      `<article class="turn interjection" id="message-${row!.id}"[^>]*data-author-type="user">[\\s\\S]*?</article>`,
    ).exec(after.text)?.[0];
    expect(card).toContain('<span class="speaker">Operator</span>');
    expect(card).toContain("What about &lt;night&gt; trains?");

    const tooSoon = await browser.post(`/admin/sessions/${id}/messages`, { content: "And buses?" });
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.text).toMatch(/role="alert">One interjection per 10 s; try again in \d+ s\./);
    // What was typed is kept for the next try.
    expect(tooSoon.text).toContain(">And buses?</textarea>");
    expect((await rowsOf(id, "user")).length).toBe(1);
    await stack.debate.stopSession(id, "admin");
  });

  test("empty text is refused next to the field; without the CSRF token nothing is stored", async () => {
    const id = await runningDebate("Sea or mountains?");
    await browser.get(`/admin/sessions/${id}`);
    const empty = await browser.post(`/admin/sessions/${id}/messages`, { content: "   " });
    expect(empty.status).toBe(422);
    expect(empty.text).toContain(
      'id="field-content-error">An interjection must be 1 to 1000 characters long',
    );
    const forged = await browser.post(`/admin/sessions/${id}/messages`, { content: "Forged" }, null);
    expect(forged.status).toBe(403);
    expect(forged.text).toContain("CSRF check failed");
    const wrong = await browser.post(`/admin/sessions/${id}/messages`, { content: "Forged", _csrf: "nope" });
    expect(wrong.status).toBe(403);
    expect(await rowsOf(id, "user")).toEqual([]);

    await stack.debate.stopSession(id, "admin");
    const page = await browser.get(`/admin/sessions/${id}`);
    expect(page.text).not.toContain('id="interject"');
    const late = await browser.post(`/admin/sessions/${id}/messages`, { content: "Too late?" });
    expect(late.status).toBe(409);
    expect(late.text).toContain("only a running debate takes interjections");
    const missing = await browser.post("/admin/sessions/00000000-0000-4000-8000-000000000000/messages", {
      content: "Anyone?",
    });
    expect(missing.status).toBe(404);
  });
});

describe("continue", () => {
  test("a stopped debate continues for the rounds typed; bad rounds and a running debate are refused", async () => {
    const id = await runningDebate("Cities or villages?");
    const running = await browser.get(`/admin/sessions/${id}`);
    expect(running.text).not.toContain(`action="/admin/sessions/${id}/continue"`);
    const early = await browser.post(`/admin/sessions/${id}/continue`, { rounds: "1" });
    expect(early.status).toBe(409);
    expect(early.text).toContain("only a finished or stopped debate can continue");

    await browser.post(`/admin/sessions/${id}/stop`);
    const stopped = await sessionRow(id);
    const page = await browser.get(`/admin/sessions/${id}`);
    expect(page.text).toContain(`action="/admin/sessions/${id}/continue"`);
    for (const rounds of ["0", "11", "abc", ""]) {
      const answer = await browser.post(`/admin/sessions/${id}/continue`, { rounds });
      expect({ rounds, status: answer.status }).toEqual({ rounds, status: 422 });
      expect(answer.text).toContain('id="field-rounds-error">Must be an integer from 1 to 10.');
    }
    expect((await sessionRow(id)).status).toBe("stopped");
    expect((await browser.post(`/admin/sessions/${id}/continue`, { rounds: "2" }, null)).status).toBe(403);

    const continued = await browser.post(`/admin/sessions/${id}/continue`, { rounds: "2" });
    expect(continued.status).toBe(303);
    expect(continued.location).toBe(`/admin/sessions/${id}?notice=session-continued`);
    expect(await sessionRow(id)).toMatchObject({ status: "running", maxRounds: stopped.maxRounds + 2 });
    const audit = await stack.lastAudit("session.continue");
    expect(audit).toMatchObject({ actor: "admin:admin", target: `session:${id}` });
    expect(audit?.meta).toEqual({ rounds: 2, max_rounds: stopped.maxRounds + 2 });
    const live = await browser.get(continued.location!);
    expect(live.text).toContain(`data-live-session="${id}"`);
    expect(live.text).toContain("Force stop");
    await stack.debate.stopSession(id, "admin");
  });
});

describe("verdict and export", () => {
  let id: string;

  test("asked for after the end: the page waits for it live, then shows it highlighted; asked twice is refused", async () => {
    id = await startFromForm({ topic: "Meetings: fewer or shorter?", language: "en" });
    await sessionInStatus(stack, id, ["finished"]);
    const ended = await browser.get(`/admin/sessions/${id}`);
    expect(ended.text).not.toContain("data-live-session=");
    expect(ended.text).toContain(`action="/admin/sessions/${id}/verdict"`);
    expect(ended.text).toContain("Ask for the verdict");

    // The moderator answers when the test says so: the wait is visible meanwhile.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    stack.fakeLlm.setResponder(async (request) => {
      if (!isVerdictRequest(request)) return {};
      await held;
      return { text: VERDICT_TEXT };
    });
    expect((await browser.post(`/admin/sessions/${id}/verdict`, {}, null)).status).toBe(403);
    const asked = await browser.post(`/admin/sessions/${id}/verdict`);
    expect(asked.status).toBe(303);
    expect(asked.location).toBe(`/admin/sessions/${id}?notice=verdict-requested`);
    expect((await stack.lastAudit("session.verdict"))?.actor).toBe("admin:admin");
    await stack.fakeLlm.waitFor((requests) => requests.some(isVerdictRequest));

    const waiting = await browser.get(asked.location!);
    expect(waiting.text).toContain("Verdict requested");
    expect(waiting.text).toContain(`data-live-session="${id}"`);
    expect(waiting.text).toContain('data-verdict-pending="true"');
    expect(waiting.text).toContain("The moderator is writing the verdict…");
    expect(waiting.text).not.toContain("Ask for the verdict");
    expect(waiting.text).not.toContain(`action="/admin/sessions/${id}/continue"`);
    // Its event stream stays open until the verdict is written, says so, and closes.
    const cookie = `rt_admin_session=${browser.cookies.get("rt_admin_session")}`;
    const stream = await app.handle(
      new Request(`http://admin.test/admin/sessions/${id}/events`, { headers: { cookie } }),
    );
    const reading = stream.text();
    release();
    // The body ends: the server closed the stream after the verdict.
    const names = [...(await reading).matchAll(/^event: (.+)$/gm)].map((match) => match[1]);
    expect(names).toContain("refresh");
    expect(names).not.toContain("end");

    await eventually(async () => (await rowsOf(id, "verdict")).length === 1);
    const [verdict] = await rowsOf(id, "verdict");
    const fragment = await browser.get(`/admin/sessions/${id}/live`);
    expect(fragment.text).not.toContain("data-verdict-pending");
    const card = new RegExp(
      `<article class="turn verdict" id="message-${verdict!.id}"[^>]*data-author-type="verdict">[\\s\\S]*?</article>`,
    ).exec(fragment.text)?.[0];
    expect(card).toContain(
      '<span class="verdict-mark">Verdict</span><span class="speaker">Moderator&#x27;s verdict</span>',
    );
    expect(card).toContain(`by ${verdict!.authorName}`);
    expect(card).toContain("<strong>fewer</strong>");
    expect(card).toMatch(/tokens in \d+/);
    expect(fragment.text).not.toContain("Ask for the verdict");

    const twice = await browser.post(`/admin/sessions/${id}/verdict`);
    expect(twice.status).toBe(409);
    expect(twice.text).toContain("The session already has a verdict.");
  }, 30_000);

  test("export: Markdown and JSON files of the session; another format and unknown sessions are refused", async () => {
    const markdown = await browser.get(`/admin/sessions/${id}/export?format=md`);
    expect(markdown.status).toBe(200);
    expect(markdown.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(markdown.headers.get("content-disposition")).toBe(
      `attachment; filename="roundtable-${id.slice(0, 8)}.md"`,
    );
    expect(markdown.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(markdown.text.split("\n")[0]).toBe("# Meetings: fewer or shorter?");
    expect(markdown.text).toContain(VERDICT_TEXT);

    const json = await browser.get(`/admin/sessions/${id}/export?format=json`);
    expect(json.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const exported = JSON.parse(json.text);
    expect(exported).toMatchObject({ id, topic: "Meetings: fewer or shorter?", status: "finished" });
    expect(
      exported.messages.filter((message: { author_type: string }) => message.author_type === "verdict")
        .length,
    ).toBe(1);

    const page = await browser.get(`/admin/sessions/${id}`);
    expect(page.text).toContain(`href="/admin/sessions/${id}/export?format=md" download=""`);
    expect(page.text).toContain(`href="/admin/sessions/${id}/export?format=json" download=""`);

    const other = await browser.get(`/admin/sessions/${id}/export?format=pdf`);
    expect(other.status).toBe(400);
    expect(other.text).toContain("Unknown export format");
    expect((await browser.get("/admin/sessions/00000000-0000-4000-8000-000000000000/export")).status).toBe(
      404,
    );

    // Signed out: sent to the login form, no file.
    const stranger = new AdminClient((request) => app.handle(request));
    const refused = await stranger.get(`/admin/sessions/${id}/export?format=md`);
    expect(refused.status).toBe(303);
    expect(refused.location).toStartWith("/admin/login");
  });
});

describe("the moderator", () => {
  test("is chosen on the Settings page among the providers; the next verdict is that provider's", async () => {
    const [deepSeek] = await stack.db.select().from(providers).where(eq(providers.name, "DeepSeek"));
    const page = await browser.get("/admin/settings");
    expect(page.text).toContain('<select id="field-MODERATOR_PROVIDER_ID" name="MODERATOR_PROVIDER_ID"');
    expect(page.text).toContain('<option value="" selected>The first enabled provider</option>');
    expect(page.text).toContain(`<option value="${deepSeek!.id}">DeepSeek</option>`);

    const bad = await browser.post("/admin/settings", { MODERATOR_PROVIDER_ID: "abc" });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('id="field-MODERATOR_PROVIDER_ID-error"');
    await browser.get("/admin/settings");
    const saved = await browser.post("/admin/settings", { MODERATOR_PROVIDER_ID: String(deepSeek!.id) });
    expect(saved.location).toBe("/admin/settings?notice=settings-saved");
    expect((await stack.settings.getAll()).MODERATOR_PROVIDER_ID).toBe(deepSeek!.id);
    expect((await browser.get("/admin/settings")).text).toContain(
      `<option value="${deepSeek!.id}" selected>DeepSeek</option>`,
    );

    stack.fakeLlm.setResponder((request) => (isVerdictRequest(request) ? { text: VERDICT_TEXT } : {}));
    const id = await startFromForm({ topic: "Who moderates?", verdict: "1", max_rounds: "1" });
    await sessionInStatus(stack, id, ["finished"]);
    const [verdict] = await rowsOf(id, "verdict");
    expect(verdict).toMatchObject({ authorName: "DeepSeek", content: VERDICT_TEXT });

    // Cleared: back to the first enabled provider.
    await browser.get("/admin/settings");
    expect((await browser.post("/admin/settings", { MODERATOR_PROVIDER_ID: "" })).status).toBe(303);
    expect((await stack.settings.getAll()).MODERATOR_PROVIDER_ID).toBe("");
  });
});
