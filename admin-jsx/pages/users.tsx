/** @jsxImportSource @kitajs/html */
/** The bot's Telegram users: usage today and in all, block, allow, their own daily limits. */
import type { UserView } from "../../src/users/user-service";
import { formatInt, formatTime, formatUsd } from "../components/format";
import {
  CsrfInput,
  type FieldErrors,
  FormError,
  Pager,
  PostButton,
  SelectField,
  TextField,
} from "../components/ui";
import { Layout, type PageContext } from "../layout";

export interface UserFilters {
  q: string;
  /** "", "yes" or "no". */
  blocked: string;
  allowed: string;
}

/** The global daily limits (0 = none), shown where a user has no override. */
export interface GlobalLimits {
  debatesPerDay: number;
  costPerDayUsd: string;
  accessMode: "open" | "allowlist";
}

export function usersHref(filters: UserFilters, page: number): string {
  const query = new URLSearchParams();
  if (filters.q) query.set("q", filters.q);
  if (filters.blocked) query.set("blocked", filters.blocked);
  if (filters.allowed) query.set("allowed", filters.allowed);
  if (page > 1) query.set("page", String(page));
  const text = query.toString();
  return text ? `/admin/users?${text}` : "/admin/users";
}

/** "@name", or the Telegram id. */
export const userName = (user: Pick<UserView, "username" | "telegram_id">) =>
  user.username ? `@${user.username}` : `tg:${user.telegram_id}`;

const userHref = (user: Pick<UserView, "telegram_id">) => `/admin/users/${user.telegram_id}`;
const debatesText = (count: number) => `${formatInt(count)} debate${count === 1 ? "" : "s"}`;
/** The user's sessions: the sessions list filtered by their Telegram id. */
const sessionsHref = (user: Pick<UserView, "telegram_id">) => `/admin/sessions?user=${user.telegram_id}`;

const debatesLimit = (user: UserView, global: GlobalLimits) => user.debates_per_day ?? global.debatesPerDay;
const costLimit = (user: UserView, global: GlobalLimits) => user.cost_per_day_usd ?? global.costPerDayUsd;

/** "3 / 20", "3 / no limit". */
const ofLimit = (used: string, limit: string | null) => `${used} / ${limit ?? "no limit"}`;

function TodayCell({ user, global }: { user: UserView; global: GlobalLimits }): JSX.Element {
  const debates = debatesLimit(user, global);
  const cost = costLimit(user, global);
  return (
    <>
      <div safe>{ofLimit(formatInt(user.debates_today), debates > 0 ? formatInt(debates) : null)}</div>
      <div class="muted small" safe>
        {ofLimit(formatUsd(user.cost_today), Number(cost) > 0 ? formatUsd(cost) : null)}
      </div>
    </>
  );
}

function AccessBadges({ user, global }: { user: UserView; global: GlobalLimits }): JSX.Element {
  return (
    <>
      {user.blocked ? <span class="badge badge-failed">blocked</span> : ""}
      {user.allowed ? <span class="badge badge-on">allowed</span> : ""}
      {!user.blocked && global.accessMode === "allowlist" && !user.allowed ? (
        <span class="badge badge-off">not allowed</span>
      ) : (
        ""
      )}
      {!user.blocked && !user.allowed && global.accessMode === "open" ? <span class="muted">—</span> : ""}
    </>
  );
}

/** Block/unblock and allow/disallow buttons; `back` says where the answer lands. */
function AccessButtons(props: { user: UserView; csrf: string; back: "list" | "user" }): JSX.Element {
  const { user } = props;
  const base = `/admin/users/${user.telegram_id}`;
  return (
    <div class="row-actions">
      <PostButton
        action={`${base}/block`}
        csrf={props.csrf}
        fields={{ blocked: user.blocked ? "0" : "1", back: props.back }}
        class={user.blocked ? "small-button" : "small-button danger"}
        confirm={user.blocked ? undefined : `Block ${userName(user)}? They will not start debates any more.`}
      >
        {user.blocked ? "Unblock" : "Block"}
      </PostButton>
      <PostButton
        action={`${base}/allow`}
        csrf={props.csrf}
        fields={{ allowed: user.allowed ? "0" : "1", back: props.back }}
        class="small-button"
      >
        {user.allowed ? "Disallow" : "Allow"}
      </PostButton>
    </div>
  );
}

export function UsersPage(props: {
  context: PageContext;
  items: UserView[];
  filters: UserFilters;
  page: number;
  pageSize: number;
  total: number;
  global: GlobalLimits;
}): JSX.Element {
  const { context, filters, global } = props;
  const yesNo = (label: string) => [
    { value: "", label: `${label}: any` },
    { value: "yes", label: `${label}: yes` },
    { value: "no", label: `${label}: no` },
  ];
  return (
    <Layout title="Users" active="users" context={context}>
      <div class="page-head">
        <div>
          <h1>Users</h1>
          <p class="subtitle" safe>
            {`Everyone who wrote to the bot. Today is counted from 00:00 UTC. Access: ${
              global.accessMode === "allowlist"
                ? "allowed users only (ACCESS_MODE=allowlist)"
                : "open to anyone"
            }.`}
          </p>
        </div>
      </div>
      <div class="card">
        <form class="filters" method="get" action="/admin/users">
          <TextField
            name="q"
            label="Search"
            type="search"
            value={filters.q}
            placeholder="username or Telegram id"
            maxlength={100}
          />
          <SelectField name="blocked" label="Blocked" selected={filters.blocked} options={yesNo("Blocked")} />
          <SelectField name="allowed" label="Allowed" selected={filters.allowed} options={yesNo("Allowed")} />
          <div class="form-actions">
            <button type="submit">Filter</button>
            {filters.q || filters.blocked || filters.allowed ? (
              <a class="button" href="/admin/users">
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
          <p class="empty">No users match.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>User</th>
                  <th class="hide-sm">Last seen</th>
                  <th>Today</th>
                  <th class="hide-sm">In all</th>
                  <th>Access</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {props.items.map((user) => (
                  <tr data-user={String(user.telegram_id)}>
                    <td>
                      <a href={userHref(user)}>
                        <strong safe>{userName(user)}</strong>
                      </a>
                      <div class="muted small" safe>
                        {`${user.telegram_id}${user.language_code ? ` · ${user.language_code}` : ""}`}
                      </div>
                    </td>
                    <td class="hide-sm small nowrap" safe>
                      {formatTime(user.last_seen_at)}
                    </td>
                    <td>
                      <TodayCell user={user} global={global} />
                    </td>
                    <td class="hide-sm">
                      <a href={sessionsHref(user)} safe>
                        {debatesText(user.debates_total)}
                      </a>
                      <div class="muted small" safe>
                        {formatUsd(user.cost_total)}
                      </div>
                    </td>
                    <td>
                      <AccessBadges user={user} global={global} />
                    </td>
                    <td>
                      <AccessButtons user={user} csrf={context.csrf} back="list" />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          page={props.page}
          pageSize={props.pageSize}
          total={props.total}
          hrefFor={(page) => usersHref(filters, page)}
        />
      </div>
    </Layout>
  );
}

/** The limits form as typed: blank = the setting. */
export interface LimitValues {
  debates_per_day: string;
  cost_per_day_usd: string;
}

export const limitValuesOf = (user: UserView): LimitValues => ({
  debates_per_day: user.debates_per_day === null ? "" : String(user.debates_per_day),
  cost_per_day_usd: user.cost_per_day_usd === null ? "" : String(Number(user.cost_per_day_usd)),
});

export function UserPage(props: {
  context: PageContext;
  user: UserView;
  global: GlobalLimits;
  values: LimitValues;
  errors: FieldErrors;
}): JSX.Element {
  const { context, user, global } = props;
  const globalDebates = global.debatesPerDay > 0 ? String(global.debatesPerDay) : "no limit";
  const globalCost = Number(global.costPerDayUsd) > 0 ? formatUsd(global.costPerDayUsd) : "no limit";
  return (
    <Layout title={userName(user)} active="users" context={context}>
      <div class="page-head">
        <div>
          <p class="muted small">
            <a href="/admin/users">← Users</a>
          </p>
          <h1 safe>{userName(user)}</h1>
          <p class="subtitle" safe>
            {`Telegram id ${user.telegram_id} · first seen ${formatTime(user.created_at)} · last seen ${formatTime(user.last_seen_at)}`}
          </p>
        </div>
        <a class="button" href={sessionsHref(user)}>
          Their sessions
        </a>
      </div>
      <div class="grid">
        <div class="stat">
          <div class="stat-label">Today</div>
          <div class="stat-value">
            <TodayCell user={user} global={global} />
          </div>
        </div>
        <div class="stat">
          <div class="stat-label">In all</div>
          <div class="stat-value" safe>
            {debatesText(user.debates_total)}
          </div>
          <div class="muted small" safe>
            {formatUsd(user.cost_total)}
          </div>
        </div>
        <div class="stat">
          <div class="stat-label">Access</div>
          <div class="stat-value">
            <AccessBadges user={user} global={global} />
          </div>
          <AccessButtons user={user} csrf={context.csrf} back="user" />
        </div>
      </div>
      <form class="card stack" method="post" action={`/admin/users/${user.telegram_id}/limits`} novalidate>
        <h2>Own daily limits</h2>
        <p class="muted small">Blank: the setting applies. 0: no limit for this user.</p>
        <CsrfInput token={context.csrf} />
        <FormError message={props.errors._form} />
        <div class="form-row">
          <TextField
            name="debates_per_day"
            label="Debates per day"
            value={props.values.debates_per_day}
            error={props.errors.debates_per_day}
            inputmode="numeric"
            hint={`USER_DEBATES_PER_DAY: ${globalDebates}`}
          />
          <TextField
            name="cost_per_day_usd"
            label="Cost per day (USD)"
            value={props.values.cost_per_day_usd}
            error={props.errors.cost_per_day_usd}
            inputmode="decimal"
            hint={`USER_COST_PER_DAY_USD: ${globalCost}`}
          />
        </div>
        <div class="form-actions">
          <button type="submit" class="primary">
            Save limits
          </button>
        </div>
      </form>
    </Layout>
  );
}
