/**
 * The operator's door (SPEC §5): server-rendered admin pages under /admin.
 *
 * Thin by design: every write goes through the same services as the API (provider, personality,
 * settings, debate), which validate and audit it; this module handles the session cookie, CSRF,
 * login throttling, form parsing and rendering. Views in `admin-jsx/` are pure functions.
 */

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { type } from "arktype";
import { Elysia } from "elysia";
import type { NoticeData } from "../../../admin-jsx/components/ui";
import type { PageContext } from "../../../admin-jsx/layout";
import { AuditPage } from "../../../admin-jsx/pages/audit";
import { DashboardPage } from "../../../admin-jsx/pages/dashboard";
import { ErrorPage } from "../../../admin-jsx/pages/error";
import { AdminDisabledPage, LoginPage } from "../../../admin-jsx/pages/login";
import { PersonalitiesPage, PersonalityFormPage } from "../../../admin-jsx/pages/personalities";
import { ProviderFormPage, ProvidersPage } from "../../../admin-jsx/pages/providers";
import { SessionDetailPage, SessionLive } from "../../../admin-jsx/pages/session-detail";
import { type SessionFilters, SessionsPage, sessionStatusOptions } from "../../../admin-jsx/pages/sessions";
import { SettingsPage, settingFields } from "../../../admin-jsx/pages/settings";
import { CatalogError, describeIssues } from "../../catalog/catalog-errors";
import { providerInputSchema } from "../../catalog/provider-service";
import { type RuntimeSettingKey, type RuntimeSettings, runtimeSettingKeys } from "../../config";
import type { SessionStatus } from "../../db/schema";
import { DebateError } from "../../debate/debate-errors";
import type { DebateEvent } from "../../debate/debate-events";
import { addCostUsd, ZERO_COST_USD } from "../../llm/pricing";
import type { Logger } from "../../platform/logger";
import { validateSettings } from "../../settings/settings-service";
import type { OperatorDoorDeps } from "../door-deps";
import {
  type AdminSession,
  createAdminAuth,
  LOGIN_COOKIE,
  parseCookies,
  SESSION_COOKIE,
  serializeCookie,
} from "./admin-auth";
import {
  issuesToFieldErrors,
  personalityFormFields,
  personalityFormFromView,
  providerFormFields,
  providerFormFromView,
  providerInputFromForm,
  readPersonalityForm,
  readProviderForm,
  sameJson,
  typedApiKey,
} from "./admin-forms";
import {
  asForm,
  type FormFields,
  field,
  htmlResponse,
  pageNumber,
  redirect,
  routeId,
  safeNext,
  textResponse,
} from "./admin-http";
import { createLoginThrottle, type LoginThrottleOptions } from "./login-throttle";

/** What the admin needs; `app.ts` builds these once and passes them in. */
export interface AdminRoutesDeps extends OperatorDoorDeps {
  /** ADMIN_USERNAME / ADMIN_PASSWORD; an empty password disables the admin. */
  admin: { username: string; password: string };
  /** Secret of the session cookie signatures; derive it from SECRETS_KEY. */
  cookieSecret: string;
  logger: Logger;
  /** The env values of the runtime settings (`config.defaults`), shown as each field's default. */
  settingsDefaults?: RuntimeSettings;
  options?: AdminRoutesOptions;
}

export interface AdminRoutesOptions {
  loginThrottle?: LoginThrottleOptions;
  /** How long a login lasts. Default 12 hours. */
  sessionTtlMs?: number;
  /** Trust `X-Forwarded-For` / `X-Forwarded-Proto` (only behind a proxy that sets them). */
  trustProxy?: boolean;
  /** Interval of SSE keep-alive comments. Default 10 s (Elysia's idle timeout is 30 s). */
  heartbeatMs?: number;
  /** Timeout of a "Test connection" call. Default 20 s. */
  testConnectionTimeoutMs?: number;
}

const SESSIONS_PAGE_SIZE = 20;
const AUDIT_PAGE_SIZE = 50;
/** The username key of the throttle allows more failures than one address (many clients, one admin). */
const USERNAME_FAILURE_FACTOR = 4;

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
};

/** The request as the handlers see it (Elysia's context, reduced to what is used). */
interface RequestInfo {
  request: Request;
  body: unknown;
  params: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  server: { requestIP(request: Request): { address: string } | null } | null;
}

interface Authed {
  session: AdminSession;
  actor: string;
  /** Context for the layout; `notice` from the query when present. */
  page: PageContext;
}

function loadAsset(name: string): { body: string; version: string } {
  const body = readFileSync(new URL(`./assets/${name}`, import.meta.url), "utf8");
  return { body, version: createHash("sha256").update(body).digest("hex").slice(0, 12) };
}

/** Start of the current UTC day. */
function startOfTodayUtc(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/**
 * Builds the admin plugin: pages and actions under `/admin`, assets under `/admin/assets`.
 * Mount it with `app.use(createAdminRoutes(deps))`.
 */
export function createAdminRoutes(deps: AdminRoutesDeps) {
  const { debate, events, settings, audit, logger, providers, personalities, reports } = deps;
  const options = deps.options ?? {};
  const log = logger.child({ component: "admin" });
  const auth = createAdminAuth({
    username: deps.admin.username,
    password: deps.admin.password,
    cookieSecret: deps.cookieSecret,
    sessionTtlMs: options.sessionTtlMs,
  });
  const throttle = createLoginThrottle(options.loginThrottle);
  const usernameFailureLimit = (options.loginThrottle?.maxFailures ?? 5) * USERNAME_FAILURE_FACTOR;
  const heartbeatMs = options.heartbeatMs ?? 10_000;

  const css = loadAsset("admin.css");
  const js = loadAsset("admin.js");
  const assets = {
    css: `/admin/assets/admin.css?v=${css.version}`,
    js: `/admin/assets/admin.js?v=${js.version}`,
  };

  // ---- request helpers -------------------------------------------------------------------

  const isSecure = (request: Request) =>
    new URL(request.url).protocol === "https:" ||
    (options.trustProxy === true && request.headers.get("x-forwarded-proto") === "https");

  const clientAddress = (info: RequestInfo): string => {
    if (options.trustProxy) {
      const forwarded = info.request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
      if (forwarded) return forwarded;
    }
    try {
      return info.server?.requestIP(info.request)?.address ?? "local";
    } catch {
      return "local";
    }
  };

  const cookieOf = (request: Request, name: string) => parseCookies(request.headers.get("cookie")).get(name);

  const sessionOf = (request: Request): AdminSession | null =>
    auth.readSession(cookieOf(request, SESSION_COOKIE));

  const authedFor = (session: AdminSession, query: RequestInfo["query"]): Authed => ({
    session,
    actor: `admin:${session.username}`,
    page: {
      username: session.username,
      csrf: auth.csrfToken(session),
      assets,
      notice: notices[query.notice ?? ""] ?? null,
    },
  });

  const disabledPage = () => htmlResponse(AdminDisabledPage({ assets }) as string, { status: 503 });

  const errorPage = (status: number, title: string, message: string, context?: PageContext) =>
    htmlResponse(ErrorPage({ title, message, context, assets }) as string, { status });

  const notFound = (context?: PageContext) =>
    errorPage(404, "Not found", "There is nothing at this address, or it was deleted.", context);

  /** Wraps a handler: logs and renders unexpected failures instead of leaking them. */
  const guarded =
    (handler: (info: RequestInfo) => Promise<Response>) =>
    async (info: RequestInfo): Promise<Response> => {
      try {
        return await handler(info);
      } catch (error) {
        log.error("admin request failed", {
          method: info.request.method,
          path: new URL(info.request.url).pathname,
          error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
        });
        return errorPage(
          500,
          "Something went wrong",
          "The request failed. The details are in the server log.",
        );
      }
    };

  /** A page for signed-in operators; others are sent to the login form. */
  const page = (handler: (info: RequestInfo, authed: Authed) => Promise<Response>) =>
    guarded(async (info) => {
      if (!auth.enabled) return disabledPage();
      const session = sessionOf(info.request);
      if (!session) {
        const url = new URL(info.request.url);
        const next = `${url.pathname}${url.search}`;
        return redirect(next === "/admin" ? "/admin/login" : `/admin/login?next=${encodeURIComponent(next)}`);
      }
      return handler(info, authedFor(session, info.query));
    });

  /** Data for scripts (fragments, SSE): 401 instead of a redirect. */
  const data = (handler: (info: RequestInfo, authed: Authed) => Promise<Response>) =>
    guarded(async (info) => {
      if (!auth.enabled) return textResponse("The admin is disabled.", 503);
      const session = sessionOf(info.request);
      if (!session) return textResponse("Sign in first.", 401);
      return handler(info, authedFor(session, info.query));
    });

  /** A state-changing POST: signed in and carrying the CSRF token of this session. */
  const action = (handler: (info: RequestInfo, authed: Authed, form: FormFields) => Promise<Response>) =>
    guarded(async (info) => {
      if (!auth.enabled) return disabledPage();
      const session = sessionOf(info.request);
      if (!session) return redirect("/admin/login");
      const form = asForm(info.body);
      const authed = authedFor(session, {});
      if (!auth.checkCsrf(session, field(form, "_csrf"))) {
        log.warn("admin csrf rejected", { path: new URL(info.request.url).pathname });
        return errorPage(
          403,
          "Request refused",
          "This form has expired or did not come from this admin (CSRF check failed). Go back, reload the page and try again.",
          authed.page,
        );
      }
      return handler(info, authed, form);
    });

  const id = (info: RequestInfo) => routeId(info.params.id);

  // ---- views -----------------------------------------------------------------------------

  const renderLogin = (
    request: Request,
    init: {
      status?: number;
      notice?: NoticeData | null;
      username?: string;
      next?: string;
      headers?: HeadersInit;
    },
  ) => {
    const existing = cookieOf(request, LOGIN_COOKIE);
    const nonce = existing && /^[A-Za-z0-9_-]{16,64}$/.test(existing) ? existing : auth.newLoginNonce();
    return htmlResponse(
      LoginPage({
        assets,
        csrf: auth.loginCsrfToken(nonce),
        username: init.username,
        notice: init.notice,
        next: init.next && init.next !== "/admin" ? init.next : undefined,
      }) as string,
      {
        status: init.status,
        headers: init.headers,
        cookies: [
          serializeCookie(LOGIN_COOKIE, nonce, {
            maxAgeSeconds: auth.loginCookieTtlSeconds,
            secure: isSecure(request),
          }),
        ],
      },
    );
  };

  const renderProviders = async (authed: Authed, notice?: NoticeData) => {
    const [providerList, personaList] = await Promise.all([providers.list(), personalities.list()]);
    const context = notice ? { ...authed.page, notice } : authed.page;
    return htmlResponse(
      ProvidersPage({ context, providers: providerList, personalities: personaList }) as string,
    );
  };

  const renderSessions = async (
    info: RequestInfo,
    authed: Authed,
    start: { topic: string; max_rounds: string; errors: Record<string, string | undefined> } = {
      topic: "",
      max_rounds: "",
      errors: {},
    },
    status = 200,
  ) => {
    const statusFilter = (sessionStatusOptions as readonly string[]).includes(info.query.status ?? "")
      ? (info.query.status as SessionStatus)
      : undefined;
    const userFilter = (info.query.user ?? "").trim().slice(0, 100);
    const filters: SessionFilters = { status: statusFilter ?? "", user: userFilter };
    const requestedPage = pageNumber(info.query.page);
    let userNotFound = false;
    let userId: number | undefined;
    if (userFilter) {
      const user = await reports.findUserByHandle(userFilter);
      if (user) userId = user.id;
      else userNotFound = true;
    }
    const [list, providerList, current] = await Promise.all([
      userNotFound
        ? Promise.resolve({ items: [], total: 0 })
        : debate.listSessions({
            status: statusFilter,
            userId,
            limit: SESSIONS_PAGE_SIZE,
            offset: (requestedPage - 1) * SESSIONS_PAGE_SIZE,
          }),
      providers.list(),
      settings.getAll(),
    ]);
    const users = await reports.usersByIds(
      list.items.map((item) => item.userId).filter((value): value is number => value != null),
    );
    return htmlResponse(
      SessionsPage({
        context: authed.page,
        items: list.items,
        users,
        filters,
        userNotFound,
        page: requestedPage,
        pageSize: SESSIONS_PAGE_SIZE,
        total: list.total,
        start,
        speakers: providerList.filter((provider) => provider.enabled).map((provider) => provider.name),
        defaultMaxRounds: current.MAX_ROUNDS,
      }) as string,
      { status },
    );
  };

  const loadSessionDetail = async (sessionId: string) => {
    try {
      const detail = await debate.getSession(sessionId);
      const users = await reports.usersByIds(detail.session.userId == null ? [] : [detail.session.userId]);
      return { detail, user: detail.session.userId == null ? undefined : users.get(detail.session.userId) };
    } catch (error) {
      if (error instanceof DebateError && error.code === "session_not_found") return null;
      throw error;
    }
  };

  const settingsValues = (current: Record<string, unknown>) => {
    const values = {} as Record<RuntimeSettingKey, string>;
    for (const key of runtimeSettingKeys) values[key] = String(current[key] ?? "");
    return values;
  };
  const defaults = deps.settingsDefaults
    ? settingsValues(deps.settingsDefaults as unknown as Record<string, unknown>)
    : undefined;

  // ---- routes ----------------------------------------------------------------------------

  // Every route answers a Response built by admin-http (type, doctype, security headers), so the
  // admin needs nothing from @elysiajs/html and adds no global hook to the host app.
  const app = new Elysia({ prefix: "/admin" })
    .get("/assets/admin.css", ({ query }) =>
      assetResponse(css.body, "text/css; charset=utf-8", query.v === css.version),
    )
    .get("/assets/admin.js", ({ query }) =>
      assetResponse(js.body, "text/javascript; charset=utf-8", query.v === js.version),
    )

    // Login and logout
    .get(
      "/login",
      guarded(async (info) => {
        if (!auth.enabled) return disabledPage();
        if (sessionOf(info.request)) return redirect("/admin");
        return renderLogin(info.request, {
          notice: notices[info.query.notice ?? ""] ?? null,
          next: safeNext(info.query.next ?? ""),
        });
      }),
    )
    .post(
      "/login",
      guarded(async (info) => {
        if (!auth.enabled) return disabledPage();
        const form = asForm(info.body);
        const next = safeNext(field(form, "next"));
        if (!auth.checkLoginCsrf(cookieOf(info.request, LOGIN_COOKIE), field(form, "_csrf"))) {
          return renderLogin(info.request, {
            status: 403,
            notice: { kind: "error", text: "The sign-in form expired. Please try again." },
            next,
          });
        }
        const address = clientAddress(info);
        const addressKey = `address:${address}`;
        const usernameKey = "username";
        const waitMs = Math.max(
          throttle.retryAfterMs(addressKey),
          throttle.retryAfterMs(usernameKey, usernameFailureLimit),
        );
        if (waitMs > 0) {
          const seconds = Math.ceil(waitMs / 1000);
          log.warn("admin login throttled", { address, retryAfterSeconds: seconds });
          return renderLogin(info.request, {
            status: 429,
            notice: {
              kind: "error",
              text: `Too many failed sign-in attempts. Try again in ${seconds} second${seconds === 1 ? "" : "s"}.`,
            },
            username: field(form, "username").slice(0, 100),
            next,
            headers: { "retry-after": String(seconds) },
          });
        }
        const username = field(form, "username");
        if (!auth.checkCredentials(username, field(form, "password"))) {
          throttle.recordFailure(addressKey);
          throttle.recordFailure(usernameKey);
          log.warn("admin login failed", { address });
          return renderLogin(info.request, {
            status: 401,
            notice: { kind: "error", text: "Wrong username or password." },
            username: username.slice(0, 100),
            next,
          });
        }
        throttle.reset(addressKey);
        throttle.reset(usernameKey);
        const { session, cookie } = auth.issueSession();
        await audit.record({
          actor: `admin:${session.username}`,
          action: "admin.login",
          target: "admin",
          meta: { address },
        });
        log.info("admin signed in", { address });
        const secure = isSecure(info.request);
        return redirect(next, {
          cookies: [
            serializeCookie(SESSION_COOKIE, cookie, { maxAgeSeconds: auth.sessionTtlMs / 1000, secure }),
            serializeCookie(LOGIN_COOKIE, "", { maxAgeSeconds: 0, secure }),
          ],
        });
      }),
    )
    .post(
      "/logout",
      action(async (info, authed) => {
        auth.revoke(authed.session);
        await audit.record({ actor: authed.actor, action: "admin.logout", target: "admin" });
        return redirect("/admin/login?notice=logged-out", {
          cookies: [
            serializeCookie(SESSION_COOKIE, "", { maxAgeSeconds: 0, secure: isSecure(info.request) }),
          ],
        });
      }),
    )

    // Dashboard
    .get(
      "",
      page(async (_info, authed) => dashboard(authed)),
    )
    .get(
      "/",
      page(async (_info, authed) => dashboard(authed)),
    )

    // Providers
    .get(
      "/providers",
      page(async (_info, authed) => renderProviders(authed)),
    )
    .get(
      "/providers/new",
      page(async (_info, authed) =>
        htmlResponse(
          ProviderFormPage({
            context: authed.page,
            values: providerFormFromView(),
            errors: {},
            personalities: await personalities.list(),
          }) as string,
        ),
      ),
    )
    .post(
      "/providers",
      action(async (_info, authed, form) => saveProvider(authed, form, null)),
    )
    .get(
      "/providers/:id/edit",
      page(async (info, authed) => {
        const providerId = id(info);
        const provider = providerId === null ? null : await findProvider(providerId);
        if (!provider) return notFound(authed.page);
        return htmlResponse(
          ProviderFormPage({
            context: authed.page,
            provider,
            values: providerFormFromView(provider),
            errors: {},
            personalities: await personalities.list(),
          }) as string,
        );
      }),
    )
    .post(
      "/providers/:id",
      action(async (info, authed, form) => {
        const providerId = id(info);
        if (providerId === null) return notFound(authed.page);
        return saveProvider(authed, form, providerId);
      }),
    )
    .post(
      "/providers/:id/delete",
      action(async (info, authed) => {
        const providerId = id(info);
        if (providerId === null || !(await findProvider(providerId))) return notFound(authed.page);
        await providers.remove(providerId, authed.actor);
        return redirect("/admin/providers?notice=provider-deleted");
      }),
    )
    .post(
      "/providers/:id/move",
      action(async (info, authed, form) => {
        const providerId = id(info);
        const list = await providers.list();
        const index = list.findIndex((provider) => provider.id === providerId);
        if (index < 0) return notFound(authed.page);
        const target = field(form, "direction") === "up" ? index - 1 : index + 1;
        if (target < 0 || target >= list.length) return redirect("/admin/providers");
        const ids = list.map((provider) => provider.id);
        [ids[index], ids[target]] = [ids[target]!, ids[index]!];
        await providers.reorder(ids, authed.actor);
        return redirect("/admin/providers?notice=provider-moved");
      }),
    )
    .post(
      "/providers/:id/toggle",
      action(async (info, authed, form) => {
        const providerId = id(info);
        if (providerId === null || !(await findProvider(providerId))) return notFound(authed.page);
        const enabled = field(form, "enabled") === "1";
        await providers.update(providerId, { enabled }, authed.actor);
        return redirect(`/admin/providers?notice=${enabled ? "provider-enabled" : "provider-disabled"}`);
      }),
    )
    .post(
      "/providers/:id/test",
      action(async (info, authed) => {
        const providerId = id(info);
        const provider = providerId === null ? null : await findProvider(providerId);
        if (!provider || providerId === null) return notFound(authed.page);
        const result = await providers.testConnection(
          providerId,
          AbortSignal.timeout(options.testConnectionTimeoutMs ?? 20_000),
        );
        const notice: NoticeData = result.ok
          ? {
              kind: "ok",
              text: `${provider.name}: connected in ${result.latencyMs} ms (model ${provider.model_id})${result.sample ? ` — answered “${result.sample.slice(0, 80)}”` : ""}.`,
            }
          : {
              kind: "error",
              text: `${provider.name}: connection failed — ${result.error.message}${result.error.status ? ` (HTTP ${result.error.status})` : ""}`,
            };
        log.info("provider connection tested", { provider: providerId, ok: result.ok });
        return renderProviders(authed, notice);
      }),
    )

    // Personalities
    .get(
      "/personalities",
      page(async (_info, authed) => {
        const [personaList, providerList] = await Promise.all([personalities.list(), providers.list()]);
        return htmlResponse(
          PersonalitiesPage({
            context: authed.page,
            personalities: personaList,
            providers: providerList,
          }) as string,
        );
      }),
    )
    .get(
      "/personalities/new",
      page(async (_info, authed) =>
        htmlResponse(
          PersonalityFormPage({
            context: authed.page,
            values: personalityFormFromView(),
            errors: {},
          }) as string,
        ),
      ),
    )
    .post(
      "/personalities",
      action(async (_info, authed, form) => savePersonality(authed, form, null)),
    )
    .post(
      "/personalities/defaults",
      action(async (_info, authed, form) => {
        const list = await providers.list();
        const known = new Set((await personalities.list()).map((persona) => persona.id));
        for (const provider of list) {
          const raw = form[`provider_${provider.id}`];
          if (raw === undefined) continue;
          const text = field(form, `provider_${provider.id}`);
          const next = text === "" ? null : Number(text);
          if (next !== null && !known.has(next)) continue;
          if (next === provider.default_personality_id) continue;
          await providers.update(provider.id, { default_personality_id: next }, authed.actor);
        }
        return redirect("/admin/personalities?notice=defaults-saved");
      }),
    )
    .get(
      "/personalities/:id/edit",
      page(async (info, authed) => {
        const personalityId = id(info);
        const personality = personalityId === null ? null : await findPersonality(personalityId);
        if (!personality) return notFound(authed.page);
        return htmlResponse(
          PersonalityFormPage({
            context: authed.page,
            personality,
            values: personalityFormFromView(personality),
            errors: {},
          }) as string,
        );
      }),
    )
    .post(
      "/personalities/:id",
      action(async (info, authed, form) => {
        const personalityId = id(info);
        if (personalityId === null) return notFound(authed.page);
        return savePersonality(authed, form, personalityId);
      }),
    )
    .post(
      "/personalities/:id/delete",
      action(async (info, authed) => {
        const personalityId = id(info);
        if (personalityId === null || !(await findPersonality(personalityId))) return notFound(authed.page);
        await personalities.remove(personalityId, authed.actor);
        return redirect("/admin/personalities?notice=personality-deleted");
      }),
    )

    // Sessions
    .get(
      "/sessions",
      page(async (info, authed) => renderSessions(info, authed)),
    )
    .post(
      "/sessions",
      action(async (info, authed, form) => {
        const topic = field(form, "topic");
        const maxRoundsText = field(form, "max_rounds").trim();
        const start = { topic, max_rounds: maxRoundsText, errors: {} as Record<string, string | undefined> };
        let maxRounds: number | undefined;
        if (maxRoundsText !== "") {
          maxRounds = /^\d{1,3}$/.test(maxRoundsText) ? Number(maxRoundsText) : Number.NaN;
          if (!Number.isInteger(maxRounds) || maxRounds < 1 || maxRounds > 50) {
            start.errors.max_rounds = "Must be an integer from 1 to 50.";
            return renderSessions(info, authed, start, 422);
          }
        }
        try {
          const created = await debate.createSession({ topic, maxRounds, source: "admin", language: "en" });
          const sessionId = created.session.id;
          await debate.startSession(sessionId);
          await audit.record({
            actor: authed.actor,
            action: "session.start",
            target: `session:${sessionId}`,
            meta: {
              topic: created.session.topic.slice(0, 200),
              max_rounds: created.session.maxRounds,
              participants: created.participants.map((participant) => participant.displayName),
            },
          });
          return redirect(`/admin/sessions/${sessionId}?notice=session-started`);
        } catch (error) {
          if (!(error instanceof DebateError)) throw error;
          if (error.code === "invalid_topic") start.errors.topic = error.message;
          else if (error.code === "invalid_state") start.errors.max_rounds = error.message;
          else start.errors._form = error.message;
          return renderSessions(info, authed, start, 422);
        }
      }),
    )
    .get(
      "/sessions/:id",
      page(async (info, authed) => {
        const loaded = await loadSessionDetail(info.params.id ?? "");
        if (!loaded) return notFound(authed.page);
        return htmlResponse(
          SessionDetailPage({ context: authed.page, detail: loaded.detail, user: loaded.user }) as string,
        );
      }),
    )
    .get(
      "/sessions/:id/live",
      data(async (info, authed) => {
        const loaded = await loadSessionDetail(info.params.id ?? "");
        if (!loaded) return textResponse("No such session.", 404);
        return htmlResponse(
          SessionLive({ detail: loaded.detail, user: loaded.user, csrf: authed.page.csrf }) as string,
          { fragment: true },
        );
      }),
    )
    .get(
      "/sessions/:id/events",
      data(async (info) => {
        const loaded = await loadSessionDetail(info.params.id ?? "");
        if (!loaded) return textResponse("No such session.", 404);
        return sessionEventStream(info.request, loaded.detail.session.id, loaded.detail.session.status);
      }),
    )
    .post(
      "/sessions/:id/stop",
      action(async (info, authed) => {
        const loaded = await loadSessionDetail(info.params.id ?? "");
        if (!loaded) return notFound(authed.page);
        const before = loaded.detail.session;
        const after = await debate.stopSession(before.id, "admin");
        const stoppedNow =
          (before.status === "created" || before.status === "running") && after.stopReason === "admin";
        if (stoppedNow) {
          await audit.record({
            actor: authed.actor,
            action: "session.stop",
            target: `session:${before.id}`,
            meta: { previous_status: before.status, round: after.currentRound },
          });
        }
        return redirect(
          `/admin/sessions/${before.id}?notice=${stoppedNow ? "session-stopped" : "session-ended"}`,
        );
      }),
    )

    // Settings
    .get(
      "/settings",
      page(async (_info, authed) => {
        const current = await settings.getAll();
        return htmlResponse(
          SettingsPage({
            context: authed.page,
            values: settingsValues(current as unknown as Record<string, unknown>),
            defaults,
            errors: {},
          }) as string,
        );
      }),
    )
    .post(
      "/settings",
      action(async (_info, authed, form) => {
        const submitted: Record<string, string> = {};
        for (const { key } of settingFields) {
          if (form[key] !== undefined) submitted[key] = field(form, key).trim();
        }
        const { values, issues } = validateSettings(submitted);
        const current = settingsValues((await settings.getAll()) as unknown as Record<string, unknown>);
        if (issues.length > 0) {
          const errors: Record<string, string> = {};
          for (const issue of issues) errors[issue.key] = issue.message;
          return htmlResponse(
            SettingsPage({
              context: authed.page,
              values: { ...current, ...submitted },
              defaults,
              errors,
            }) as string,
            { status: 422 },
          );
        }
        const changed: Record<string, string> = {};
        for (const [key, value] of Object.entries(values)) {
          if (value !== undefined && value !== current[key as RuntimeSettingKey]) changed[key] = value;
        }
        if (Object.keys(changed).length === 0) return redirect("/admin/settings?notice=settings-unchanged");
        await settings.update(changed, authed.actor);
        return redirect("/admin/settings?notice=settings-saved");
      }),
    )

    // Audit log
    .get(
      "/audit",
      page(async (info, authed) => {
        const current = pageNumber(info.query.page);
        const { items, total } = await audit.list({
          limit: AUDIT_PAGE_SIZE,
          offset: (current - 1) * AUDIT_PAGE_SIZE,
        });
        return htmlResponse(
          AuditPage({
            context: authed.page,
            items,
            page: current,
            pageSize: AUDIT_PAGE_SIZE,
            total,
          }) as string,
        );
      }),
    )

    // Anything else under /admin
    .all(
      "/*",
      page(async (_info, authed) => notFound(authed.page)),
    );

  // ---- handlers shared by several routes ---------------------------------------------------

  async function dashboard(authed: Authed): Promise<Response> {
    const today = startOfTodayUtc();
    const [running, counts, usageToday, usageAllTime, providerList] = await Promise.all([
      debate.listSessions({ status: "running", limit: 20, offset: 0 }),
      reports.sessionCounts({ since: today }),
      reports.usageByProvider({ since: today }),
      reports.usageByProvider(),
      providers.list(),
    ]);
    const todayCost = usageToday.reduce((sum, row) => addCostUsd(sum, row.cost), ZERO_COST_USD);
    return htmlResponse(
      DashboardPage({
        context: authed.page,
        running: running.items,
        runningTotal: running.total,
        today: {
          total: counts.total,
          finished: counts.byStatus.finished ?? 0,
          stopped: counts.byStatus.stopped ?? 0,
          failed: counts.byStatus.failed ?? 0,
        },
        todayCost,
        usageToday,
        usageAllTime,
        enabledProviders: providerList.filter((provider) => provider.enabled).length,
      }) as string,
    );
  }

  async function findProvider(providerId: number) {
    try {
      return await providers.get(providerId);
    } catch (error) {
      if (error instanceof CatalogError && error.code === "provider_not_found") return null;
      throw error;
    }
  }

  async function findPersonality(personalityId: number) {
    try {
      return await personalities.get(personalityId);
    } catch (error) {
      if (error instanceof CatalogError && error.code === "personality_not_found") return null;
      throw error;
    }
  }

  async function saveProvider(
    authed: Authed,
    form: FormFields,
    providerId: number | null,
  ): Promise<Response> {
    const existing = providerId === null ? undefined : await findProvider(providerId);
    if (existing === null) return notFound(authed.page);
    const values = readProviderForm(form);
    const { input, errors } = providerInputFromForm(values, form);
    const rerender = async (fieldErrors: Record<string, string | undefined>) =>
      htmlResponse(
        ProviderFormPage({
          context: authed.page,
          provider: existing,
          values,
          errors: fieldErrors,
          personalities: await personalities.list(),
          // A typed key is never echoed back into the page: the operator types it again.
          keyDiscarded: typedApiKey(form) && !fieldErrors.api_key,
        }) as string,
        { status: 422 },
      );
    if (Object.values(errors).some(Boolean)) {
      // Also report what the service would refuse, so every problem shows at once.
      const checked = providerInputSchema(input);
      const schemaErrors =
        checked instanceof type.errors
          ? issuesToFieldErrors(describeIssues(checked), providerFormFields)
          : {};
      return rerender({ ...schemaErrors, ...errors });
    }
    // jsonb reorders keys: unchanged parameters are left out so the audit shows only real changes.
    if (existing && sameJson(input.params, existing.params)) delete input.params;
    try {
      if (providerId === null) {
        await providers.create(input, authed.actor);
        return redirect("/admin/providers?notice=provider-created");
      }
      await providers.replace(providerId, input, authed.actor);
      return redirect("/admin/providers?notice=provider-saved");
    } catch (error) {
      if (!(error instanceof CatalogError)) throw error;
      if (error.code === "provider_not_found") return notFound(authed.page);
      if (error.code === "name_taken") return rerender({ name: error.message });
      if (error.code === "invalid_input")
        return rerender(issuesToFieldErrors(error.issues, providerFormFields));
      return rerender({ _form: error.message });
    }
  }

  async function savePersonality(
    authed: Authed,
    form: FormFields,
    personalityId: number | null,
  ): Promise<Response> {
    const existing = personalityId === null ? undefined : await findPersonality(personalityId);
    if (existing === null) return notFound(authed.page);
    const values = readPersonalityForm(form);
    const rerender = (fieldErrors: Record<string, string | undefined>) =>
      htmlResponse(
        PersonalityFormPage({
          context: authed.page,
          personality: existing,
          values,
          errors: fieldErrors,
        }) as string,
        { status: 422 },
      );
    const input = { title: values.title, instructions: values.instructions, style: values.style };
    try {
      if (personalityId === null) {
        await personalities.create(input, authed.actor);
        return redirect("/admin/personalities?notice=personality-created");
      }
      await personalities.replace(personalityId, input, authed.actor);
      return redirect("/admin/personalities?notice=personality-saved");
    } catch (error) {
      if (!(error instanceof CatalogError)) throw error;
      if (error.code === "personality_not_found") return notFound(authed.page);
      if (error.code === "title_taken") return rerender({ title: error.message });
      if (error.code === "invalid_input")
        return rerender(issuesToFieldErrors(error.issues, personalityFormFields));
      return rerender({ _form: error.message });
    }
  }

  /**
   * Server-sent events of one session for the live view: `turn-start` and `delta` (streamed text,
   * JSON, shown with textContent), `refresh` when a message was written, `end` when it ended.
   */
  function sessionEventStream(request: Request, sessionId: string, status: SessionStatus): Response {
    const encoder = new TextEncoder();
    let cleanup = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        let closed = false;
        const write = (text: string) => {
          if (closed) return;
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            cleanup();
          }
        };
        const send = (event: string, payload: unknown) =>
          write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
        const unsubscribe = events.subscribe((event: DebateEvent) => {
          switch (event.type) {
            case "turn-start":
              send("turn-start", { name: event.name, round: event.round, turnIndex: event.turnIndex });
              break;
            case "turn-delta":
              send("delta", { turnIndex: event.turnIndex, text: event.text });
              break;
            case "session-end":
              send("end", { status: event.status });
              cleanup();
              break;
            default:
              send("refresh", { type: event.type });
          }
        }, sessionId);
        const heartbeat = setInterval(() => write(": keep-alive\n\n"), heartbeatMs);
        cleanup = () => {
          if (closed) return;
          closed = true;
          clearInterval(heartbeat);
          unsubscribe();
          request.signal.removeEventListener("abort", cleanup);
          try {
            controller.close();
          } catch {
            // Already closed by the client.
          }
        };
        request.signal.addEventListener("abort", cleanup);
        // Tells the client how long to wait before reconnecting, and that the stream is open.
        write("retry: 3000\n\n");
        if (status !== "created" && status !== "running") send("end", { status });
      },
      cancel() {
        cleanup();
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
        connection: "keep-alive",
      },
    });
  }

  return app;
}

function assetResponse(body: string, contentType: string, versioned: boolean): Response {
  return new Response(body, {
    headers: {
      "content-type": contentType,
      "x-content-type-options": "nosniff",
      // A versioned URL never changes content; an unversioned one is revalidated.
      "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache",
    },
  });
}
