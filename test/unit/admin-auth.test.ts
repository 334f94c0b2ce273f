import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import {
  type AdminAuth,
  cookieAttributes,
  createAdminAuth,
  deriveCookieSecret,
  SESSION_COOKIE,
} from "../../src/http/admin/admin-auth";
import { createLoginThrottle } from "../../src/http/admin/login-throttle";

describe("admin session cookie", () => {
  const options = { username: "admin", password: "secret-password", cookieSecret: "cookie-secret" };

  test("a session round-trips; forged, expired, revoked or re-keyed ones do not", () => {
    let now = 1_000_000;
    const auth = createAdminAuth({ ...options, sessionTtlMs: 60_000, now: () => now });
    const { session, cookie } = auth.issueSession();
    expect(auth.readSession(cookie)).toEqual(session);
    expect(JSON.stringify(cookie)).not.toContain("secret-password");
    expect(auth.readSession({ ...cookie, u: "root" })).toBeNull();
    expect(auth.readSession({ ...cookie, e: "later" })).toBeNull();
    expect(auth.readSession(undefined)).toBeNull();
    now += 60_001;
    expect(auth.readSession(cookie)).toBeNull();
    now -= 30_000;
    auth.revoke(session);
    expect(auth.readSession(cookie)).toBeNull();
  });

  test("CSRF tokens belong to one session; login tokens to one pre-session nonce", () => {
    const auth = createAdminAuth(options);
    const first = auth.issueSession().session;
    const second = auth.issueSession().session;
    expect(auth.checkCsrf(first, auth.csrfToken(first))).toBe(true);
    expect(auth.checkCsrf(first, auth.csrfToken(second))).toBe(false);
    expect(auth.checkCsrf(first, "")).toBe(false);
    expect(auth.checkCsrf(first, undefined)).toBe(false);
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
    expect(disabled.readSession(auth.issueSession().cookie)).toBeNull();
  });

  test("the cookie secret is derived from SECRETS_KEY, stable, and not the key itself", () => {
    const key = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    expect(deriveCookieSecret(key)).toBe(deriveCookieSecret(key));
    expect(deriveCookieSecret(key)).not.toContain(key);
    expect(deriveCookieSecret(key)).not.toBe(deriveCookieSecret(`${key},other`));
  });

  test("Elysia signs the cookies with a key bound to the credentials", async () => {
    /** A tiny app on the admin's cookie schema: `/set` issues a session cookie, `/read` reads it back. */
    const appFor = (auth: AdminAuth) =>
      new Elysia()
        .onError(({ code }) => String(code))
        .guard({ cookie: auth.cookieSchema })
        .get("/set", ({ cookie }) => {
          cookie[SESSION_COOKIE].set({ value: auth.issueSession().cookie, ...cookieAttributes(60, true) });
          return "ok";
        })
        .get("/read", ({ cookie }) => (auth.readSession(cookie[SESSION_COOKIE].value) ? "session" : "none"));
    const auth = createAdminAuth(options);
    const app = appFor(auth);
    const line = (await app.handle(new Request("http://admin.test/set"))).headers.getSetCookie()[0]!;
    expect(line).toMatch(
      /^rt_admin_session=[^;]+\.[^;]+; Max-Age=60; Path=\/admin; HttpOnly; Secure; SameSite=Strict$/,
    );
    expect(line).not.toContain("secret-password");
    const cookie = line.split(";")[0]!;
    const read = async (target: ReturnType<typeof appFor>, value: string) =>
      (await target.handle(new Request("http://admin.test/read", { headers: { cookie: value } }))).text();
    expect(await read(app, cookie)).toBe("session");
    expect(await read(app, `${cookie.slice(0, -2)}AA`)).toBe("INVALID_COOKIE_SIGNATURE");
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
  test("locks after the allowed failures, doubles the lockout, forgets after the window", () => {
    let now = 0;
    const throttle = createLoginThrottle({ maxFailures: 3, lockMs: 1000, windowMs: 60_000, now: () => now });
    for (let attempt = 0; attempt < 2; attempt++) throttle.recordFailure("ip");
    expect(throttle.retryAfterMs("ip")).toBe(0);
    throttle.recordFailure("ip");
    expect(throttle.retryAfterMs("ip")).toBe(1000);
    now += 1000;
    expect(throttle.retryAfterMs("ip")).toBe(0);
    throttle.recordFailure("ip");
    expect(throttle.retryAfterMs("ip")).toBe(2000);
    expect(throttle.retryAfterMs("other")).toBe(0);
    // A higher threshold for the same key (the username across all addresses).
    expect(throttle.retryAfterMs("ip", 10)).toBe(0);
    now += 61_000;
    expect(throttle.retryAfterMs("ip")).toBe(0);
    throttle.recordFailure("ip");
    throttle.reset("ip");
    expect(throttle.retryAfterMs("ip")).toBe(0);
  });
});
