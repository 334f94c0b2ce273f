/** @jsxImportSource @kitajs/html */
/** What the operator can do with a session from its page: interject, continue, ask for a verdict, export. */

import { CONTINUE_ROUNDS_RANGE } from "../../src/config";
import { verdictOffered } from "../../src/debate/debate-policy";
import { INTERJECTION_MAX_LENGTH, type SessionDetail } from "../../src/debate/debate-service";
import { CsrfInput, type FieldErrors, PostButton, TextArea, TextField } from "../components/ui";

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
  return {
    stop: status === "created" || status === "running",
    interject: status === "running",
    // A verdict being written is waited for first (the service refuses to continue meanwhile).
    continue: ended && !verdictPending,
    // None covering the last turn: a continued debate may be judged again.
    verdict: (ended || status === "failed") && !verdictPending && verdictOffered(detail.messages),
  };
}

const exportHref = (sessionId: string, format: "md" | "json") =>
  `/admin/sessions/${sessionId}/export?format=${format}`;

/** Continue, verdict and export: what can be done with the session as it stands. */
export function SessionActions(props: {
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
export function InterjectForm(props: {
  detail: SessionDetail;
  csrf: string;
  forms: SessionForms;
}): JSX.Element {
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
