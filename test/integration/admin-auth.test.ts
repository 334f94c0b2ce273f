import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { desc, eq } from "drizzle-orm";
import { auditLogs } from "../../src/db/schema";
import { createAdminTestApp } from "../helpers/admin-app";
import { ADMIN_PASSWORD, ADMIN_USERNAME, AdminClient, csrfFrom } from "../helpers/admin-client";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
let app: Awaited<ReturnType<typeof createAdminTestApp>>;
/** The same admin behind a proxy that reports the client address (X-Forwarded-For). */
let proxied: Awaited<ReturnType<typeof createAdminTestApp>>;

beforeAll(async () => {
  stack = await createTestStack({ startEngine: false });
  app = await createAdminTestApp(stack, { options: { loginThrottle: { maxFailures: 3, lockMs: 60_000 } } });
  proxied = await createAdminTestApp(stack, {
    env: { TRUST_PROXY: "1" },
    options: { loginThrottle: { maxFailures: 3, lockMs: 60_000 } },
  });
});
afterAll(async () => {
  await stack.stop();
});

const client = () => new AdminClient((request) => app.handle(request));

/** Each test signs in from its own address so the throttle of one test does not touch another. */
function clientFrom(address: string) {
  return new AdminClient((request) => {
    const headers = new Headers(request.headers);
    headers.set("x-forwarded-for", address);
    return proxied.handle(new Request(request, { headers }));
  });
}

describe("admin disabled", () => {
  test("without ADMIN_PASSWORD every page says the admin is disabled and nobody can sign in", async () => {
    const disabled = await createAdminTestApp(stack, { password: "" });
    const browser = new AdminClient((request) => disabled.handle(request));
    for (const path of ["/admin", "/admin/login", "/admin/providers", "/admin/sessions"]) {
      const answer = await browser.get(path);
      expect(answer.status).toBe(503);
      expect(answer.text).toContain("The admin is disabled");
      expect(answer.text).toContain("ADMIN_PASSWORD");
    }
    const post = await browser.post("/admin/login", { username: ADMIN_USERNAME, password: "" }, "x");
    expect(post.status).toBe(503);
    expect(browser.cookies.has("rt_admin_session")).toBe(false);
    // The stylesheet is still served so the page looks right.
    expect((await browser.get("/admin/assets/admin.css")).status).toBe(200);
  });
});

describe("mounting", () => {
  test("pages are complete HTML responses", async () => {
    const answer = await app.handle(new Request("http://admin.test/admin/login"));
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect((await answer.text()).startsWith("<!doctype html><html")).toBe(true);
  });
});

describe("sign-in", () => {
  test("pages require a session: the browser is sent to the login form, keeping where it was going", async () => {
    const browser = client();
    const home = await browser.get("/admin");
    expect(home.status).toBe(303);
    expect(home.location).toBe("/admin/login");
    const providers = await browser.get("/admin/providers?x=1");
    expect(providers.status).toBe(303);
    expect(providers.location).toBe(`/admin/login?next=${encodeURIComponent("/admin/providers?x=1")}`);
    for (const path of ["/admin/settings", "/admin/audit", "/admin/personalities", "/admin/sessions/abc"]) {
      expect((await browser.get(path)).status).toBe(303);
    }
    // Script endpoints answer 401 rather than redirecting.
    const live = await browser.get("/admin/sessions/00000000-0000-0000-0000-000000000000/live");
    expect(live.status).toBe(401);
    const events = await browser.get("/admin/sessions/00000000-0000-0000-0000-000000000000/events");
    expect(events.status).toBe(401);
  });

  test("a POST without a session changes nothing and goes to the login form", async () => {
    const browser = client();
    const answer = await browser.post(
      "/admin/settings",
      { PAYMENT_URL: "https://evil.example.com" },
      "forged",
    );
    expect(answer.status).toBe(303);
    expect(answer.location).toBe("/admin/login");
    expect((await stack.settings.getAll()).PAYMENT_URL).not.toBe("https://evil.example.com");
  });

  test("the right credentials set a signed HttpOnly SameSite=Strict cookie scoped to /admin", async () => {
    const browser = clientFrom("10.0.0.1");
    const form = await browser.get("/admin/login");
    expect(form.status).toBe(200);
    expect(form.text).toContain('autocomplete="current-password"');
    const answer = await browser.post("/admin/login", { username: ADMIN_USERNAME, password: ADMIN_PASSWORD });
    expect(answer.status).toBe(303);
    expect(answer.location).toBe("/admin");
    const cookie = answer.headers.getSetCookie().find((line) => line.startsWith("rt_admin_session="));
    expect(cookie).toBeDefined();
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/admin");
    expect(cookie).not.toContain(ADMIN_PASSWORD);
    // Behind a trusted proxy (TRUST_PROXY) the cookie is Secure; served directly over http it is not.
    expect(cookie).toContain("Secure");
    const direct = await client().login(ADMIN_USERNAME, ADMIN_PASSWORD);
    expect(direct.headers.getSetCookie().find((line) => line.startsWith("rt_admin_session="))).not.toContain(
      "Secure",
    );
    const home = await browser.get("/admin");
    expect(home.status).toBe(200);
    expect(home.text).toContain("Dashboard");
    expect(home.text).toContain("Signed in as <strong>admin</strong>");
    // Already signed in: the login form sends the browser home.
    expect((await browser.get("/admin/login")).location).toBe("/admin");
    const [audit] = await stack.db
      .select()
      .from(auditLogs)
      .where(eq(auditLogs.action, "admin.login"))
      .orderBy(desc(auditLogs.id))
      .limit(1);
    expect(audit).toMatchObject({ actor: "admin:admin", target: "admin" });
    expect(JSON.stringify(audit!.meta)).not.toContain(ADMIN_PASSWORD);
  });

  test("after login the browser returns to the page it asked for, never to another site", async () => {
    const browser = clientFrom("10.0.0.2");
    await browser.get("/admin/login?next=%2Fadmin%2Fsettings");
    expect(browser.lastPage).toContain('name="next" value="/admin/settings"');
    const answer = await browser.post("/admin/login", {
      username: ADMIN_USERNAME,
      password: ADMIN_PASSWORD,
      next: "/admin/settings",
    });
    expect(answer.location).toBe("/admin/settings");
    for (const next of ["https://evil.example.com", "//evil.example.com", "/api/sessions", "/admin\\@evil"]) {
      const other = clientFrom("10.0.0.2");
      await other.get("/admin/login");
      const login = await other.post("/admin/login", {
        username: ADMIN_USERNAME,
        password: ADMIN_PASSWORD,
        next,
      });
      expect(login.location).toBe("/admin");
    }
  });

  test("wrong credentials are refused with a message and no session", async () => {
    const browser = clientFrom("10.0.0.3");
    await browser.get("/admin/login");
    const wrongPassword = await browser.post("/admin/login", { username: ADMIN_USERNAME, password: "nope" });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.text).toContain("Wrong username or password.");
    expect(wrongPassword.text).not.toContain('value="nope"');
    const wrongUser = await browser.post("/admin/login", { username: "root", password: ADMIN_PASSWORD });
    expect(wrongUser.status).toBe(401);
    expect(browser.cookies.has("rt_admin_session")).toBe(false);
  });

  test("the login form has its own CSRF token: a post from elsewhere is refused", async () => {
    const browser = clientFrom("10.0.0.4");
    // No login cookie and no token (a cross-site form post).
    const blind = await browser.post(
      "/admin/login",
      { username: ADMIN_USERNAME, password: ADMIN_PASSWORD },
      null,
    );
    expect(blind.status).toBe(403);
    expect(browser.cookies.has("rt_admin_session")).toBe(false);
    // A token that does not belong to this browser's login cookie.
    await browser.get("/admin/login");
    const stranger = clientFrom("10.0.0.4");
    await stranger.get("/admin/login");
    const forged = await browser.post(
      "/admin/login",
      { username: ADMIN_USERNAME, password: ADMIN_PASSWORD },
      csrfFrom(stranger.lastPage),
    );
    expect(forged.status).toBe(403);
    expect(browser.cookies.has("rt_admin_session")).toBe(false);
  });

  test("repeated failures lock the address out (429 with Retry-After), even for the right password", async () => {
    const browser = clientFrom("10.0.0.5");
    await browser.get("/admin/login");
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await browser.post("/admin/login", {
        username: ADMIN_USERNAME,
        password: `guess-${attempt}`,
      });
      expect(answer.status).toBe(401);
    }
    const locked = await browser.post("/admin/login", { username: ADMIN_USERNAME, password: ADMIN_PASSWORD });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(locked.text).toContain("Too many failed sign-in attempts");
    expect(browser.cookies.has("rt_admin_session")).toBe(false);
    // Another address is not affected.
    const other = clientFrom("10.0.0.6");
    await other.get("/admin/login");
    expect(
      (await other.post("/admin/login", { username: ADMIN_USERNAME, password: ADMIN_PASSWORD })).status,
    ).toBe(303);
  });

  test("logout ends the session: the old cookie no longer opens anything", async () => {
    const browser = clientFrom("10.0.0.7");
    await browser.login(ADMIN_USERNAME, ADMIN_PASSWORD);
    const oldCookie = browser.cookies.get("rt_admin_session")!;
    await browser.get("/admin");
    const answer = await browser.post("/admin/logout");
    expect(answer.status).toBe(303);
    expect(answer.location).toBe("/admin/login?notice=logged-out");
    expect(browser.cookies.has("rt_admin_session")).toBe(false);
    const replay = clientFrom("10.0.0.7");
    replay.cookies.set("rt_admin_session", oldCookie);
    expect((await replay.get("/admin")).status).toBe(303);
    const [audit] = await stack.db
      .select()
      .from(auditLogs)
      .where(eq(auditLogs.action, "admin.logout"))
      .orderBy(desc(auditLogs.id))
      .limit(1);
    expect(audit?.actor).toBe("admin:admin");
  });

  test("a tampered or foreign cookie is ignored", async () => {
    const browser = clientFrom("10.0.0.8");
    await browser.login(ADMIN_USERNAME, ADMIN_PASSWORD);
    const cookie = browser.cookies.get("rt_admin_session")!;
    const [sid, signature] = cookie.split(".");
    for (const value of [
      `${"A".repeat(sid!.length)}.${signature}`,
      `${sid}.AAAA${signature!.slice(4)}`,
      sid!,
      "garbage",
      "",
    ]) {
      const intruder = new AdminClient((request) => app.handle(request));
      intruder.cookies.set("rt_admin_session", value);
      const answer = await intruder.get("/admin");
      expect(answer.status).toBe(303);
      // The bad cookie is dropped; asked again without it, the browser lands on the login form.
      expect(intruder.cookies.has("rt_admin_session")).toBe(false);
      expect((await intruder.get(answer.location!)).location).toBe("/admin/login");
    }
    // Signed with another secret (another installation): refused.
    const otherApp = await createAdminTestApp(stack, { password: "another-password" });
    const foreign = new AdminClient((request) => otherApp.handle(request));
    foreign.cookies.set("rt_admin_session", cookie);
    expect((await foreign.get("/admin")).status).toBe(303);
  });
});

describe("hardening", () => {
  test("the client address is the proxy's right-most entry: a forged left-most one changes nothing", async () => {
    const forging = (forged: string) =>
      new AdminClient((request) => {
        const headers = new Headers(request.headers);
        headers.set("x-forwarded-for", `${forged}, 10.0.2.1`);
        return proxied.handle(new Request(request, { headers }));
      });
    for (let attempt = 0; attempt < 3; attempt++) {
      const browser = forging(`192.0.2.${attempt}`);
      await browser.get("/admin/login");
      expect(
        (await browser.post("/admin/login", { username: ADMIN_USERNAME, password: "guess" })).status,
      ).toBe(401);
    }
    const again = forging("192.0.2.99");
    await again.get("/admin/login");
    expect(
      (await again.post("/admin/login", { username: ADMIN_USERNAME, password: ADMIN_PASSWORD })).status,
    ).toBe(429);
  });

  test("failures from other addresses or under other usernames never lock the real admin out", async () => {
    // More failures than the username alarm, each from another address, plus a flood of other usernames.
    for (let index = 0; index < 14; index++) {
      const attacker = clientFrom(`198.51.100.${index}`);
      await attacker.get("/admin/login");
      await attacker.post("/admin/login", { username: ADMIN_USERNAME, password: `guess-${index}` });
      await attacker.post("/admin/login", { username: `user-${index}`, password: "x" });
    }
    const admin = clientFrom("10.0.3.1");
    expect((await admin.login(ADMIN_USERNAME, ADMIN_PASSWORD)).status).toBe(303);
    expect((await admin.get("/admin")).status).toBe(200);
    // While the username is under attack, one wrong guess is enough to lock a new address out.
    const fresh = clientFrom("198.51.100.200");
    await fresh.get("/admin/login");
    expect((await fresh.post("/admin/login", { username: ADMIN_USERNAME, password: "nope" })).status).toBe(
      401,
    );
    expect(
      (await fresh.post("/admin/login", { username: ADMIN_USERNAME, password: ADMIN_PASSWORD })).status,
    ).toBe(429);
  });

  test("a logout holds on another instance and after a restart", async () => {
    const browser = clientFrom("10.0.3.2");
    await browser.login(ADMIN_USERNAME, ADMIN_PASSWORD);
    const cookie = browser.cookies.get("rt_admin_session")!;
    const other = await createAdminTestApp(stack, { env: { TRUST_PROXY: "1" } });
    const replay = (target: typeof app) => {
      const client = new AdminClient((request) => target.handle(request));
      client.cookies.set("rt_admin_session", cookie);
      return client.get("/admin");
    };
    // One login works on every instance (same stores, same secrets)...
    expect((await replay(other)).status).toBe(200);
    await browser.get("/admin");
    await browser.post("/admin/logout");
    // ...and its logout too.
    expect((await replay(other)).status).toBe(303);
    expect((await replay(app)).status).toBe(303);
    const restarted = await stack.restart({ env: { ADMIN_PASSWORD }, startEngine: false });
    expect((await replay(restarted.http)).status).toBe(303);
  });

  test("a login unused for ADMIN_IDLE_TIMEOUT_MIN ends; one in use lasts up to its lifetime", async () => {
    const clock = { now: Date.now() };
    const timed = await createAdminTestApp(stack, { options: { now: () => clock.now } });
    await stack.settings.update({ ADMIN_IDLE_TIMEOUT_MIN: 30 }, "test");
    try {
      const browser = new AdminClient((request) => timed.handle(request));
      await browser.login(ADMIN_USERNAME, ADMIN_PASSWORD);
      for (let step = 0; step < 3; step++) {
        clock.now += 29 * 60_000;
        expect((await browser.get("/admin")).status).toBe(200);
      }
      clock.now += 31 * 60_000;
      const idle = await browser.get("/admin/settings");
      expect(idle.status).toBe(303);
      expect(idle.location).toBe(`/admin/login?next=${encodeURIComponent("/admin/settings")}`);
      // The absolute lifetime holds however busy the login is.
      await browser.login(ADMIN_USERNAME, ADMIN_PASSWORD);
      // 24 requests 29 minutes apart: 696 minutes, under the 12 hours (720).
      for (let step = 0; step < 24; step++) {
        clock.now += 29 * 60_000;
        expect((await browser.get("/admin")).status).toBe(200);
      }
      clock.now += 29 * 60_000;
      expect((await browser.get("/admin")).status).toBe(303);
    } finally {
      await stack.settings.update({ ADMIN_IDLE_TIMEOUT_MIN: 120 }, "test");
    }
  });

  test("oversized forms are refused with 413 before being read; without a session nothing is read", async () => {
    const browser = clientFrom("10.0.3.3");
    await browser.login(ADMIN_USERNAME, ADMIN_PASSWORD);
    await browser.get("/admin/settings");
    const before = (await stack.settings.getAll()).PAYMENT_URL;
    const big = `_csrf=x&PAYMENT_URL=${"a".repeat(70 * 1024)}`;
    const cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const post = (body: BodyInit, headers: Record<string, string> = {}) =>
      proxied.handle(
        new Request("http://admin.test/admin/settings", {
          method: "POST",
          body,
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            "x-forwarded-for": "10.0.3.3",
            ...headers,
          },
        }),
      );
    const declared = await post(big, { cookie });
    expect(declared.status).toBe(413);
    expect(await declared.text()).toContain("Request too large");
    // A chunked body (no Content-Length) is cut off while reading.
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let index = 0; index < 40; index++) controller.enqueue(new Uint8Array(4096).fill(97));
        controller.close();
      },
    });
    expect((await post(chunked, { cookie })).status).toBe(413);
    // Without a session the body is not even looked at.
    let pulled = 0;
    const unread = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(4096).fill(97));
      },
    });
    const anonymous = await post(unread);
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/admin/login");
    expect(pulled).toBeLessThanOrEqual(1);
    // The sign-in form has the same cap.
    expect(
      (
        await proxied.handle(
          new Request("http://admin.test/admin/login", {
            method: "POST",
            body: big,
            headers: { "content-type": "application/x-www-form-urlencoded" },
          }),
        )
      ).status,
    ).toBe(413);
    expect((await stack.settings.getAll()).PAYMENT_URL).toBe(before);
  });
});

describe("CSRF on every form", () => {
  let browser: AdminClient;
  beforeAll(async () => {
    browser = clientFrom("10.0.1.1");
    await browser.login(ADMIN_USERNAME, ADMIN_PASSWORD);
  });

  test("every form of every page carries the token", async () => {
    for (const path of [
      "/admin",
      "/admin/providers",
      "/admin/providers/new",
      "/admin/personalities",
      "/admin/personalities/new",
      "/admin/sessions",
      "/admin/settings",
      "/admin/audit",
    ]) {
      const page = await browser.get(path);
      const postForms = page.text.match(/<form[^>]*method="post"[^>]*>/g) ?? [];
      expect(postForms.length).toBeGreaterThan(0);
      const tokens =
        page.text.match(/<form[^>]*method="post"[^>]*><input type="hidden" name="_csrf" value="[^"]+"/g) ??
        [];
      expect({ path, forms: tokens.length }).toEqual({ path, forms: postForms.length });
    }
  });

  test("a missing, wrong or foreign token is refused with 403 and nothing changes", async () => {
    const before = (await stack.settings.getAll()).PAYMENT_URL;
    const stranger = clientFrom("10.0.1.2");
    await stranger.login(ADMIN_USERNAME, ADMIN_PASSWORD);
    await stranger.get("/admin/settings");
    const foreignToken = csrfFrom(stranger.lastPage);
    await browser.get("/admin/settings");
    for (const token of [null, "", "wrong-token", foreignToken]) {
      const answer = await browser.post(
        "/admin/settings",
        { PAYMENT_URL: "https://changed.example.com/pay" },
        token,
      );
      expect(answer.status).toBe(403);
      expect(answer.text).toContain("CSRF check failed");
    }
    for (const path of [
      "/admin/providers/1/delete",
      "/admin/personalities",
      "/admin/sessions",
      "/admin/logout",
    ]) {
      expect((await browser.post(path, { title: "x", instructions: "y", topic: "z" }, null)).status).toBe(
        403,
      );
    }
    expect((await stack.settings.getAll()).PAYMENT_URL).toBe(before);
    // The session still works (a refused form does not log out).
    expect((await browser.get("/admin")).status).toBe(200);
  });
});
