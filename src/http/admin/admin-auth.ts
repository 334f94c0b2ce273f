/**
 * Admin authentication: the credentials, the two cookies (signed by Elysia) and CSRF tokens.
 * The logins themselves live in the session store (`admin-session-store.ts`).
 *
 * The signing key is derived from the cookie secret AND the configured credentials, so changing
 * ADMIN_PASSWORD (or the username) invalidates every cookie at once. CSRF tokens are HMACs of the
 * session id, so they need no storage; the login form, which has no session yet, is bound to a
 * short-lived random "pre-session" cookie instead. Nothing here ever logs or returns a secret.
 */

import { createHmac, randomBytes } from "node:crypto";
import { t } from "elysia";
import { constantTimeEqual } from "../../platform/constant-time";

export const SESSION_COOKIE = "rt_admin_session";
export const LOGIN_COOKIE = "rt_admin_login";
/** Cookies live under the admin prefix only: the API and the bot webhook never see them. */
export const COOKIE_PATH = "/admin";

const LOGIN_COOKIE_TTL_SECONDS = 60 * 60;

/**
 * The cookie secret for {@link createAdminAuth}, derived from SECRETS_KEY so no extra setting is
 * needed and the Fernet key itself is never used for anything but Fernet.
 */
export function deriveCookieSecret(secretsKey: string): string {
  return createHmac("sha256", secretsKey).update("round-table admin cookie v1").digest("base64url");
}

/**
 * The cookie schema of every admin route: Elysia verifies both signatures when it reads the
 * cookies (a bad one throws `INVALID_COOKIE_SIGNATURE`) and signs what a handler sets.
 */
export function adminCookieSchema(signingKey: string) {
  return t.Cookie(
    {
      [SESSION_COOKIE]: t.Optional(t.String()),
      [LOGIN_COOKIE]: t.Optional(t.String()),
    },
    { secrets: signingKey, sign: [SESSION_COOKIE, LOGIN_COOKIE], httpOnly: true, sameSite: "strict" },
  );
}

/** Attributes of a cookie the admin sets (Elysia's app-wide default path would be `/`). */
export const cookieAttributes = (maxAgeSeconds: number, secure: boolean) => ({
  path: COOKIE_PATH,
  maxAge: Math.max(0, Math.floor(maxAgeSeconds)),
  httpOnly: true,
  sameSite: "strict" as const,
  secure,
});

export interface AdminAuthOptions {
  username: string;
  password: string;
  /** Secret of the cookie signatures (derived from SECRETS_KEY by the caller). */
  cookieSecret: string;
}

export interface AdminAuth {
  /** True when ADMIN_PASSWORD is set; without it the admin is disabled. */
  readonly enabled: boolean;
  readonly username: string;
  readonly loginCookieTtlSeconds: number;
  /** The Elysia cookie schema (signing key bound to the credentials). */
  readonly cookieSchema: ReturnType<typeof adminCookieSchema>;
  /** Checks a username/password pair in constant time. */
  checkCredentials(username: string, password: string): boolean;
  /** The CSRF token of the session with this id. */
  csrfToken(sid: string): string;
  checkCsrf(sid: string, token: unknown): boolean;
  /** A random value for the login pre-session cookie. */
  newLoginNonce(): string;
  loginCsrfToken(nonce: string): string;
  checkLoginCsrf(nonce: unknown, token: unknown): boolean;
}

export function createAdminAuth(options: AdminAuthOptions): AdminAuth {
  const enabled = options.password !== "";
  // Bound to the credentials: a password change logs every session out.
  const key = createHmac("sha256", options.cookieSecret)
    .update(`round-table admin session\0${options.username}\0${options.password}`)
    .digest("base64url");
  const mac = (label: string, data: string) =>
    createHmac("sha256", key).update(`${label}\0${data}`).digest("base64url");
  return {
    enabled,
    username: options.username,
    loginCookieTtlSeconds: LOGIN_COOKIE_TTL_SECONDS,
    cookieSchema: adminCookieSchema(key),

    checkCredentials(username, password) {
      if (!enabled) return false;
      // Both compared every time: no early exit telling which one was wrong.
      const userOk = constantTimeEqual(username, options.username);
      const passwordOk = constantTimeEqual(password, options.password);
      return userOk && passwordOk;
    },

    csrfToken(sid) {
      return mac("csrf", sid);
    },

    checkCsrf(sid, token) {
      return typeof token === "string" && token !== "" && constantTimeEqual(token, mac("csrf", sid));
    },

    newLoginNonce: () => randomBytes(18).toString("base64url"),

    loginCsrfToken(nonce) {
      return mac("login", nonce);
    },

    checkLoginCsrf(nonce, token) {
      if (typeof nonce !== "string" || nonce === "" || typeof token !== "string" || token === "")
        return false;
      return constantTimeEqual(token, mac("login", nonce));
    },
  };
}
