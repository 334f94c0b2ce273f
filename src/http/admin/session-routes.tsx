/** @jsxImportSource @kitajs/html */
import { SessionDetailPage, SessionLive } from "../../../admin-jsx/pages/session-detail";
import { type SessionFilters, SessionsPage, sessionStatusOptions } from "../../../admin-jsx/pages/sessions";
import type { AuditLogService } from "../../audit/audit-log";
import type { ReportsService } from "../../catalog/admin-reports";
import type { ProviderService } from "../../catalog/provider-service";
import type { SessionStatus } from "../../db/schema";
import { DebateError } from "../../debate/debate-errors";
import type { DebateEvent, DebateEventBus } from "../../debate/debate-events";
import type { DebateService } from "../../debate/debate-service";
import type { SettingsService } from "../../settings/settings-service";
import { sseFrame, streamSessionEvents } from "../sse";
import { readRoundsField } from "./admin-forms";
import { field, pageNumber } from "./admin-http";
import type { AdminKit, Authed, ResponseSet } from "./admin-kit";

const SESSIONS_PAGE_SIZE = 20;

export interface SessionRoutesDeps {
  kit: AdminKit;
  debate: DebateService;
  events: DebateEventBus;
  reports: ReportsService;
  providers: ProviderService;
  settings: SettingsService;
  audit: AuditLogService;
  /** Interval of SSE keep-alive comments. */
  heartbeatMs: number;
}

interface StartForm {
  topic: string;
  max_rounds: string;
  errors: Record<string, string | undefined>;
}

/** The live view's frames: what `admin.js` listens to (model text is only ever set as textContent). */
function liveFrame(event: DebateEvent): string {
  switch (event.type) {
    case "turn-start":
      return sseFrame("turn-start", { name: event.name, round: event.round, turnIndex: event.turnIndex });
    case "turn-delta":
      return sseFrame("delta", { turnIndex: event.turnIndex, text: event.text });
    case "session-end":
      return sseFrame("end", { status: event.status });
    default:
      return sseFrame("refresh", { type: event.type });
  }
}

const isLive = (status: SessionStatus) => status === "created" || status === "running";

/** Sessions: the list with filters and the "start a debate" form, the detail with its live view, force stop. */
export function createSessionRoutes(deps: SessionRoutesDeps) {
  const { kit, debate, events, reports, providers, settings, audit } = deps;

  const load = async (sessionId: string) => {
    try {
      const detail = await debate.getSession(sessionId);
      const userId = detail.session.userId;
      const users = await reports.usersByIds(userId == null ? [] : [userId]);
      return { detail, user: userId == null ? undefined : users.get(userId) };
    } catch (error) {
      if (error instanceof DebateError && error.code === "session_not_found") return null;
      throw error;
    }
  };

  const list = async (
    set: ResponseSet,
    authed: Authed,
    query: Record<string, string | undefined>,
    start: StartForm = { topic: "", max_rounds: "", errors: {} },
  ) => {
    const statusFilter = (sessionStatusOptions as readonly string[]).includes(query.status ?? "")
      ? (query.status as SessionStatus)
      : undefined;
    const userFilter = (query.user ?? "").trim().slice(0, 100);
    const filters: SessionFilters = { status: statusFilter ?? "", user: userFilter };
    const requestedPage = pageNumber(query.page);
    const user = userFilter ? await reports.findUserByHandle(userFilter) : null;
    const userNotFound = userFilter !== "" && !user;
    const [sessions, providerList, current] = await Promise.all([
      userNotFound
        ? Promise.resolve({ items: [], total: 0 })
        : debate.listSessions({
            status: statusFilter,
            userId: user?.id,
            limit: SESSIONS_PAGE_SIZE,
            offset: (requestedPage - 1) * SESSIONS_PAGE_SIZE,
          }),
      providers.list(),
      settings.getAll(),
    ]);
    const users = await reports.usersByIds(
      sessions.items.map((item) => item.userId).filter((value): value is number => value != null),
    );
    if (Object.values(start.errors).some(Boolean)) set.status = 422;
    return (
      <SessionsPage
        context={authed.page}
        items={sessions.items}
        users={users}
        filters={filters}
        userNotFound={userNotFound}
        page={requestedPage}
        pageSize={SESSIONS_PAGE_SIZE}
        total={sessions.total}
        start={start}
        speakers={providerList.filter((provider) => provider.enabled).map((provider) => provider.name)}
        defaultMaxRounds={current.MAX_ROUNDS}
      />
    );
  };

  return kit
    .feature("/sessions")
    .get("", ({ authed, query, set }) => list(set, authed, query), { page: true })
    .post(
      "",
      async ({ authed, form, query, set }) => {
        const topic = field(form, "topic");
        const rounds = readRoundsField(field(form, "max_rounds"));
        const start: StartForm = { topic, max_rounds: rounds.text, errors: { max_rounds: rounds.error } };
        if (rounds.error) return list(set, authed, query, start);
        try {
          const created = await debate.createSession({
            topic,
            maxRounds: rounds.value,
            source: "admin",
            language: "en",
          });
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
          return kit.seeOther(set, `/admin/sessions/${sessionId}?notice=session-started`);
        } catch (error) {
          if (!(error instanceof DebateError)) throw error;
          if (error.code === "invalid_topic") start.errors.topic = error.message;
          else if (error.code === "invalid_state") start.errors.max_rounds = error.message;
          else start.errors._form = error.message;
          return list(set, authed, query, start);
        }
      },
      { form: true },
    )
    .get(
      "/:id",
      async ({ authed, params, set }) => {
        const loaded = await load(params.id);
        if (!loaded) return kit.notFound(set, authed.page);
        return <SessionDetailPage context={authed.page} detail={loaded.detail} user={loaded.user} />;
      },
      { page: true },
    )
    .get(
      "/:id/live",
      async ({ authed, params, set }) => {
        const loaded = await load(params.id);
        if (!loaded) return kit.text(set, 404, "No such session.");
        return <SessionLive detail={loaded.detail} user={loaded.user} csrf={authed.page.csrf} />;
      },
      { data: true },
    )
    .get(
      "/:id/events",
      async ({ params, request }) => {
        const { response } = await streamSessionEvents({
          events,
          sessionId: params.id,
          signal: request.signal,
          keepAliveMs: deps.heartbeatMs,
          retryMs: 3000,
          load: async () => {
            const loaded = await load(params.id);
            if (!loaded) throw kit.refuse((set) => kit.text(set, 404, "No such session."));
            return loaded.detail.session.status;
          },
          ended: (status) => (isLive(status) ? null : sseFrame("end", { status })),
          frame: liveFrame,
        });
        return response;
      },
      { data: true },
    )
    .post(
      "/:id/stop",
      async ({ authed, params, set }) => {
        const loaded = await load(params.id);
        if (!loaded) return kit.notFound(set, authed.page);
        const before = loaded.detail.session;
        const after = await debate.stopSession(before.id, "admin");
        const stoppedNow = isLive(before.status) && after.stopReason === "admin";
        if (stoppedNow) {
          await audit.record({
            actor: authed.actor,
            action: "session.stop",
            target: `session:${before.id}`,
            meta: { previous_status: before.status, round: after.currentRound },
          });
        }
        return kit.seeOther(
          set,
          `/admin/sessions/${before.id}?notice=${stoppedNow ? "session-stopped" : "session-ended"}`,
        );
      },
      { form: true },
    );
}
