/** @jsxImportSource @kitajs/html */
/**
 * What every admin feature plugin is built on: `@elysiajs/html` (handlers return JSX), the
 * security headers, Elysia's signed cookies, and the three access macros:
 * - `page`: a page for signed-in operators; others are sent to the login form;
 * - `data`: data for scripts (fragments, SSE): 401 instead of a redirect;
 * - `form`: a state-changing POST, signed in and carrying the CSRF token of this session.
 * Each gives the handler `authed` (the session, the actor for the audit log, the layout context);
 * `form` also gives the parsed `form` fields, and `loginForm` only those (the sign-in form).
 * Elysia never parses an admin body: the session is checked first, then the form macros read at
 * most MAX_FORM_BYTES (413 beyond).
 */
import { html } from "@elysiajs/html";
import { Elysia } from "elysia";
import type { NoticeData } from "../../../admin-jsx/components/ui";
import type { AssetUrls, PageContext } from "../../../admin-jsx/layout";
import { ErrorPage } from "../../../admin-jsx/pages/error";
import { AdminDisabledPage } from "../../../admin-jsx/pages/login";
import type { Logger } from "../../platform/logger";
import { type AdminAuth, COOKIE_PATH, LOGIN_COOKIE, SESSION_COOKIE } from "./admin-auth";
import { field, readFormBody, SECURITY_HEADERS } from "./admin-http";
import type { AdminSession, AdminSessionStore } from "./admin-session-store";

/** Fixed notices shown after a redirect (`?notice=…`): the query never carries free text. */
const notices: Record<string, NoticeData> = {
  "logged-out": { kind: "info", text: "You are signed out." },
  "provider-created": { kind: "ok", text: "Provider added." },
  "provider-saved": { kind: "ok", text: "Provider saved." },
  "provider-deleted": { kind: "ok", text: "Provider deleted." },
  "provider-moved": { kind: "ok", text: "Order saved: new debates use it." },
  "provider-enabled": { kind: "ok", text: "Provider enabled." },
  "provider-disabled": { kind: "ok", text: "Provider disabled." },
  "personality-created": { kind: "ok", text: "Personality added." },
  "personality-saved": { kind: "ok", text: "Personality saved." },
  "personality-deleted": { kind: "ok", text: "Personality deleted." },
  "defaults-saved": { kind: "ok", text: "Default personalities saved." },
  "settings-saved": { kind: "ok", text: "Settings saved." },
  "settings-unchanged": { kind: "info", text: "Nothing changed." },
  "session-started": { kind: "ok", text: "Debate started: turns appear below as they are written." },
  "session-stopped": { kind: "ok", text: "Debate stopped." },
  "session-ended": { kind: "info", text: "The debate had already ended." },
  "interjection-sent": { kind: "ok", text: "Sent: the next speakers will address it." },
  "session-continued": {
    kind: "ok",
    text: "Debate continued: the new rounds appear below as they are written.",
  },
  "verdict-requested": {
    kind: "ok",
    text: "Verdict requested: it appears below once the moderator has written it.",
  },
  "user-blocked": { kind: "ok", text: "User blocked: they will not start debates any more." },
  "user-unblocked": { kind: "ok", text: "User unblocked." },
  "user-allowed": { kind: "ok", text: "User allowed." },
  "user-disallowed": { kind: "ok", text: "User no longer allowed." },
  "user-limits-saved": { kind: "ok", text: "Limits saved: they apply to the user's next debate." },
};

export const noticeFor = (key: string | undefined): NoticeData | null => notices[key ?? ""] ?? null;

/** A signed-in request. */
export interface Authed {
  session: AdminSession;
  /** Who the audit log names. */
  actor: string;
  /** Context for the layout; `notice` from the query when present. */
  page: PageContext;
}

/** Elysia's `set`, reduced to what the admin writes. */
export interface ResponseSet {
  status?: number | string;
  headers: Record<string, string | number>;
}

/**
 * The admin's parser: Elysia reads no admin body (a parser that answers is the last one asked);
 * the form macros read it themselves, capped, once the session is known.
 */
const leaveBodyUnread = () => ({});

/** A request a macro turned away; the kit's error hook renders it (so `@elysiajs/html` applies). */
class AdminRefusal extends Error {
  constructor(readonly respond: (set: ResponseSet) => string | JSX.Element) {
    super("admin request refused");
  }
}

export interface AdminKitDeps {
  auth: AdminAuth;
  sessions: AdminSessionStore;
  assets: AssetUrls;
  logger: Logger;
  /** TRUST_PROXY: behind proxies (which serve https) the cookies are Secure. */
  trustProxy: number;
}

/** The cookie jar entries the admin reads and writes. */
type AdminCookies = Record<
  string,
  { value: unknown; set(config: Record<string, unknown>): unknown } | undefined
>;

export function createAdminKit(deps: AdminKitDeps) {
  const { auth, sessions, assets } = deps;
  const log = deps.logger.child({ component: "admin" });

  const applySecurityHeaders = (set: ResponseSet) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) set.headers[name] ??= value;
  };

  /** 303 See Other: after a POST the browser GETs the target (no resubmission on reload). */
  const seeOther = (set: ResponseSet, location: string) => {
    set.status = 303;
    set.headers.location = location;
    return "";
  };

  const errorPage = (
    set: ResponseSet,
    status: number,
    title: string,
    message: string,
    context?: PageContext,
  ) => {
    set.status = status;
    return <ErrorPage title={title} message={message} context={context} assets={assets} />;
  };

  const notFound = (set: ResponseSet, context?: PageContext) =>
    errorPage(set, 404, "Not found", "There is nothing at this address, or it was deleted.", context);

  const disabledPage = (set: ResponseSet) => {
    set.status = 503;
    return <AdminDisabledPage assets={assets} />;
  };

  const text = (set: ResponseSet, status: number, body: string) => {
    set.status = status;
    set.headers["content-type"] = "text/plain; charset=utf-8";
    return body;
  };

  const authedFor = (session: AdminSession, notice?: string): Authed => ({
    session,
    actor: `admin:${session.username}`,
    page: {
      username: session.username,
      csrf: auth.csrfToken(session.sid),
      assets,
      notice: noticeFor(notice),
    },
  });

  /** The live session of the (signature-checked) cookie, or null. */
  const sessionOf = async (cookie: unknown) => {
    const sid = (cookie as AdminCookies)[SESSION_COOKIE]?.value;
    if (typeof sid !== "string" || sid === "") return null;
    const session = await sessions.touch(sid);
    return session && session.username === auth.username ? session : null;
  };

  /** Cookies are Secure over https, and behind trusted proxies (which terminate TLS). */
  const isSecure = (request: Request) => deps.trustProxy > 0 || new URL(request.url).protocol === "https:";

  const tooLarge = (set: ResponseSet, context?: PageContext) =>
    errorPage(set, 413, "Request too large", "The form was larger than the admin accepts (64 KiB).", context);

  const pathOf = (request: Request) => {
    const url = new URL(request.url);
    return `${url.pathname}${url.search}`;
  };

  /** Refuses a request from a macro: thrown, so the handler only ever sees an allowed request. */
  const refuse = (respond: (set: ResponseSet) => string | JSX.Element) => new AdminRefusal(respond);

  const readSession = (cookie: unknown, html: boolean) => {
    if (!auth.enabled) {
      throw refuse((set) => (html ? disabledPage(set) : text(set, 503, "The admin is disabled.")));
    }
    return sessionOf(cookie);
  };

  const readForm = async (request: Request, context?: PageContext) => {
    const form = await readFormBody(request);
    if (!form) throw refuse((set) => tooLarge(set, context));
    return form;
  };

  const base = new Elysia({ name: "admin-kit" })
    .use(html({ contentType: "text/html; charset=utf-8" }))
    .onTransform({ as: "scoped" }, ({ set }) => applySecurityHeaders(set))
    .onError({ as: "scoped" }, ({ code, error, request, set }) => {
      applySecurityHeaders(set);
      if (error instanceof AdminRefusal) return error.respond(set);
      if (code === "INVALID_COOKIE_SIGNATURE") {
        // Forged, altered, or signed under other credentials (a password change): the cookies are
        // dropped and the browser asks again without them, landing where a signed-out one would.
        set.headers["set-cookie"] = [SESSION_COOKIE, LOGIN_COOKIE].map(
          (name) => `${name}=; Path=${COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict`,
        ) as unknown as string;
        return seeOther(set, request.method === "GET" ? pathOf(request) : "/admin/login");
      }
      log.error("admin request failed", {
        method: request.method,
        path: new URL(request.url).pathname,
        // The logger's serializer keeps the stack, code and cause, and redacts secret fields.
        error,
      });
      return errorPage(
        set,
        500,
        "Something went wrong",
        "The request failed. The details are in the server log.",
      );
    })
    .macro({
      page: {
        parse: leaveBodyUnread,
        async resolve({ cookie, query, request }) {
          const session = await readSession(cookie, true);
          if (!session) {
            const next = pathOf(request);
            throw refuse((set) =>
              seeOther(
                set,
                next === "/admin" ? "/admin/login" : `/admin/login?next=${encodeURIComponent(next)}`,
              ),
            );
          }
          return { authed: authedFor(session, (query as Record<string, string | undefined>).notice) };
        },
      },
      data: {
        parse: leaveBodyUnread,
        async resolve({ cookie }) {
          const session = await readSession(cookie, false);
          if (!session) throw refuse((set) => text(set, 401, "Sign in first."));
          return { authed: authedFor(session) };
        },
      },
      form: {
        parse: leaveBodyUnread,
        async resolve({ cookie, request }) {
          const session = await readSession(cookie, true);
          if (!session) throw refuse((set) => seeOther(set, "/admin/login"));
          const authed = authedFor(session);
          const form = await readForm(request, authed.page);
          if (!auth.checkCsrf(session.sid, field(form, "_csrf"))) {
            log.warn("admin csrf rejected", { path: new URL(request.url).pathname });
            throw refuse((set) =>
              errorPage(
                set,
                403,
                "Request refused",
                "This form has expired or did not come from this admin (CSRF check failed). Go back, reload the page and try again.",
                authed.page,
              ),
            );
          }
          return { authed, form };
        },
      },
      loginForm: {
        parse: leaveBodyUnread,
        async resolve({ request }) {
          if (!auth.enabled) throw refuse(disabledPage);
          return { form: await readForm(request) };
        },
      },
    });

  return {
    /** An admin feature plugin under `/admin{prefix}` with the kit's macros and signed cookies. */
    feature: (prefix = "") =>
      new Elysia({ prefix: `/admin${prefix}` }).use(base).guard({ cookie: auth.cookieSchema }),
    auth,
    sessions,
    assets,
    log,
    isSecure,
    sessionOf,
    refuse,
    seeOther,
    errorPage,
    notFound,
    disabledPage,
    text,
  };
}

export type AdminKit = ReturnType<typeof createAdminKit>;
