/**
 * Admin authentication: a signed cookie session, CSRF tokens bound to it, and login throttling.
 *
 * The session is a stateless cookie `payload.signature` (HMAC-SHA256). The signing key is derived
 * from the cookie secret AND the configured credentials, so changing ADMIN_PASSWORD (or the
 * username) invalidates every session at once. CSRF tokens are HMACs of the session id, so they need
 * no storage either; the login form, which has no session yet, is bound to a short-lived random
 * "pre-session" cookie instead. Nothing here ever logs or returns a secret.
 */

import { createHmac, randomBytes } from "node:crypto";
import { constantTimeEqual } from "../../platform/constant-time";

export const SESSION_COOKIE = "rt_admin_session";
export const LOGIN_COOKIE = "rt_admin_login";
/** Cookies live under the admin prefix only: the API and the bot webhook never see them. */
export const COOKIE_PATH = "/admin";

const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const LOGIN_COOKIE_TTL_SECONDS = 60 * 60;

/**
 * The cookie secret for {@link createAdminAuth}, derived from SECRETS_KEY so no extra setting is
 * needed and the Fernet key itself is never used for anything but Fernet.
 */
export function deriveCookieSecret(secretsKey: string): string {
  return createHmac("sha256", secretsKey).update("round-table admin cookie v1").digest("base64url");
}

/** A verified admin session. */
export interface AdminSession {
  username: string;
  /** Random id; the CSRF token is derived from it. */
  sid: string;
  expiresAt: number;
}

const base64url = (bytes: Buffer) => bytes.toString("base64url");

/** Parses a `Cookie` header into name → value (first occurrence wins). */
export function parseCookies(header: string | null): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index <= 0) continue;
    const name = part.slice(0, index).trim();
    const value = part.slice(index + 1).trim();
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/** A `Set-Cookie` value: HttpOnly, SameSite=Strict, scoped to /admin; Secure over https. */
export function serializeCookie(
  name: string,
  value: string,
  options: { maxAgeSeconds: number; secure: boolean },
): string {
  return [
    `${name}=${value}`,
    `Path=${COOKIE_PATH}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(options.secure ? ["Secure"] : []),
  ].join("; ");
}

export interface AdminAuthOptions {
  username: string;
  password: string;
  /** Secret of the cookie signatures (derived from SECRETS_KEY by the caller). */
  cookieSecret: string;
  sessionTtlMs?: number;
  now?: () => number;
}

export interface AdminAuth {
  /** True when ADMIN_PASSWORD is set; without it the admin is disabled. */
  readonly enabled: boolean;
  readonly username: string;
  readonly sessionTtlMs: number;
  /** Checks a username/password pair in constant time. */
  checkCredentials(username: string, password: string): boolean;
  /** A new session and its cookie value. */
  issueSession(): { session: AdminSession; cookie: string };
  /** The session in a cookie value, or null when missing, forged, expired or logged out. */
  readSession(cookie: string | undefined): AdminSession | null;
  /** Marks a session as logged out until it would have expired anyway. */
  revoke(session: AdminSession): void;
  csrfToken(session: AdminSession): string;
  checkCsrf(session: AdminSession, token: unknown): boolean;
  /** A random value for the login pre-session cookie. */
  newLoginNonce(): string;
  loginCsrfToken(nonce: string): string;
  checkLoginCsrf(nonce: string | undefined, token: unknown): boolean;
  readonly loginCookieTtlSeconds: number;
}

export function createAdminAuth(options: AdminAuthOptions): AdminAuth {
  const now = options.now ?? Date.now;
  const sessionTtlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const enabled = options.password !== "";
  // Bound to the credentials: a password change logs every session out.
  const key = createHmac("sha256", options.cookieSecret)
    .update(`round-table admin session\0${options.username}\0${options.password}`)
    .digest();
  const mac = (label: string, data: string) =>
    base64url(createHmac("sha256", key).update(`${label}\0${data}`).digest());
  /** sid → expiry of sessions logged out (in-process; sessions are short-lived). */
  const revoked = new Map<string, number>();
  const pruneRevoked = () => {
    const current = now();
    for (const [sid, expiresAt] of revoked) if (expiresAt <= current) revoked.delete(sid);
  };

  return {
    enabled,
    username: options.username,
    sessionTtlMs,
    loginCookieTtlSeconds: LOGIN_COOKIE_TTL_SECONDS,

    checkCredentials(username, password) {
      if (!enabled) return false;
      // Both compared every time: no early exit telling which one was wrong.
      const userOk = constantTimeEqual(username, options.username);
      const passwordOk = constantTimeEqual(password, options.password);
      return userOk && passwordOk;
    },

    issueSession() {
      const session: AdminSession = {
        username: options.username,
        sid: base64url(randomBytes(18)),
        expiresAt: now() + sessionTtlMs,
      };
      const payload = base64url(
        Buffer.from(JSON.stringify({ u: session.username, s: session.sid, e: session.expiresAt })),
      );
      return { session, cookie: `${payload}.${mac("session", payload)}` };
    },

    readSession(cookie) {
      if (!enabled || !cookie) return null;
      const dot = cookie.indexOf(".");
      if (dot <= 0) return null;
      const payload = cookie.slice(0, dot);
      const signature = cookie.slice(dot + 1);
      if (!constantTimeEqual(signature, mac("session", payload))) return null;
      let data: { u?: unknown; s?: unknown; e?: unknown };
      try {
        data = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
      } catch {
        return null;
      }
      if (typeof data.u !== "string" || typeof data.s !== "string" || typeof data.e !== "number") return null;
      if (data.u !== options.username || data.e <= now() || revoked.has(data.s)) return null;
      return { username: data.u, sid: data.s, expiresAt: data.e };
    },

    revoke(session) {
      pruneRevoked();
      revoked.set(session.sid, session.expiresAt);
    },

    csrfToken(session) {
      return mac("csrf", session.sid);
    },

    checkCsrf(session, token) {
      return typeof token === "string" && token !== "" && constantTimeEqual(token, mac("csrf", session.sid));
    },

    newLoginNonce() {
      return base64url(randomBytes(18));
    },

    loginCsrfToken(nonce) {
      return mac("login", nonce);
    },

    checkLoginCsrf(nonce, token) {
      if (!nonce || typeof token !== "string" || token === "") return false;
      return constantTimeEqual(token, mac("login", nonce));
    },
  };
}
