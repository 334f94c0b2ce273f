/** @jsxImportSource @kitajs/html */
/** Sessions: filters, the paged list, and a form to start a debate from the admin. */
import type { User } from "../../src/db/schema";
import { DEBATE_FORMATS } from "../../src/debate/debate-formats";
import type { SessionListItem } from "../../src/debate/debate-service";
import {
  describeStopReason,
  formatInt,
  formatLabels,
  formatTime,
  formatUsd,
  languageLabels,
  truncate,
} from "../components/format";
import {
  CheckboxField,
  CsrfInput,
  type FieldErrors,
  FormError,
  Pager,
  SelectField,
  StatusBadge,
  TextArea,
  TextField,
} from "../components/ui";
import { Layout, type PageContext } from "../layout";

export const sessionStatusOptions = ["created", "running", "finished", "stopped", "failed"] as const;

export interface SessionFilters {
  status: string;
  user: string;
}

/** The query string of the list for these filters and page. */
export function sessionsHref(filters: SessionFilters, page: number): string {
  const query = new URLSearchParams();
  if (filters.status) query.set("status", filters.status);
  if (filters.user) query.set("user", filters.user);
  if (page > 1) query.set("page", String(page));
  const text = query.toString();
  return text ? `/admin/sessions?${text}` : "/admin/sessions";
}

/** "@name", or the Telegram id, or "—" for sessions started by the API or the admin. */
export function userLabel(user: User | undefined): string {
  if (!user) return "—";
  return user.username ? `@${user.username}` : `tg:${user.telegramId}`;
}

/** The "start a debate" form as shown (all strings, as typed) with its errors by field. */
export interface StartFormValues {
  topic: string;
  max_rounds: string;
  format: string;
  verdict: boolean;
  language: string;
  errors: FieldErrors;
}

export const emptyStartForm = (): StartFormValues => ({
  topic: "",
  max_rounds: "",
  format: "roundtable",
  verdict: true,
  language: "",
  errors: {},
});

export function SessionsPage(props: {
  context: PageContext;
  items: SessionListItem[];
  users: Map<number, User>;
  filters: SessionFilters;
  /** Set when the user filter named nobody. */
  userNotFound?: boolean;
  page: number;
  pageSize: number;
  total: number;
  start: StartFormValues;
  /** Names of the enabled providers, in debate order. */
  speakers: string[];
  defaultMaxRounds: number;
}): JSX.Element {
  const { context, filters } = props;
  return (
    <Layout title="Sessions" active="sessions" context={context}>
      <div class="page-head">
        <div>
          <h1>Sessions</h1>
          <p class="subtitle">Every debate, from Telegram, the API or this admin.</p>
        </div>
      </div>

      <section class="card" aria-labelledby="start-debate">
        <h2 id="start-debate">Start a debate</h2>
        <form class="stack" method="post" action="/admin/sessions" novalidate>
          <CsrfInput token={context.csrf} />
          <FormError message={props.start.errors._form} />
          <TextArea
            name="topic"
            label="Topic"
            value={props.start.topic}
            error={props.start.errors.topic}
            rows={2}
            maxlength={1000}
            required
            hint={
              props.speakers.length > 0
                ? `Speakers in order: ${props.speakers.join(", ")}.`
                : "No provider is enabled: enable at least two first."
            }
          />
          <div class="inline-form">
            <SelectField
              name="format"
              label="Format"
              selected={props.start.format}
              error={props.start.errors.format}
              options={DEBATE_FORMATS.map((format) => ({
                value: format,
                label: `${formatLabels[format].name}: ${formatLabels[format].hint}`,
              }))}
            />
            <TextField
              name="max_rounds"
              label="Rounds"
              value={props.start.max_rounds}
              error={props.start.errors.max_rounds}
              inputmode="numeric"
              hint={`Blank: ${props.defaultMaxRounds} (MAX_ROUNDS)`}
            />
            <SelectField
              name="language"
              label="Language of system texts"
              selected={props.start.language}
              error={props.start.errors.language}
              options={Object.entries(languageLabels).map(([value, label]) => ({ value, label }))}
            />
            <CheckboxField
              name="verdict"
              label="Moderator's verdict at the end"
              checked={props.start.verdict}
              error={props.start.errors.verdict}
            />
            <div class="form-actions">
              <button type="submit" class="primary">
                Start debate
              </button>
            </div>
          </div>
        </form>
      </section>

      <div class="card">
        <form class="filters" method="get" action="/admin/sessions">
          <SelectField
            name="status"
            label="Status"
            selected={filters.status}
            options={[
              { value: "", label: "Any status" },
              ...sessionStatusOptions.map((status) => ({ value: status, label: status })),
            ]}
          />
          <TextField
            name="user"
            label="User"
            type="search"
            value={filters.user}
            placeholder="@username or Telegram id"
            error={props.userNotFound ? "No such user." : undefined}
          />
          <div class="form-actions">
            <button type="submit">Filter</button>
            {filters.status || filters.user ? (
              <a class="button" href="/admin/sessions">
                Clear
              </a>
            ) : (
              ""
            )}
          </div>
        </form>
      </div>

      <div class="card">
        {props.items.length === 0 ? (
          <p class="empty">No sessions match.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th class="hide-sm">Created</th>
                  <th>Topic</th>
                  <th>Status</th>
                  <th class="hide-sm">User</th>
                  <th class="num">Rounds</th>
                  <th class="num hide-sm">Tokens</th>
                  <th class="num">Cost</th>
                </tr>
              </thead>
              <tbody>
                {props.items.map((session) => {
                  const user = session.userId == null ? undefined : props.users.get(session.userId);
                  return (
                    <tr data-session={session.id}>
                      <td class="nowrap small hide-sm" safe>
                        {formatTime(session.createdAt)}
                      </td>
                      <td class="topic-cell">
                        <a href={`/admin/sessions/${session.id}`} safe>
                          {truncate(session.topic, 140)}
                        </a>
                        <div class="muted small">
                          <span>{session.source}</span>
                          <span class="show-sm" safe>
                            {` · ${formatTime(session.createdAt)}`}
                          </span>
                        </div>
                      </td>
                      <td>
                        <StatusBadge status={session.status} />
                        {session.stopReason ? (
                          <div class="muted small" safe>
                            {describeStopReason(session.stopReason)}
                          </div>
                        ) : (
                          ""
                        )}
                      </td>
                      <td class="hide-sm">
                        {user ? (
                          <a href={sessionsHref({ status: "", user: String(user.telegramId) }, 1)} safe>
                            {userLabel(user)}
                          </a>
                        ) : (
                          <span class="muted">—</span>
                        )}
                      </td>
                      <td class="num" safe>{`${session.currentRound}/${session.maxRounds}`}</td>
                      <td class="num hide-sm" safe>
                        {formatInt(session.totals.tokensIn + session.totals.tokensOut)}
                      </td>
                      <td class="num" safe>
                        {formatUsd(session.totals.cost)}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          page={props.page}
          pageSize={props.pageSize}
          total={props.total}
          hrefFor={(page) => sessionsHref(filters, page)}
        />
      </div>
    </Layout>
  );
}
