/** @jsxImportSource @kitajs/html */
/**
 * One session: its facts, totals and the whole transcript. The live part is a fragment of its own
 * (`SessionLive`) that the page script re-fetches when the debate moves on.
 */

import { CONTINUE_ROUNDS_RANGE } from "../../src/config";
import type { Message, SessionParticipant, User } from "../../src/db/schema";
import { hasCurrentVerdict } from "../../src/debate/debate-policy";
import { INTERJECTION_MAX_LENGTH, type SessionDetail } from "../../src/debate/debate-service";
import {
  describeFormat,
  describeStopReason,
  formatDuration,
  formatInt,
  formatTime,
  formatTimeSeconds,
  formatUsd,
} from "../components/format";
import { Markdown } from "../components/markdown";
import {
  CsrfInput,
  type FieldErrors,
  FormError,
  PostButton,
  StatusBadge,
  TextArea,
  TextField,
} from "../components/ui";
import { Layout, type PageContext } from "../layout";
import { userLabel } from "./sessions";

/** How each kind of message is shown: its card's class and who the head names. */
function messageLook(message: Message, participant: SessionParticipant | undefined) {
  switch (message.authorType) {
    case "model":
      return { className: `speaker-${(participant?.orderIndex ?? 0) % 4}`, speaker: message.authorName };
    case "summary":
      return { className: "summary", speaker: "Summary of earlier turns" };
    case "verdict":
      return { className: "verdict", speaker: "Moderator's verdict" };
    case "user":
      return { className: "interjection", speaker: message.authorName };
    default:
      return { className: "system", speaker: "System" };
  }
}

function MessageCard(props: { message: Message; participant: SessionParticipant | undefined }): JSX.Element {
  const { message, participant } = props;
  const kind = message.authorType;
  const look = messageLook(message, participant);
  const hasUsage = message.tokensIn + message.tokensOut > 0;
  return (
    <article
      class={`turn ${look.className}`}
      id={`message-${message.id}`}
      data-turn={message.turnIndex}
      data-author-type={kind}
    >
      <div class="turn-head">
        {kind === "verdict" ? <span class="verdict-mark">Verdict</span> : ""}
        <span class="speaker" safe>
          {look.speaker}
        </span>
        {kind === "model" && participant?.personaTitle ? (
          <span class="muted small" safe>
            {participant.personaTitle}
          </span>
        ) : kind === "verdict" ? (
          <span class="muted small" safe>{`by ${message.authorName}`}</span>
        ) : kind === "user" ? (
          <span class="muted small">interjection</span>
        ) : (
          ""
        )}
        <span class="muted small" safe>{`round ${message.round} · turn ${message.turnIndex + 1}`}</span>
        {message.flagged ? (
          <span class="badge badge-stopped" safe>
            {`flagged: ${message.flagged}`}
          </span>
        ) : (
          ""
        )}
      </div>
      {kind === "model" || kind === "summary" || kind === "verdict" ? (
        <Markdown text={message.content} />
      ) : (
        <div class="md">
          <p safe>{message.content}</p>
        </div>
      )}
      {hasUsage ? (
        <div class="turn-stats">
          <span safe>{`tokens in ${formatInt(message.tokensIn)}`}</span>
          <span safe>{`cached ${formatInt(message.cachedTokens)}`}</span>
          <span safe>{`out ${formatInt(message.tokensOut)}`}</span>
          <span safe>{`cost ${formatUsd(message.cost)}`}</span>
          <span safe>{`latency ${formatDuration(message.latencyMs)}`}</span>
          {message.estimated ? <span title="The provider reported no usage">estimated</span> : ""}
          <span class="hide-sm" safe>
            {formatTimeSeconds(message.createdAt)}
          </span>
        </div>
      ) : (
        ""
      )}
    </article>
  );
}

/** Endings that are not the debate running its course: the operator is told why, up front. */
const troubledEnds = new Set(["no_participants", "turn_timeout", "error"]);

/**
 * Why a debate ended early (no working providers left, timeouts, an error): the stop reason, its
 * detail and each excluded participant's reason, where the operator looks first.
 */
function EndReason({ detail }: { detail: SessionDetail }): JSX.Element {
  const { session, participants } = detail;
  if (!troubledEnds.has(session.stopReason ?? "") && session.status !== "failed") return "";
  const excluded = participants.filter((participant) => participant.status === "excluded");
  return (
    <div class="notice notice-error end-reason" id="end-reason" role="alert">
      <strong safe>{`Ended: ${describeStopReason(session.stopReason ?? session.status)}`}</strong>
      {session.stopDetail ? <p safe>{session.stopDetail}</p> : ""}
      {excluded.length > 0 ? (
        <ul>
          {excluded.map((participant) => (
            <li>
              <span safe>{participant.displayName}</span>
              {" — "}
              <span safe>{participant.exclusionReason ?? "excluded"}</span>
            </li>
          ))}
        </ul>
      ) : (
        ""
      )}
    </div>
  );
}

/** What the operator typed into the session page's forms, and what was wrong with it. */
export interface SessionForms {
  /** The interjection's text. */
  content: string;
  /** The rounds of "continue". */
  rounds: string;
  /** By field (`content`, `rounds`); `_form`: a refusal of the action as a whole. */
  errors: FieldErrors;
}

export const emptySessionForms = (): SessionForms => ({ content: "", rounds: "1", errors: {} });

/** Which of the session's actions apply now (the service refuses the others anyway). */
export function sessionActions(detail: SessionDetail, verdictPending: boolean) {
  const { status } = detail.session;
  const ended = status === "finished" || status === "stopped";
  const hasTurns = detail.messages.some((message) => message.authorType === "model");
  return {
    stop: status === "created" || status === "running",
    interject: status === "running",
    // A verdict being written is waited for first (the service refuses to continue meanwhile).
    continue: ended && !verdictPending,
    // None covering the last turn: a continued debate may be judged again.
    verdict:
      (ended || status === "failed") &&
      hasTurns &&
      !verdictPending &&
      !hasCurrentVerdict({ messages: detail.messages }),
  };
}

const exportHref = (sessionId: string, format: "md" | "json") =>
  `/admin/sessions/${sessionId}/export?format=${format}`;

/** Continue, verdict and export: what can be done with the session as it stands. */
function SessionActions(props: {
  detail: SessionDetail;
  csrf: string;
  forms: SessionForms;
  verdictPending: boolean;
}): JSX.Element {
  const { session } = props.detail;
  const can = sessionActions(props.detail, props.verdictPending);
  const base = `/admin/sessions/${session.id}`;
  return (
    <div class="session-actions" id="session-actions">
      {can.continue ? (
        <form class="inline-form" method="post" action={`${base}/continue`} novalidate>
          <CsrfInput token={props.csrf} />
          <TextField
            name="rounds"
            label="More rounds"
            value={props.forms.rounds}
            error={props.forms.errors.rounds}
            inputmode="numeric"
            hint={`${CONTINUE_ROUNDS_RANGE.min}–${CONTINUE_ROUNDS_RANGE.max}`}
          />
          <div class="form-actions">
            <button type="submit">Continue the debate</button>
          </div>
        </form>
      ) : (
        ""
      )}
      {can.verdict ? (
        <PostButton action={`${base}/verdict`} csrf={props.csrf}>
          Ask for the verdict
        </PostButton>
      ) : (
        ""
      )}
      {props.verdictPending ? <span class="muted small">The moderator is writing the verdict…</span> : ""}
      <div class="export-links">
        <span class="muted small">Export:</span>
        <a class="button" href={exportHref(session.id, "md")} download="">
          Markdown
        </a>
        <a class="button" href={exportHref(session.id, "json")} download="">
          JSON
        </a>
      </div>
    </div>
  );
}

/** The operator's question to a running debate (outside the live fragment: typing survives refreshes). */
function InterjectForm(props: { detail: SessionDetail; csrf: string; forms: SessionForms }): JSX.Element {
  const { session } = props.detail;
  return (
    <section
      class="card"
      id="interject"
      aria-labelledby="interject-title"
      hidden={!sessionActions(props.detail, false).interject}
    >
      <h2 id="interject-title">Interject as the operator</h2>
      <form class="stack" method="post" action={`/admin/sessions/${session.id}/messages`} novalidate>
        <CsrfInput token={props.csrf} />
        <TextArea
          name="content"
          label="Question or remark"
          value={props.forms.content}
          error={props.forms.errors.content}
          rows={2}
          maxlength={INTERJECTION_MAX_LENGTH}
          required
          hint="The next speakers see it as the moderator's question and address it."
        />
        <div class="form-actions">
          <button type="submit" class="primary">
            Send to the debate
          </button>
        </div>
      </form>
    </section>
  );
}

/** The part of the page that changes while the debate runs (re-rendered as a fragment). */
export function SessionLive(props: {
  detail: SessionDetail;
  user?: User | undefined;
  csrf: string;
  /** Whether a verdict was asked for and has not arrived yet: the page stays live until it does. */
  verdictPending: boolean;
  forms?: SessionForms;
}): JSX.Element {
  const { session, participants, messages, totals } = props.detail;
  const byId = new Map(participants.map((participant) => [participant.id, participant]));
  const open = session.status === "created" || session.status === "running";
  const forms = props.forms ?? emptySessionForms();
  return (
    <div
      class="live-body"
      data-status={session.status}
      data-verdict-pending={props.verdictPending ? "true" : undefined}
    >
      <FormError message={forms.errors._form} />
      <EndReason detail={props.detail} />
      <div class="card">
        <div class="page-head status-head">
          <div>
            <StatusBadge status={session.status} />{" "}
            {session.stopReason ? (
              <span class="muted small" safe>
                {describeStopReason(session.stopReason)}
              </span>
            ) : (
              ""
            )}
            {session.status === "running" ? <span class="live-indicator"> · live</span> : ""}
          </div>
          {open ? (
            <PostButton
              action={`/admin/sessions/${session.id}/stop`}
              csrf={props.csrf}
              class="danger"
              confirm="Stop this debate now?"
            >
              Force stop
            </PostButton>
          ) : (
            ""
          )}
        </div>
        {session.stopDetail && !troubledEnds.has(session.stopReason ?? "") ? (
          <p class="small" safe>
            {session.stopDetail}
          </p>
        ) : (
          ""
        )}
        <dl class="meta-list">
          <div>
            <dt>Format</dt>
            <dd safe>{describeFormat(session.format)}</dd>
          </div>
          <div>
            <dt>Verdict</dt>
            <dd>{session.verdict ? "at the end" : "on request"}</dd>
          </div>
          <div>
            <dt>Language</dt>
            <dd safe>{session.language}</dd>
          </div>
          <div>
            <dt>Rounds</dt>
            <dd safe>{`${session.currentRound} / ${session.maxRounds}`}</dd>
          </div>
          <div>
            <dt>Tokens in</dt>
            <dd safe>{formatInt(totals.tokensIn)}</dd>
          </div>
          <div>
            <dt>Cached</dt>
            <dd safe>{formatInt(totals.cachedTokens)}</dd>
          </div>
          <div>
            <dt>Tokens out</dt>
            <dd safe>{formatInt(totals.tokensOut)}</dd>
          </div>
          <div>
            <dt>Cost</dt>
            <dd safe>{formatUsd(totals.cost)}</dd>
          </div>
          <div>
            <dt>Source</dt>
            <dd>{session.source}</dd>
          </div>
          <div>
            <dt>User</dt>
            <dd safe>{userLabel(props.user)}</dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd safe>{formatTime(session.createdAt)}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd safe>{formatTime(session.startedAt)}</dd>
          </div>
          <div>
            <dt>Finished</dt>
            <dd safe>{formatTime(session.finishedAt)}</dd>
          </div>
        </dl>
        <SessionActions
          detail={props.detail}
          csrf={props.csrf}
          forms={forms}
          verdictPending={props.verdictPending}
        />
      </div>

      <div class="card">
        <h2>Participants</h2>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th class="num">#</th>
                <th>Model</th>
                <th>Personality</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {participants.map((participant) => (
                <tr>
                  <td class="num">{participant.orderIndex + 1}</td>
                  <td safe>{participant.displayName}</td>
                  <td safe>{participant.personaTitle ?? "—"}</td>
                  <td>
                    {participant.status === "active" ? (
                      <span class="badge badge-on">active</span>
                    ) : (
                      <span>
                        <span class="badge badge-off">excluded</span>{" "}
                        <span class="muted small" safe>
                          {participant.exclusionReason ?? ""}
                        </span>
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>

      <h2>Transcript</h2>
      <div class="transcript" id="transcript">
        {messages.length === 0 ? (
          <p class="card empty">{open ? "Waiting for the first turn…" : "No messages."}</p>
        ) : (
          messages.map((message) => (
            <MessageCard
              message={message}
              participant={message.participantId == null ? undefined : byId.get(message.participantId)}
            />
          ))
        )}
      </div>
    </div>
  );
}

export function SessionDetailPage(props: {
  context: PageContext;
  detail: SessionDetail;
  user?: User | undefined;
  verdictPending: boolean;
  forms?: SessionForms;
}): JSX.Element {
  const { session } = props.detail;
  const open = session.status === "created" || session.status === "running";
  const forms = props.forms ?? emptySessionForms();
  return (
    <Layout title="Session" active="sessions" context={props.context}>
      <div class="page-head">
        <div>
          <p class="subtitle">
            <a href="/admin/sessions">← All sessions</a>
          </p>
          <h1 class="session-topic" safe>
            {session.topic}
          </h1>
          <p class="muted small mono" safe>
            {session.id}
          </p>
        </div>
      </div>
      <div
        id="live"
        data-live-session={open || props.verdictPending ? session.id : undefined}
        data-live-url={`/admin/sessions/${session.id}/live`}
        data-events-url={`/admin/sessions/${session.id}/events`}
      >
        <SessionLive
          detail={props.detail}
          user={props.user}
          csrf={props.context.csrf}
          verdictPending={props.verdictPending}
          forms={forms}
        />
      </div>
      <article class="turn draft" id="draft" hidden>
        <div class="turn-head">
          <span class="speaker" id="draft-speaker"></span>
          <span class="muted small">writing…</span>
        </div>
        <div class="draft-text" id="draft-text"></div>
      </article>
      {open ? <InterjectForm detail={props.detail} csrf={props.context.csrf} forms={forms} /> : ""}
    </Layout>
  );
}
