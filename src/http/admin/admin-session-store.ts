/**
 * Admin logins, kept in coordination (Redis, or in-process for the embedded default) so that a
 * logout holds across restarts and instances: the signed cookie carries only the session id, and
 * a session is live while its record exists, was used within the idle timeout and is younger
 * than its absolute lifetime.
 */
import { randomBytes } from "node:crypto";
import type { Coordination } from "../../platform/coordination";

/** A live admin login. */
export interface AdminSession {
  username: string;
  /** Random id (the cookie's value); the CSRF token is derived from it. */
  sid: string;
  /** End of the absolute lifetime (epoch ms). */
  expiresAt: number;
}

export interface AdminSessionStore {
  /** Absolute lifetime of a login (the cookie's Max-Age). */
  readonly lifetimeMs: number;
  /** Records a new login of `username`. */
  create(username: string): Promise<AdminSession>;
  /** The live session with this id (its idle timer restarted), or null: unknown, logged out, idle or too old. */
  touch(sid: string): Promise<AdminSession | null>;
  /** Logs the session out everywhere. */
  revoke(sid: string): Promise<void>;
}

export interface AdminSessionStoreDeps {
  coordination: Coordination;
  /** The idle timeout now (a runtime setting, so it is asked for each time). */
  idleTimeoutMs(): Promise<number>;
  /** Absolute lifetime of a login. Default 12 hours. */
  lifetimeMs?: number;
  now?: () => number;
}

const DEFAULT_LIFETIME_MS = 12 * 60 * 60 * 1000;
/** A session used again sooner than this is not rewritten: one write a minute at most per login. */
const TOUCH_INTERVAL_MS = 60_000;

interface Stored {
  u: string;
  /** Created at. */
  c: number;
  /** Last seen at. */
  s: number;
}

export function createAdminSessionStore(deps: AdminSessionStoreDeps): AdminSessionStore {
  const { coordination } = deps;
  const now = deps.now ?? Date.now;
  const lifetimeMs = deps.lifetimeMs ?? DEFAULT_LIFETIME_MS;
  const key = (sid: string) => `admin-session:${sid}`;

  // The record also expires by itself (TTL) at the same moment the checks below would refuse it.
  const save = async (sid: string, stored: Stored, idleMs: number) =>
    coordination.setValue(
      key(sid),
      JSON.stringify(stored),
      Math.min(idleMs, stored.c + lifetimeMs - stored.s),
    );

  const parse = (text: string | null): Stored | null => {
    if (!text) return null;
    try {
      const value = JSON.parse(text) as Partial<Stored>;
      return typeof value.u === "string" && typeof value.c === "number" && typeof value.s === "number"
        ? (value as Stored)
        : null;
    } catch {
      return null;
    }
  };

  return {
    lifetimeMs,
    async create(username) {
      const sid = randomBytes(18).toString("base64url");
      const at = now();
      await save(sid, { u: username, c: at, s: at }, await deps.idleTimeoutMs());
      return { username, sid, expiresAt: at + lifetimeMs };
    },

    async touch(sid) {
      const stored = parse(await coordination.getValue(key(sid)));
      if (!stored) return null;
      const at = now();
      const idleMs = await deps.idleTimeoutMs();
      if (at - stored.s > idleMs || at >= stored.c + lifetimeMs) {
        await coordination.deleteValue(key(sid));
        return null;
      }
      if (at - stored.s >= Math.min(TOUCH_INTERVAL_MS, idleMs / 4))
        await save(sid, { ...stored, s: at }, idleMs);
      return { username: stored.u, sid, expiresAt: stored.c + lifetimeMs };
    },

    async revoke(sid) {
      await coordination.deleteValue(key(sid));
    },
  };
}
