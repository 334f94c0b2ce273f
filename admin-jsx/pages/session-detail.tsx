/** @jsxImportSource @kitajs/html */
/**
 * One session: its facts, totals and the whole transcript. The live part is a fragment of its own
 * (`SessionLive`) that the page script re-fetches when the debate moves on.
 */

import type { User } from "../../src/db/schema";
import type { SessionDetail } from "../../src/debate/debate-service";
import { describeFormat, describeStopReason, formatInt, formatTime, formatUsd } from "../components/format";
import { MessageCard } from "../components/message-card";
import { FormError, PostButton, StatusBadge } from "../components/ui";
import { Layout, type PageContext } from "../layout";
import { emptySessionForms, InterjectForm, SessionActions, type SessionForms } from "./session-actions";
import { userLabel } from "./sessions";

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
