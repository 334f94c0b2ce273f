/** @jsxImportSource @kitajs/html */
import { emptySessionForms, type SessionForms } from "../../../admin-jsx/pages/session-actions";
import { SessionDetailPage, SessionLive } from "../../../admin-jsx/pages/session-detail";
import {
  emptyStartForm,
  type SessionFilters,
  SessionsPage,
  type StartFormValues,
  sessionStatusOptions,
} from "../../../admin-jsx/pages/sessions";
import type { AuditLogService } from "../../audit/audit-log";
import type { ReportsService } from "../../catalog/admin-reports";
import type { ProviderService } from "../../catalog/provider-service";
import type { SessionStatus } from "../../db/schema";
import { DebateError, type DebateErrorCode } from "../../debate/debate-errors";
import type { DebateEvent, DebateEventBus } from "../../debate/debate-events";
import type { DebateService, SessionDetail } from "../../debate/debate-service";
import type { SettingsService } from "../../settings/settings-service";
import { attachmentResponse, isExportFormat } from "../attachment";
import { endsStream, sseFrame, streamSessionEvents, streamsLive } from "../sse";
import { readContinueRoundsField, readStartForm } from "./admin-forms";
import { field, pageNumber, SECURITY_HEADERS } from "./admin-http";
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

/** The HTTP status of a refused session action, by the service's code. */
const refusalStatus: Partial<Record<DebateErrorCode, number>> = {
  invalid_state: 409,
  chat_busy: 409,
  rate_limited: 429,
  invalid_content: 422,
};

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

/** A verdict was asked for after the end and is not written yet: the page follows it live. */
const verdictPending = (detail: SessionDetail) => detail.session.verdictRequestedAt != null;

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
    start: StartFormValues = emptyStartForm(),
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

  const detailPage = async (
    set: ResponseSet,
    authed: Authed,
    sessionId: string,
    forms?: SessionForms,
    status = 422,
  ) => {
    const loaded = await load(sessionId);
    if (!loaded) return kit.notFound(set, authed.page);
    if (forms && Object.values(forms.errors).some(Boolean)) set.status = status;
    return (
      <SessionDetailPage
        context={authed.page}
        detail={loaded.detail}
        user={loaded.user}
        verdictPending={verdictPending(loaded.detail)}
        forms={forms}
      />
    );
  };

  /**
   * One action on a session (interject, continue, verdict) through the debate service, which
   * validates and refuses; back to the session with a notice, or the page again with the refusal
   * next to the field it concerns (`forms.errors` already holding what the form itself got wrong).
   */
  const act = async (
    set: ResponseSet,
    authed: Authed,
    sessionId: string,
    forms: SessionForms,
    notice: string,
    run: () => Promise<void>,
  ) => {
    if (Object.values(forms.errors).some(Boolean)) return detailPage(set, authed, sessionId, forms);
    try {
      await run();
    } catch (error) {
      if (!(error instanceof DebateError)) throw error;
      if (error.code === "session_not_found") return kit.notFound(set, authed.page);
      if (error.code === "invalid_content") forms.errors.content = error.message;
      else forms.errors._form = error.message;
      return detailPage(set, authed, sessionId, forms, refusalStatus[error.code] ?? 422);
    }
    return kit.seeOther(set, `/admin/sessions/${sessionId}?notice=${notice}`);
  };

  return kit
    .feature("/sessions")
    .get("", ({ authed, query, set }) => list(set, authed, query), { page: true })
    .post(
      "",
      async ({ authed, form, query, set }) => {
        const { values: start, input } = readStartForm(form);
        if (!input) return list(set, authed, query, start);
        try {
          const created = await debate.createSession({ ...input, source: "admin" });
          const sessionId = created.session.id;
          await debate.startSession(sessionId);
          await audit.record({
            actor: authed.actor,
            action: "session.start",
            target: `session:${sessionId}`,
            meta: {
              topic: created.session.topic.slice(0, 200),
              max_rounds: created.session.maxRounds,
              format: created.session.format,
              verdict: created.session.verdict,
              language: created.session.language,
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
    .get("/:id", ({ authed, params, set }) => detailPage(set, authed, params.id), { page: true })
    .get(
      "/:id/live",
      async ({ authed, params, set }) => {
        const loaded = await load(params.id);
        if (!loaded) return kit.text(set, 404, "No such session.");
        return (
          <SessionLive
            detail={loaded.detail}
            user={loaded.user}
            csrf={authed.page.csrf}
            verdictPending={verdictPending(loaded.detail)}
          />
        );
      },
      { data: true },
    )
    .post(
      "/:id/messages",
      ({ authed, form, params, set }) => {
        const content = field(form, "content");
        return act(
          set,
          authed,
          params.id,
          { ...emptySessionForms(), content },
          "interjection-sent",
          async () => {
            const message = await debate.interject(params.id, { content, by: "operator" });
            await audit.record({
              actor: authed.actor,
              action: "session.interject",
              target: `session:${params.id}`,
              meta: { turn_index: message.turnIndex, length: message.content.length },
            });
          },
        );
      },
      { form: true },
    )
    .post(
      "/:id/continue",
      ({ authed, form, params, set }) => {
        const rounds = readContinueRoundsField(field(form, "rounds"));
        const forms: SessionForms = { ...emptySessionForms(), rounds: rounds.text };
        if (rounds.error) forms.errors.rounds = rounds.error;
        return act(set, authed, params.id, forms, "session-continued", async () => {
          const session = await debate.continueSession(params.id, rounds.value!);
          await audit.record({
            actor: authed.actor,
            action: "session.continue",
            target: `session:${params.id}`,
            meta: { rounds: rounds.value, max_rounds: session.maxRounds },
          });
        });
      },
      { form: true },
    )
    .post(
      "/:id/verdict",
      ({ authed, params, set }) =>
        act(set, authed, params.id, emptySessionForms(), "verdict-requested", async () => {
          await debate.requestVerdict(params.id);
          await audit.record({
            actor: authed.actor,
            action: "session.verdict",
            target: `session:${params.id}`,
          });
        }),
      { form: true },
    )
    .get(
      "/:id/export",
      async ({ authed, params, query, set }) => {
        const format = query.format ?? "md";
        if (!isExportFormat(format)) {
          return kit.errorPage(set, 400, "Unknown export format", "Export as md or json.", authed.page);
        }
        if (!(await load(params.id))) return kit.notFound(set, authed.page);
        return attachmentResponse(await debate.exportSession(params.id, format), SECURITY_HEADERS);
      },
      { page: true },
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
            return loaded.detail.session;
          },
          ended: (session) => (streamsLive(session) ? null : sseFrame("end", { status: session.status })),
          frame: liveFrame,
          closesAfter: (event, session) => endsStream(event, session),
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
