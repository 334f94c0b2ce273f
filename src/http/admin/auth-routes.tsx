/** @jsxImportSource @kitajs/html */
import type { NoticeData } from "../../../admin-jsx/components/ui";
import { LoginPage } from "../../../admin-jsx/pages/login";
import type { AuditLogService } from "../../audit/audit-log";
import { cookieAttributes, LOGIN_COOKIE, SESSION_COOKIE } from "./admin-auth";
import { asForm, field, safeNext } from "./admin-http";
import { type AdminKit, noticeFor, type ResponseSet } from "./admin-kit";
import type { LoginThrottle } from "./login-throttle";

/** The username key of the throttle allows more failures than one address (many clients, one admin). */
const USERNAME_FAILURE_FACTOR = 4;

export interface AuthRoutesDeps {
  kit: AdminKit;
  audit: AuditLogService;
  throttle: LoginThrottle;
  maxFailures: number;
  /** Trust `X-Forwarded-For` / `X-Forwarded-Proto` (only behind a proxy that sets them). */
  trustProxy: boolean;
}

interface Server {
  requestIP(request: Request): { address: string } | null;
}

type Cookie = {
  value: unknown;
  set(config: Record<string, unknown>): unknown;
};

/** Sign-in (throttled, with its own CSRF token bound to a pre-session cookie) and sign-out. */
export function createAuthRoutes(deps: AuthRoutesDeps) {
  const { kit, audit, throttle } = deps;
  const { auth, log } = kit;
  const usernameFailureLimit = deps.maxFailures * USERNAME_FAILURE_FACTOR;

  const isSecure = (request: Request) =>
    new URL(request.url).protocol === "https:" ||
    (deps.trustProxy && request.headers.get("x-forwarded-proto") === "https");

  const clientAddress = (request: Request, server: Server | null): string => {
    if (deps.trustProxy) {
      const forwarded = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
      if (forwarded) return forwarded;
    }
    try {
      return server?.requestIP(request)?.address ?? "local";
    } catch {
      return "local";
    }
  };

  const renderLogin = (
    request: Request,
    set: ResponseSet,
    loginCookie: Cookie,
    init: { status?: number; notice?: NoticeData | null; username?: string; next?: string },
  ) => {
    const existing = loginCookie.value;
    const nonce = typeof existing === "string" && existing !== "" ? existing : auth.newLoginNonce();
    loginCookie.set({ value: nonce, ...cookieAttributes(auth.loginCookieTtlSeconds, isSecure(request)) });
    if (init.status) set.status = init.status;
    return (
      <LoginPage
        assets={kit.assets}
        csrf={auth.loginCsrfToken(nonce)}
        username={init.username}
        notice={init.notice}
        next={init.next && init.next !== "/admin" ? init.next : undefined}
      />
    );
  };

  return kit
    .feature()
    .get("/login", ({ cookie, query, request, set }) => {
      if (!auth.enabled) return kit.disabledPage(set);
      if (auth.readSession(cookie[SESSION_COOKIE].value)) return kit.seeOther(set, "/admin");
      return renderLogin(request, set, cookie[LOGIN_COOKIE], {
        notice: noticeFor(query.notice),
        next: safeNext(query.next ?? ""),
      });
    })
    .post("/login", async ({ body, cookie, request, server, set }) => {
      if (!auth.enabled) return kit.disabledPage(set);
      const form = asForm(body);
      const next = safeNext(field(form, "next"));
      const loginCookie = cookie[LOGIN_COOKIE];
      if (!auth.checkLoginCsrf(loginCookie.value, field(form, "_csrf"))) {
        return renderLogin(request, set, loginCookie, {
          status: 403,
          notice: { kind: "error", text: "The sign-in form expired. Please try again." },
          next,
        });
      }
      const address = clientAddress(request, server);
      const addressKey = `address:${address}`;
      const usernameKey = "username";
      const waitMs = Math.max(
        throttle.retryAfterMs(addressKey),
        throttle.retryAfterMs(usernameKey, usernameFailureLimit),
      );
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        log.warn("admin login throttled", { address, retryAfterSeconds: seconds });
        set.headers["retry-after"] = String(seconds);
        return renderLogin(request, set, loginCookie, {
          status: 429,
          notice: {
            kind: "error",
            text: `Too many failed sign-in attempts. Try again in ${seconds} second${seconds === 1 ? "" : "s"}.`,
          },
          username: field(form, "username").slice(0, 100),
          next,
        });
      }
      const username = field(form, "username");
      if (!auth.checkCredentials(username, field(form, "password"))) {
        throttle.recordFailure(addressKey);
        throttle.recordFailure(usernameKey);
        log.warn("admin login failed", { address });
        return renderLogin(request, set, loginCookie, {
          status: 401,
          notice: { kind: "error", text: "Wrong username or password." },
          username: username.slice(0, 100),
          next,
        });
      }
      throttle.reset(addressKey);
      throttle.reset(usernameKey);
      const { session, cookie: value } = auth.issueSession();
      await audit.record({
        actor: `admin:${session.username}`,
        action: "admin.login",
        target: "admin",
        meta: { address },
      });
      log.info("admin signed in", { address });
      const secure = isSecure(request);
      cookie[SESSION_COOKIE].set({ value, ...cookieAttributes(auth.sessionTtlMs / 1000, secure) });
      loginCookie.set({ value: "", ...cookieAttributes(0, secure) });
      return kit.seeOther(set, next);
    })
    .post(
      "/logout",
      async ({ authed, cookie, request, set }) => {
        auth.revoke(authed.session);
        await audit.record({ actor: authed.actor, action: "admin.logout", target: "admin" });
        cookie[SESSION_COOKIE].set({ value: "", ...cookieAttributes(0, isSecure(request)) });
        return kit.seeOther(set, "/admin/login?notice=logged-out");
      },
      { form: true },
    );
}
