/** @jsxImportSource @kitajs/html */
import type { NoticeData } from "../../../admin-jsx/components/ui";
import { LoginPage } from "../../../admin-jsx/pages/login";
import type { AuditLogService } from "../../audit/audit-log";
import { cookieAttributes, LOGIN_COOKIE, SESSION_COOKIE } from "./admin-auth";
import { field, safeNext } from "./admin-http";
import { type AdminKit, noticeFor, type ResponseSet } from "./admin-kit";
import { clientAddress } from "./client-address";
import type { LoginThrottle } from "./login-throttle";

export interface AuthRoutesDeps {
  kit: AdminKit;
  audit: AuditLogService;
  throttle: LoginThrottle;
  /** TRUST_PROXY: reverse proxies in front of the app (the client address is read behind them). */
  trustProxy: number;
}

type Cookie = {
  value: unknown;
  set(config: Record<string, unknown>): unknown;
};

/** Sign-in (throttled, with its own CSRF token bound to a pre-session cookie) and sign-out. */
export function createAuthRoutes(deps: AuthRoutesDeps) {
  const { kit, audit, throttle } = deps;
  const { auth, log, isSecure } = kit;

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
    .get("/login", async ({ cookie, query, request, set }) => {
      if (!auth.enabled) return kit.disabledPage(set);
      if (await kit.sessionOf(cookie)) return kit.seeOther(set, "/admin");
      return renderLogin(request, set, cookie[LOGIN_COOKIE], {
        notice: noticeFor(query.notice),
        next: safeNext(query.next ?? ""),
      });
    })
    .post(
      "/login",
      async ({ cookie, form, request, server, set }) => {
        const next = safeNext(field(form, "next"));
        const loginCookie = cookie[LOGIN_COOKIE];
        if (!auth.checkLoginCsrf(loginCookie.value, field(form, "_csrf"))) {
          return renderLogin(request, set, loginCookie, {
            status: 403,
            notice: { kind: "error", text: "The sign-in form expired. Please try again." },
            next,
          });
        }
        const address = clientAddress(request, server, deps.trustProxy);
        const username = field(form, "username");
        const waitMs = throttle.retryAfterMs(address, username);
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
            username: username.slice(0, 100),
            next,
          });
        }
        if (!auth.checkCredentials(username, field(form, "password"))) {
          throttle.recordFailure(address, username);
          log.warn("admin login failed", { address });
          return renderLogin(request, set, loginCookie, {
            status: 401,
            notice: { kind: "error", text: "Wrong username or password." },
            username: username.slice(0, 100),
            next,
          });
        }
        throttle.recordSuccess(address, username);
        const session = await kit.sessions.create(auth.username);
        await audit.record({
          actor: `admin:${session.username}`,
          action: "admin.login",
          target: "admin",
          meta: { address },
        });
        log.info("admin signed in", { address });
        const secure = isSecure(request);
        cookie[SESSION_COOKIE].set({
          value: session.sid,
          ...cookieAttributes(kit.sessions.lifetimeMs / 1000, secure),
        });
        loginCookie.set({ value: "", ...cookieAttributes(0, secure) });
        return kit.seeOther(set, next);
      },
      { loginForm: true },
    )
    .post(
      "/logout",
      async ({ authed, cookie, request, set }) => {
        await kit.sessions.revoke(authed.session.sid);
        await audit.record({ actor: authed.actor, action: "admin.logout", target: "admin" });
        cookie[SESSION_COOKIE].set({ value: "", ...cookieAttributes(0, isSecure(request)) });
        return kit.seeOther(set, "/admin/login?notice=logged-out");
      },
      { form: true },
    );
}
