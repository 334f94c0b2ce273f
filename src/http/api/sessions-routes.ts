import { Elysia } from "elysia";
import type { AuditLogService } from "../../audit/audit-log";
import type { SessionStatus } from "../../db/schema";
import type { DebateEventBus } from "../../debate/debate-events";
import type { DebateService } from "../../debate/debate-service";
import { attachmentResponse, EXPORT_FORMATS, isExportFormat } from "../attachment";
import { ApiError } from "../errors";
import { endsStream, streamSessionEvents, streamsLive } from "../sse";
import {
  continueSessionBody,
  createSessionBody,
  exportQuery,
  interjectionBody,
  listSessionsQuery,
  messageView,
  sessionDetailView,
  sessionIdParams,
  sessionListView,
} from "./api-schemas";
import { componentRef } from "./openapi-components";
import { answer, errorAnswer, errorResponseDocs, errorResponses, routeDoc } from "./route-doc";
import {
  formatSseEvent,
  messageToView,
  sessionDetailToView,
  sessionEndFromDetail,
  sessionListItemToView,
} from "./session-views";

const ENDED: SessionStatus[] = ["finished", "stopped", "failed"];
const DEFAULT_PAGE_SIZE = 20;
/** Comment lines keep idle connections open through proxies that close silent ones. */
const SSE_KEEP_ALIVE_MS = 15_000;

export interface SessionRoutesDeps {
  debate: DebateService;
  events: DebateEventBus;
  audit: AuditLogService;
  /** Interval of SSE keep-alive comments; tests shorten it. */
  sseKeepAliveMs?: number;
}

const TAG = "sessions";

/**
 * Debate sessions: create, start, stop, read, list, and follow live over Server-Sent Events.
 * Stops made through the API are recorded with stop_reason `user` (the client acts for its user;
 * `admin` is kept for stops from the admin pages).
 */
export function createSessionRoutes(deps: SessionRoutesDeps) {
  const { debate, events, audit } = deps;
  const keepAliveMs = deps.sseKeepAliveMs ?? SSE_KEEP_ALIVE_MS;

  const detailView = async (id: string) => sessionDetailToView(await debate.getSession(id));

  return new Elysia({ name: "api-sessions", prefix: "/sessions" })
    .post(
      "",
      async ({ body, status }) => {
        const created = await debate.createSession({
          topic: body.topic,
          maxRounds: body.max_rounds,
          format: body.format,
          verdict: body.verdict,
          language: body.language,
          participants: body.participants?.map((participant) => ({
            providerId: participant.provider_id,
            personalityId: participant.personality_id,
          })),
          source: "api",
        });
        await audit.record({
          actor: "api",
          action: "session.create",
          target: `session:${created.session.id}`,
          meta: {
            topic: created.session.topic,
            max_rounds: created.session.maxRounds,
            format: created.session.format,
            verdict: created.session.verdict,
            language: created.session.language,
            participants: created.participants.map((participant) => participant.providerId),
          },
        });
        return status(201, sessionDetailToView(created));
      },
      {
        body: createSessionBody,
        parse: "json",
        response: {
          201: answer(sessionDetailView, "The created session, in status `created`"),
          ...errorResponses(400, 422),
        },
        detail: routeDoc("createSession", "Create a debate session", TAG, {
          description:
            "Creates a session in status `created`, in `format` (default `roundtable`), with a moderator's verdict after the last round unless `verdict` is false, its system texts (the verdict's headings, notes) in `language` (default: the topic's, Cyrillic → `ru`, otherwise `en`). Without `participants`, every enabled provider with a usable API key takes part in admin order with its default personality. Start it with POST /api/sessions/{id}/start. 422 `not_enough_participants` when fewer than two providers can take part (`details.providers` says what keeps each out: `disabled`, `no_api_key`, `key_unreadable`).",
        }),
      },
    )
    .get(
      "",
      async ({ query }) => {
        const limit = query.limit ?? DEFAULT_PAGE_SIZE;
        const offset = query.offset ?? 0;
        const page = await debate.listSessions({
          status: query.status,
          userId: query.user_id,
          limit,
          offset,
        });
        return { items: page.items.map(sessionListItemToView), total: page.total, limit, offset };
      },
      {
        query: listSessionsQuery,
        response: { 200: answer(sessionListView, "One page of sessions"), ...errorResponses(422) },
        detail: routeDoc("listSessions", "List sessions, newest first", TAG, {
          description:
            "Paged with `limit` (1–100, default 20) and `offset`; filter by `status` or `user_id`.",
        }),
      },
    )
    .get("/:id", ({ params }) => detailView(params.id), {
      params: sessionIdParams,
      response: { 200: answer(sessionDetailView, "The session"), ...errorResponses(404) },
      detail: routeDoc("getSession", "Get a session with its participants, full history and totals", TAG),
    })
    .post(
      "/:id/start",
      async ({ params }) => {
        await debate.startSession(params.id);
        await audit.record({ actor: "api", action: "session.start", target: `session:${params.id}` });
        return detailView(params.id);
      },
      {
        params: sessionIdParams,
        response: { 200: answer(sessionDetailView, "The session, now running"), ...errorResponses(404, 409) },
        detail: routeDoc("startSession", "Start a created session", TAG, {
          description: "Answers the session with `status: running`; 409 when it is not in status `created`.",
        }),
      },
    )
    .post(
      "/:id/stop",
      async ({ params }) => {
        const current = await debate.getSession(params.id);
        if (ENDED.includes(current.session.status)) {
          throw new ApiError(
            409,
            "invalid_state",
            `Session is ${current.session.status}; only a created or running session can stop.`,
            { status: current.session.status },
          );
        }
        await debate.stopSession(params.id, "user");
        await audit.record({
          actor: "api",
          action: "session.stop",
          target: `session:${params.id}`,
          meta: { reason: "user" },
        });
        return detailView(params.id);
      },
      {
        params: sessionIdParams,
        response: { 200: answer(sessionDetailView, "The session, now stopped"), ...errorResponses(404, 409) },
        detail: routeDoc("stopSession", "Stop a created or running session", TAG, {
          description:
            "Stops at once (the turn being generated is aborted) with stop_reason `user`; answers the session with `status: stopped`. 409 when it already ended.",
        }),
      },
    )
    .post(
      "/:id/messages",
      async ({ params, body, status }) => {
        const message = await debate.interject(params.id, {
          content: body.content,
          by: "user",
          userId: null,
        });
        await audit.record({
          actor: "api",
          action: "session.interject",
          target: `session:${params.id}`,
          meta: { turn_index: message.turnIndex, length: message.content.length },
        });
        return status(201, messageToView(message));
      },
      {
        params: sessionIdParams,
        body: interjectionBody,
        parse: "json",
        response: {
          201: answer(messageView, "The interjection, stored as a `user` message at the next turn"),
          ...errorResponses(404, 409, 422, 429),
          400: errorAnswer(
            "`invalid_content`: the content is empty or longer than 1000 characters once trimmed; or `malformed_json`",
          ),
        },
        detail: routeDoc("interject", "Put a question or remark to a running debate", TAG, {
          description:
            "The text is stored as a `user` message at the next turn index; the next speakers see it as the moderator's question and address it. 409 `invalid_state` unless the session is running; 429 `rate_limited` when interjections come too often.",
        }),
      },
    )
    .post(
      "/:id/continue",
      async ({ params, body }) => {
        const session = await debate.continueSession(params.id, body.rounds);
        await audit.record({
          actor: "api",
          action: "session.continue",
          target: `session:${params.id}`,
          meta: { rounds: body.rounds, max_rounds: session.maxRounds },
        });
        return detailView(params.id);
      },
      {
        params: sessionIdParams,
        body: continueSessionBody,
        parse: "json",
        response: {
          200: answer(sessionDetailView, "The session, running again with `max_rounds` grown by `rounds`"),
          ...errorResponses(400, 404, 409, 422),
        },
        detail: routeDoc("continueSession", "Continue a finished or stopped debate for more rounds", TAG, {
          description:
            "The same participants and format go on for `rounds` (1–10) more rounds: the status is `running` again and `max_rounds` grows by `rounds`; the session's limits still apply. 409 `invalid_state` while the session is created or running (or its verdict is being written), `chat_busy` when its Telegram chat has another debate open; 422 `not_enough_participants` when fewer than two of its participants are left.",
        }),
      },
    )
    .post(
      "/:id/verdict",
      async ({ params, status }) => {
        await debate.requestVerdict(params.id);
        await audit.record({ actor: "api", action: "session.verdict", target: `session:${params.id}` });
        return status(202, await detailView(params.id));
      },
      {
        params: sessionIdParams,
        response: {
          202: answer(sessionDetailView, "Accepted: the moderator writes the verdict next"),
          ...errorResponses(404, 409),
        },
        detail: routeDoc("requestVerdict", "Ask the moderator for a verdict on an ended debate", TAG, {
          description:
            "For a debate that ended without one (started with `verdict: false`, or stopped early): the moderator model (setting MODERATOR_PROVIDER_ID) writes a synthesis, stored as a `verdict` message and announced on the event stream. 409 `invalid_state` while the session is created or running, or when it already has a verdict.",
        }),
      },
    )
    .get(
      "/:id/export",
      async ({ params, query }) =>
        attachmentResponse(await debate.exportSession(params.id, query.format ?? "md")),
      {
        params: sessionIdParams,
        query: exportQuery,
        // Before validation (which would answer 422): an unknown format is a bad request.
        transform({ query }) {
          const format: unknown = query.format;
          if (format !== undefined && !isExportFormat(format)) {
            throw new ApiError(400, "invalid_format", "Export as `md` or `json`.", {
              formats: EXPORT_FORMATS,
            });
          }
        },
        detail: routeDoc("exportSession", "Export a session as Markdown or JSON", TAG, {
          description:
            "`format=md` (the default): a Markdown document with the topic, the participants, every turn with its speaker and round, the verdict and the totals. `format=json`: the whole session as JSON. Sent as a file (`Content-Disposition: attachment`). 400 `invalid_format` for any other format.",
          responses: {
            200: {
              description: "The export, as a file",
              headers: {
                "Content-Disposition": {
                  description: 'attachment; filename="…" (and filename* for names beyond ASCII)',
                  schema: { type: "string" },
                },
              },
              content: {
                "text/markdown": {
                  schema: { type: "string" },
                  example:
                    "# Is remote work here to stay?\n\n## Participants\n\n- ChatGPT (Optimist)\n- DeepSeek (Skeptic)\n\n## Round 1\n\n### ChatGPT\n\nRemote work is here to stay, because…\n",
                },
                "application/json": { schema: { $ref: componentRef("SessionExport") } },
              },
            },
            ...errorResponseDocs(400, 404),
          },
        }),
      },
    )
    .get(
      "/:id/events",
      async ({ params, request }) => {
        const { response } = await streamSessionEvents({
          events,
          sessionId: params.id,
          signal: request.signal,
          keepAliveMs,
          load: () => debate.getSession(params.id),
          ended: (detail) =>
            streamsLive(detail.session) ? null : formatSseEvent(sessionEndFromDetail(detail)),
          frame: formatSseEvent,
          closesAfter: (event, detail) => endsStream(event, detail.session),
        });
        return response;
      },
      {
        params: sessionIdParams,
        detail: routeDoc("followSessionEvents", "Follow a session's live events (Server-Sent Events)", TAG, {
          description:
            "A `text/event-stream` of the debate's events as they happen: `session-start`, `turn-start`, `turn-delta` (text fragments), `turn-end` (the persisted turn with tokens and cost), `message-created`, `participant-excluded`, and finally `session-end`, after which the stream closes. `message-created` carries `author_type`: `verdict` for the moderator's verdict, `user` for an interjection. An ended session waiting for a verdict asked for with POST /api/sessions/{id}/verdict streams until the verdict (or the `system` note saying why there is none) is written. Each event is `event: <type>` and `data: <snake_case JSON>`. For a session that already ended (and waits for no verdict), a single `session-end` built from the database is sent. Earlier history is read with GET /api/sessions/{id}.",
          responses: {
            200: {
              description: "The event stream",
              content: {
                "text/event-stream": {
                  schema: { type: "string" },
                  example:
                    'event: turn-delta\ndata: {"type":"turn-delta","session_id":"7d0c5a56-2f1e-4a57-9a3e-5b8f1c2d4e6f","turn_index":0,"participant_id":11,"text":"Remote work"}\n\n',
                },
              },
            },
            ...errorResponseDocs(404),
          },
        }),
      },
    );
}
