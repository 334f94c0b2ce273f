import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { providers, sessions, users } from "../../src/db/schema";
import { createAdminTestApp } from "../helpers/admin-app";
import { ADMIN_PASSWORD, ADMIN_USERNAME, AdminClient } from "../helpers/admin-client";
import { sessionInStatus } from "../helpers/debate-test-utils";
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

const waitForStatus = (sessionId: string, wanted: string[]) => sessionInStatus(stack, sessionId, wanted);

const sessionIdOf = (location: string | null) =>
  /\/admin\/sessions\/([0-9a-f-]{36})/.exec(location ?? "")?.[1] ?? "";

/** Reads server-sent events from a streaming response until `until` returns true or time runs out. */
async function readEvents(response: Response, until: (events: { event: string; data: string }[]) => boolean) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: { event: string; data: string }[] = [];
  let buffer = "";
  let comments = 0;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !until(events)) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let boundary = buffer.indexOf("\n\n");
    while (boundary >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      if (block.startsWith(":")) comments++;
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event) events.push({ event, data: data ?? "" });
      boundary = buffer.indexOf("\n\n");
    }
  }
  reader.releaseLock();
  return { events, comments };
}

describe("starting a debate from the admin", () => {
  test("the form validates the topic and the rounds next to the fields", async () => {
    await browser.get("/admin/sessions");
    const empty = await browser.post("/admin/sessions", { topic: "   ", max_rounds: "" });
    expect(empty.status).toBe(422);
    expect(empty.text).toMatch(/id="field-topic-error">The topic must be 1 to 1000 characters/);
    const rounds = await browser.post("/admin/sessions", { topic: "Cats or dogs?", max_rounds: "many" });
    expect(rounds.status).toBe(422);
    expect(rounds.text).toMatch(/id="field-max_rounds-error">Must be an integer from 1 to 50/);
    expect(rounds.text).toContain("Cats or dogs?");
    const tooLong = await browser.post("/admin/sessions", { topic: "x".repeat(1001) });
    expect(tooLong.status).toBe(422);
  });

  test("a debate runs to the end and the page shows the whole transcript, safely", async () => {
    stack.fakeLlm.enqueue(
      {
        text: "**Bold claim**: tea wins.\n\n- first point\n- second `point`\n\n<script>alert(1)</script>",
        cachedTokens: 12,
      },
      {
        text: 'I disagree <img src=x onerror=alert(2)> and [see this](javascript:alert(3)) or [docs](https://example.com/a?b=1&c=2 "t")',
      },
    );
    await browser.get("/admin/sessions");
    const started = await browser.post("/admin/sessions", { topic: "Tea or <b>coffee</b>?", max_rounds: "" });
    expect(started.status).toBe(303);
    const sessionId = sessionIdOf(started.location);
    expect(started.location).toBe(`/admin/sessions/${sessionId}?notice=session-started`);
    const audit = await stack.lastAudit("session.start");
    expect(audit).toMatchObject({ actor: "admin:admin", target: `session:${sessionId}` });
    expect(audit?.meta).toMatchObject({ max_rounds: 2, participants: ["ChatGPT", "DeepSeek"] });

    const ended = await waitForStatus(sessionId, ["finished"]);
    expect(ended.source).toBe("admin");
    const page = await browser.get(`/admin/sessions/${sessionId}`);
    expect(page.status).toBe(200);
    // Topic and model text escaped; a tiny Markdown subset rendered.
    expect(page.text).toContain("Tea or &lt;b&gt;coffee&lt;/b&gt;?");
    expect(page.text).toContain("<strong>Bold claim</strong>: tea wins.");
    expect(page.text).toContain("<li>second <code>point</code></li>");
    expect(page.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page.text).not.toContain("<script>alert");
    expect(page.text).toContain("I disagree &lt;img src=x onerror=alert(2)&gt;");
    expect(page.text).not.toContain('href="javascript:');
    expect(page.text).toContain('and see this or <a href="https://example.com/a?b=1&amp;c=2"');
    // Four turns: speaker, round, tokens, cached, cost, latency each; totals; no stop button any more.
    expect(page.text.match(/<article class="turn speaker-/g)?.length).toBe(4);
    expect(page.text).toMatch(
      /<span class="speaker">ChatGPT<\/span><span class="muted small">Optimist<\/span><span class="muted small">round 1 · turn 1<\/span>/,
    );
    expect(page.text).toMatch(/<span class="speaker">DeepSeek<\/span>[\s\S]*?round 2 · turn 4/);
    expect(page.text).toMatch(
      /tokens in \d+<\/span><span>cached 12<\/span><span>out \d+<\/span><span>cost \$0\.\d+<\/span><span>latency \d+ ms/,
    );
    expect(page.text).toMatch(/<dt>Rounds<\/dt><dd>2 \/ 2<\/dd>/);
    expect(page.text).toMatch(/<dt>Cost<\/dt><dd>\$0\.\d+<\/dd>/);
    expect(page.text).toContain("round limit reached");
    expect(page.text).not.toContain("Force stop");
    expect(page.text).not.toContain("data-live-session=");
  }, 20000);

  test("without two enabled providers the form explains why nothing started", async () => {
    const [deepSeek] = await stack.db.select().from(providers).where(eq(providers.name, "DeepSeek"));
    await stack.db.update(providers).set({ enabled: false }).where(eq(providers.id, deepSeek!.id));
    try {
      const page = await browser.get("/admin/sessions");
      expect(page.text).toContain("Speakers in order: ChatGPT.");
      const answer = await browser.post("/admin/sessions", { topic: "Alone?" });
      expect(answer.status).toBe(422);
      expect(answer.text).toContain("A debate needs at least two enabled providers");
    } finally {
      await stack.db.update(providers).set({ enabled: true }).where(eq(providers.id, deepSeek!.id));
    }
  });
});

describe("a debate that ends for lack of working providers", () => {
  test("the session page says why, with the detail and each exclusion reason, first thing", async () => {
    stack.fakeLlm.setResponder(() => ({ status: 401, errorMessage: "Incorrect API key <b>provided</b>" }));
    try {
      await browser.get("/admin/sessions");
      const started = await browser.post("/admin/sessions", { topic: "Nobody can speak" });
      const sessionId = sessionIdOf(started.location);
      const ended = await waitForStatus(sessionId, ["finished", "stopped", "failed"]);
      expect(ended.stopReason).toBe("no_participants");
      const page = await browser.get(`/admin/sessions/${sessionId}`);
      const block =
        /<div class="notice notice-error end-reason" id="end-reason" role="alert">([\s\S]*?)<\/div>/.exec(
          page.text,
        )?.[1];
      expect(block).toBeDefined();
      expect(block).toContain("Ended: fewer than two participants left");
      if (ended.stopDetail) expect(block).toContain(Bun.escapeHTML(ended.stopDetail));
      const participants = await stack.debate.getSession(sessionId);
      const excluded = participants.participants.filter((participant) => participant.status === "excluded");
      expect(excluded.length).toBeGreaterThan(0);
      for (const participant of excluded) {
        expect(block).toContain(`<li><span>${participant.displayName}</span> — <span>`);
        expect(block).toContain(Bun.escapeHTML(participant.exclusionReason!));
      }
      expect(block).not.toContain("<b>provided</b>");
      // It comes before the facts and the transcript.
      expect(page.text.indexOf('id="end-reason"')).toBeLessThan(page.text.indexOf("<h2>Participants</h2>"));
    } finally {
      stack.fakeLlm.setResponder(() => ({}));
    }
  }, 20000);
});

describe("live view and force stop", () => {
  test("events stream while a debate runs; force stop ends it at once and is audited", async () => {
    // Distinct default answers, streamed slowly: a turn takes a few seconds.
    stack.fakeLlm.setResponder(() => ({ chunkDelayMs: 300 }));
    try {
      await browser.get("/admin/sessions");
      const started = await browser.post("/admin/sessions", { topic: "Slow debate", max_rounds: "5" });
      const sessionId = sessionIdOf(started.location);
      const page = await browser.get(`/admin/sessions/${sessionId}`);
      expect(page.text).toContain(`data-live-session="${sessionId}"`);
      expect(page.text).toContain("Force stop");

      const cookie = `rt_admin_session=${browser.cookies.get("rt_admin_session")}`;
      const stream = await app.handle(
        new Request(`http://admin.test/admin/sessions/${sessionId}/events`, { headers: { cookie } }),
      );
      expect(stream.status).toBe(200);
      expect(stream.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      // The test engine publishes no deltas (deltaIntervalMs 0): turn starts and ends are what flows.
      // The first turn may have started before the stream opened: wait for an end and the next start.
      const live = await readEvents(
        stream,
        (events) =>
          events.some((event) => event.event === "refresh") &&
          events.some((event) => event.event === "turn-start"),
      );
      const names = live.events.map((event) => event.event);
      expect(names).toContain("turn-start");
      expect(names).toContain("refresh");
      const turnStart = live.events.find((event) => event.event === "turn-start")!;
      expect(JSON.parse(turnStart.data)).toMatchObject({ name: expect.any(String), round: 1 });

      // The fragment the page script fetches: no doctype, the current state.
      const fragment = await browser.get(`/admin/sessions/${sessionId}/live`);
      expect(fragment.status).toBe(200);
      expect(fragment.text.startsWith('<div class="live-body" data-status="running">')).toBe(true);

      await browser.get(`/admin/sessions/${sessionId}`);
      const stop = await browser.post(`/admin/sessions/${sessionId}/stop`);
      expect(stop.status).toBe(303);
      expect(stop.location).toBe(`/admin/sessions/${sessionId}?notice=session-stopped`);
      const [row] = await stack.db.select().from(sessions).where(eq(sessions.id, sessionId));
      expect(row).toMatchObject({ status: "stopped", stopReason: "admin" });
      const audit = await stack.lastAudit("session.stop");
      expect(audit).toMatchObject({ actor: "admin:admin", target: `session:${sessionId}` });

      const rest = await readEvents(stream, () => false);
      expect([...names, ...rest.events.map((event) => event.event)]).toContain("end");

      const after = await browser.get(stop.location!);
      expect(after.text).toContain("Debate stopped.");
      expect(after.text).toContain("stopped by an admin");
      expect(after.text).not.toContain("Force stop");
      // Stopping again changes nothing and is not audited twice.
      const again = await browser.post(`/admin/sessions/${sessionId}/stop`);
      expect(again.location).toBe(`/admin/sessions/${sessionId}?notice=session-ended`);
      expect((await stack.lastAudit("session.stop"))?.id).toBe(audit!.id);
    } finally {
      stack.fakeLlm.setResponder(() => ({}));
    }
  }, 30000);

  test("the event stream of an ended session says so and closes; keep-alives flow while open", async () => {
    const [ended] = await stack.db.select().from(sessions).where(eq(sessions.status, "finished")).limit(1);
    const cookie = `rt_admin_session=${browser.cookies.get("rt_admin_session")}`;
    const response = await app.handle(
      new Request(`http://admin.test/admin/sessions/${ended!.id}/events`, { headers: { cookie } }),
    );
    const { events } = await readEvents(response, (list) => list.some((event) => event.event === "end"));
    expect(events.map((event) => event.event)).toContain("end");

    const created = await stack.debate.createSession({ topic: "Not started yet" });
    const open = await app.handle(
      new Request(`http://admin.test/admin/sessions/${created.session.id}/events`, { headers: { cookie } }),
    );
    const reading = readEvents(open, () => false);
    await Bun.sleep(700);
    await stack.debate.stopSession(created.session.id, "admin");
    const result = await reading;
    expect(result.comments).toBeGreaterThanOrEqual(2);
    expect(result.events.map((event) => event.event)).toContain("end");
  }, 20000);
});

describe("sessions list", () => {
  test("shows status, topic, user, rounds, tokens and cost; filters by status and user; pages", async () => {
    const [alice] = await stack.db
      .insert(users)
      .values({ telegramId: 424242, username: "alice_tg", languageCode: "en" })
      .returning();
    const [bob] = await stack.db.insert(users).values({ telegramId: 777, username: null }).returning();
    for (let index = 0; index < 22; index++) {
      await stack.debate.createSession({
        topic: `Queued topic ${index} <i>x</i>`,
        userId: index % 2 === 0 ? alice!.id : bob!.id,
        chatId: 10_000 + index,
        source: "telegram",
      });
    }
    const first = await browser.get("/admin/sessions");
    expect(first.status).toBe(200);
    expect(first.text).toMatch(/Showing 1–20 of \d+/);
    expect(first.text).toContain("Queued topic 21 &lt;i&gt;x&lt;/i&gt;");
    expect(first.text).toContain("@alice_tg");
    expect(first.text).toContain("tg:777");
    expect(first.text).toContain('class="badge badge-created"');
    const second = await browser.get("/admin/sessions?page=2");
    expect(second.text).toMatch(/Showing 21–\d+ of \d+/);

    const byStatus = await browser.get("/admin/sessions?status=finished");
    expect(byStatus.text).toContain("Tea or &lt;b&gt;coffee&lt;/b&gt;?");
    expect(byStatus.text).not.toContain("Queued topic");
    expect(byStatus.text).toMatch(/<td class="num">2\/2<\/td>/);
    expect(byStatus.text).toMatch(/<td class="num">\$0\.\d+<\/td>/);

    const byUser = await browser.get("/admin/sessions?user=%40alice_tg");
    expect(byUser.text).toContain("Showing 1–11 of 11");
    expect(byUser.text).not.toContain("tg:777");
    const byTelegramId = await browser.get("/admin/sessions?user=777");
    expect(byTelegramId.text).toContain("Showing 1–11 of 11");
    const nobody = await browser.get("/admin/sessions?user=nobody_here");
    expect(nobody.text).toContain("No such user.");
    expect(nobody.text).toContain("No sessions match.");
    const combined = await browser.get("/admin/sessions?user=alice_tg&status=running");
    expect(combined.text).toContain("No sessions match.");
  }, 20000);
});

describe("dashboard", () => {
  test("shows running debates, today's count and usage by provider", async () => {
    const page = await browser.get("/admin");
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/id="stat-running">0</);
    const todayCount = Number(/id="stat-today">(\d+)</.exec(page.text)?.[1]);
    expect(todayCount).toBeGreaterThanOrEqual(24);
    expect(page.text).toContain("Usage by provider today");
    expect(page.text).toMatch(/<td>ChatGPT<\/td><td class="num">\d+<\/td>/);
    expect(page.text).toMatch(/<td>DeepSeek<\/td><td class="num">\d+<\/td>/);
    expect(page.text).toContain("Nothing is running.");
    // Charts of the last 30 days: server-rendered SVG, named for screen readers, escaped labels.
    for (const id of ["chart-debates", "chart-cost", "chart-provider-tokens", "chart-provider-cost"]) {
      expect(page.text).toContain(`<svg class="chart" id="${id}" viewBox="0 0 320 `);
      expect(page.text).toContain(`role="img" aria-labelledby="${id}-title ${id}-desc"`);
    }
    const debatesChart = /<svg class="chart" id="chart-debates"[\s\S]*?<\/svg>/.exec(page.text)![0];
    expect(debatesChart.match(/<rect class="bar"/g)?.length).toBe(30);
    const today = new Date().toISOString().slice(5, 10);
    expect(debatesChart).toContain(`<title>${today}: ${todayCount} debates</title>`);
    expect(page.text).toMatch(/<text class="chart-label" x="0" y="\d+">ChatGPT · [\d,]+ tokens<\/text>/);
  });
});
