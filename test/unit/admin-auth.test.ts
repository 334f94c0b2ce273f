import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import {
  type AdminAuth,
  cookieAttributes,
  createAdminAuth,
  deriveCookieSecret,
  SESSION_COOKIE,
} from "../../src/http/admin/admin-auth";
import { createAdminSessionStore } from "../../src/http/admin/admin-session-store";
import { clientAddress } from "../../src/http/admin/client-address";
import { createLoginThrottle } from "../../src/http/admin/login-throttle";
import { createMemoryCoordination } from "../../src/platform/memory-coordination";

const options = { username: "admin", password: "secret-password", cookieSecret: "cookie-secret" };
const MINUTE = 60_000;

describe("admin sessions", () => {
  const storeFor = (clock: { now: number }, coordination = createMemoryCoordination()) =>
    createAdminSessionStore({
      coordination,
      idleTimeoutMs: async () => 120 * MINUTE,
      lifetimeMs: 12 * 60 * MINUTE,
      now: () => clock.now,
    });

  test("a login stays while used; it ends when idle too long, past its lifetime, or logged out", async () => {
    const clock = { now: 1_000_000 };
    const store = storeFor(clock);
    const session = await store.create("admin");
    expect(await store.touch(session.sid)).toEqual(session);
    expect(await store.touch("unknown")).toBeNull();
    // Used every 119 minutes: never idle long enough.
    for (let step = 0; step < 5; step++) {
      clock.now += 119 * MINUTE;
      expect((await store.touch(session.sid))?.sid).toBe(session.sid);
    }
    clock.now += 121 * MINUTE;
    expect(await store.touch(session.sid)).toBeNull();

    const young = await store.create("admin");
    for (let step = 0; step < 7; step++) {
      clock.now += 100 * MINUTE;
      expect(await store.touch(young.sid)).not.toBeNull();
    }
    clock.now += 100 * MINUTE; // 800 minutes > 12 hours, though used all along
    expect(await store.touch(young.sid)).toBeNull();

    const other = await store.create("admin");
    await store.revoke(other.sid);
    expect(await store.touch(other.sid)).toBeNull();
  });

  test("a logout holds for every store on the same coordination (another instance, a restart)", async () => {
    const clock = { now: 5_000 };
    const coordination = createMemoryCoordination();
    const first = storeFor(clock, coordination);
    const second = storeFor(clock, coordination);
    const session = await first.create("admin");
    expect(await second.touch(session.sid)).not.toBeNull();
    await second.revoke(session.sid);
    expect(await first.touch(session.sid)).toBeNull();
  });
});

describe("admin auth", () => {
  test("CSRF tokens belong to one session; login tokens to one pre-session nonce", () => {
    const auth = createAdminAuth(options);
    expect(auth.checkCsrf("sid-1", auth.csrfToken("sid-1"))).toBe(true);
    expect(auth.checkCsrf("sid-1", auth.csrfToken("sid-2"))).toBe(false);
    expect(auth.checkCsrf("sid-1", "")).toBe(false);
    expect(auth.checkCsrf("sid-1", undefined)).toBe(false);
    // Bound to the credentials too.
    expect(
      createAdminAuth({ ...options, password: "other" }).checkCsrf("sid-1", auth.csrfToken("sid-1")),
    ).toBe(false);
    const nonce = auth.newLoginNonce();
    expect(auth.checkLoginCsrf(nonce, auth.loginCsrfToken(nonce))).toBe(true);
    expect(auth.checkLoginCsrf(undefined, auth.loginCsrfToken(nonce))).toBe(false);
    expect(auth.checkLoginCsrf(auth.newLoginNonce(), auth.loginCsrfToken(nonce))).toBe(false);
  });

  test("credentials: both must match; no password means nobody gets in", () => {
    const auth = createAdminAuth(options);
    expect(auth.checkCredentials("admin", "secret-password")).toBe(true);
    expect(auth.checkCredentials("admin", "secret-passwor")).toBe(false);
    expect(auth.checkCredentials("Admin", "secret-password")).toBe(false);
    const disabled = createAdminAuth({ ...options, password: "" });
    expect(disabled.enabled).toBe(false);
    expect(disabled.checkCredentials("admin", "")).toBe(false);
  });

  test("the cookie secret is derived from SECRETS_KEY, stable, and not the key itself", () => {
    const key = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    expect(deriveCookieSecret(key)).toBe(deriveCookieSecret(key));
    expect(deriveCookieSecret(key)).not.toContain(key);
    expect(deriveCookieSecret(key)).not.toBe(deriveCookieSecret(`${key},other`));
  });

  test("Elysia signs the cookies with a key bound to the credentials", async () => {
    /** A tiny app on the admin's cookie schema: `/set` sets a session cookie, `/read` reads it back. */
    const appFor = (auth: AdminAuth) =>
      new Elysia()
        .onError(({ code }) => String(code))
        .guard({ cookie: auth.cookieSchema })
        .get("/set", ({ cookie }) => {
          cookie[SESSION_COOKIE].set({ value: "session-id", ...cookieAttributes(60, true) });
          return "ok";
        })
        .get("/read", ({ cookie }) => String(cookie[SESSION_COOKIE].value));
    const app = appFor(createAdminAuth(options));
    const line = (await app.handle(new Request("http://admin.test/set"))).headers.getSetCookie()[0]!;
    expect(line).toMatch(
      /^rt_admin_session=session-id\.[^;]+; Max-Age=60; Path=\/admin; HttpOnly; Secure; SameSite=Strict$/,
    );
    const cookie = line.split(";")[0]!;
    const read = async (target: ReturnType<typeof appFor>, value: string) =>
      (await target.handle(new Request("http://admin.test/read", { headers: { cookie: value } }))).text();
    expect(await read(app, cookie)).toBe("session-id");
    expect(await read(app, `${cookie.slice(0, -2)}AA`)).toBe("INVALID_COOKIE_SIGNATURE");
    expect(await read(app, "rt_admin_session=session-id")).toBe("INVALID_COOKIE_SIGNATURE");
    // Another password (or secret) signs differently: a password change logs everyone out.
    expect(await read(appFor(createAdminAuth({ ...options, password: "new-password" })), cookie)).toBe(
      "INVALID_COOKIE_SIGNATURE",
    );
    expect(await read(appFor(createAdminAuth({ ...options, cookieSecret: "other" })), cookie)).toBe(
      "INVALID_COOKIE_SIGNATURE",
    );
  });
});

describe("login throttle", () => {
  test("locks an address out of a username after the allowed failures, doubling, and forgets after the window", () => {
    let now = 0;
    const throttle = createLoginThrottle({ maxFailures: 3, lockMs: 1000, windowMs: 60_000, now: () => now });
    for (let attempt = 0; attempt < 2; attempt++) throttle.recordFailure("ip", "admin");
    expect(throttle.retryAfterMs("ip", "admin")).toBe(0);
    throttle.recordFailure("ip", "Admin ");
    expect(throttle.retryAfterMs("ip", "admin")).toBe(1000);
    now += 1000;
    expect(throttle.retryAfterMs("ip", "admin")).toBe(0);
    throttle.recordFailure("ip", "admin");
    expect(throttle.retryAfterMs("ip", "admin")).toBe(2000);
    // Neither another address nor another username of this address is touched.
    expect(throttle.retryAfterMs("other-ip", "admin")).toBe(0);
    expect(throttle.retryAfterMs("ip", "root")).toBe(0);
    now += 61_000;
    expect(throttle.retryAfterMs("ip", "admin")).toBe(0);
    throttle.recordFailure("ip", "admin");
    throttle.recordSuccess("ip", "admin");
    expect(throttle.retryAfterMs("ip", "admin")).toBe(0);
  });

  test("a username guessed from everywhere gives each address one try; a clean address always gets in", () => {
    let now = 0;
    const throttle = createLoginThrottle({ maxFailures: 5, alarmFailures: 20, lockMs: 1000, now: () => now });
    for (let index = 0; index < 25; index++) throttle.recordFailure(`attacker-${index}`, "admin");
    // The real admin's address has not failed: never refused, whatever the attack.
    expect(throttle.retryAfterMs("admin-office", "admin")).toBe(0);
    // Under the alarm a single failure locks an address out.
    throttle.recordFailure("fresh-attacker", "admin");
    expect(throttle.retryAfterMs("fresh-attacker", "admin")).toBe(1000);
    // Without the alarm the same failure is one of five.
    expect(throttle.retryAfterMs("attacker-0", "root")).toBe(0);
    throttle.recordFailure("someone", "root");
    expect(throttle.retryAfterMs("someone", "root")).toBe(0);
    // The alarm passes with the window.
    now += 16 * 60_000;
    throttle.recordFailure("later", "admin");
    expect(throttle.retryAfterMs("later", "admin")).toBe(0);
  });

  test("memory is bounded: the least recently failed keys are forgotten first", () => {
    const throttle = createLoginThrottle({ maxFailures: 1, lockMs: 60_000, maxKeys: 100 });
    throttle.recordFailure("first", "admin");
    for (let index = 0; index < 100; index++) throttle.recordFailure(`scan-${index}`, `user-${index}`);
    expect(throttle.retryAfterMs("first", "admin")).toBe(0);
    expect(throttle.retryAfterMs("scan-99", "user-99")).toBeGreaterThan(0);
  });
});

describe("client address", () => {
  const request = (forwarded?: string) =>
    new Request("http://admin.test/", { headers: forwarded ? { "x-forwarded-for": forwarded } : {} });
  const peer = { requestIP: () => ({ address: "10.0.0.9" }) };

  test("without trusted proxies X-Forwarded-For is ignored", () => {
    expect(clientAddress(request("1.1.1.1"), peer, 0)).toBe("10.0.0.9");
    expect(clientAddress(request(), null, 0)).toBe("local");
  });

  test("behind N proxies the client is the N-th entry from the right; what a client wrote further left is not believed", () => {
    expect(clientAddress(request("6.6.6.6, 203.0.113.7"), peer, 1)).toBe("203.0.113.7");
    expect(clientAddress(request("6.6.6.6, 203.0.113.7, 10.0.0.2"), peer, 2)).toBe("203.0.113.7");
    expect(clientAddress(request("203.0.113.7"), peer, 3)).toBe("203.0.113.7");
    expect(clientAddress(request(), peer, 1)).toBe("10.0.0.9");
  });
});
