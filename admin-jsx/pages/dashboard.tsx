/** @jsxImportSource @kitajs/html */
/** Dashboard: what runs now, today's activity, and what each provider costs. */
import type { DailyActivity, ProviderUsage } from "../../src/catalog/admin-reports";
import type { SessionListItem } from "../../src/debate/debate-service";
import { BarChart, ColumnChart } from "../components/charts";
import { formatInt, formatTime, formatUsd, truncate } from "../components/format";
import { PreflightWarning, StatusBadge } from "../components/ui";
import { Layout, type PageContext } from "../layout";

function UsageTable({ rows }: { rows: ProviderUsage[] }): JSX.Element {
  if (rows.length === 0) return <p class="empty">No LLM calls in this period.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Provider</th>
            <th class="num">Calls</th>
            <th class="num">Tokens in</th>
            <th class="num hide-sm">Cached</th>
            <th class="num">Tokens out</th>
            <th class="num">Cost</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr>
              <td safe>{row.name}</td>
              <td class="num" safe>
                {formatInt(row.calls)}
              </td>
              <td class="num" safe>
                {formatInt(row.tokensIn)}
              </td>
              <td class="num hide-sm" safe>
                {formatInt(row.cachedTokens)}
              </td>
              <td class="num" safe>
                {formatInt(row.tokensOut)}
              </td>
              <td class="num" safe>
                {formatUsd(row.cost)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Debates and cost per day, tokens and cost by provider, over the last days. */
function RecentCharts({
  activity,
  usage,
}: {
  activity: DailyActivity[];
  usage: ProviderUsage[];
}): JSX.Element {
  const days = activity.length;
  const debates = activity.map((row) => ({
    label: row.day.slice(5),
    value: row.debates,
    text: `${formatInt(row.debates)} debate${row.debates === 1 ? "" : "s"}`,
  }));
  const costs = activity.map((row) => ({
    label: row.day.slice(5),
    value: Number(row.cost),
    text: formatUsd(row.cost),
  }));
  const totalDebates = activity.reduce((sum, row) => sum + row.debates, 0);
  const maxDebates = Math.max(0, ...activity.map((row) => row.debates));
  const maxCost = activity.reduce((best, row) => (Number(row.cost) > Number(best) ? row.cost : best), "0");
  const tokens = usage.map((row) => ({
    label: row.name,
    value: row.tokensIn + row.tokensOut,
    text: `${formatInt(row.tokensIn + row.tokensOut)} tokens`,
  }));
  const providerCosts = usage.map((row) => ({
    label: row.name,
    value: Number(row.cost),
    text: formatUsd(row.cost),
  }));
  return (
    <div class="card">
      <h2 safe>{`Last ${days} days`}</h2>
      <div class="chart-grid">
        <figure>
          <ColumnChart
            id="chart-debates"
            title={`Debates per day, last ${days} days`}
            summary={`${totalDebates} debates in ${days} days; at most ${maxDebates} in a day.`}
            points={debates}
            maxText={formatInt(maxDebates)}
          />
          <figcaption safe>{`Debates per day · ${formatInt(totalDebates)} in all`}</figcaption>
        </figure>
        <figure>
          <ColumnChart
            id="chart-cost"
            title={`Cost per day, last ${days} days`}
            summary={`At most ${formatUsd(maxCost)} in a day.`}
            points={costs}
            maxText={formatUsd(maxCost)}
          />
          <figcaption>Cost per day (USD)</figcaption>
        </figure>
        {usage.length === 0 ? (
          <p class="empty">No LLM calls in this period.</p>
        ) : (
          <>
            <figure>
              <BarChart
                id="chart-provider-tokens"
                title={`Tokens by provider, last ${days} days`}
                summary={tokens.map((point) => `${point.label}: ${point.text}`).join("; ")}
                points={tokens}
              />
              <figcaption>Tokens by provider (in + out)</figcaption>
            </figure>
            <figure>
              <BarChart
                id="chart-provider-cost"
                title={`Cost by provider, last ${days} days`}
                summary={providerCosts.map((point) => `${point.label}: ${point.text}`).join("; ")}
                points={providerCosts}
              />
              <figcaption>Cost by provider (USD)</figcaption>
            </figure>
          </>
        )}
      </div>
    </div>
  );
}

export function DashboardPage(props: {
  context: PageContext;
  running: SessionListItem[];
  runningTotal: number;
  today: { total: number; finished: number; stopped: number; failed: number };
  todayCost: string;
  usageToday: ProviderUsage[];
  usageAllTime: ProviderUsage[];
  /** One row per day, oldest first. */
  activity: DailyActivity[];
  /** Usage by provider over the same days. */
  usageRecent: ProviderUsage[];
  enabledProviders: number;
  /** What keeps debates from starting (the preflight), or null. */
  preflightProblem: string | null;
}): JSX.Element {
  return (
    <Layout title="Dashboard" active="dashboard" context={props.context}>
      <div class="page-head">
        <div>
          <h1>Dashboard</h1>
          <p class="subtitle">Today is counted from 00:00 UTC.</p>
        </div>
        <a class="button primary" href="/admin/sessions">
          Start a debate
        </a>
      </div>
      <PreflightWarning problem={props.preflightProblem} />
      <div class="grid">
        <div class="stat">
          <div class="stat-label">Running now</div>
          <div class="stat-value" id="stat-running" safe>
            {formatInt(props.runningTotal)}
          </div>
        </div>
        <div class="stat">
          <div class="stat-label">Debates today</div>
          <div class="stat-value" id="stat-today" safe>
            {formatInt(props.today.total)}
          </div>
          <div class="muted small" safe>
            {`${props.today.finished} finished · ${props.today.stopped} stopped · ${props.today.failed} failed`}
          </div>
        </div>
        <div class="stat">
          <div class="stat-label">Cost today</div>
          <div class="stat-value" safe>
            {formatUsd(props.todayCost)}
          </div>
        </div>
        <div class="stat">
          <div class="stat-label">Enabled providers</div>
          <div class="stat-value" safe>
            {formatInt(props.enabledProviders)}
          </div>
          {props.preflightProblem ? (
            <div class="small text-danger">A debate needs at least two with an API key.</div>
          ) : (
            <div class="muted small">
              <a href="/admin/providers">Manage providers</a>
            </div>
          )}
        </div>
      </div>

      <div class="card">
        <h2>Running debates</h2>
        {props.running.length === 0 ? (
          <p class="empty">Nothing is running.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Topic</th>
                  <th>Status</th>
                  <th class="num">Rounds</th>
                  <th class="num">Cost</th>
                  <th class="hide-sm">Started</th>
                </tr>
              </thead>
              <tbody>
                {props.running.map((session) => (
                  <tr>
                    <td class="topic-cell">
                      <a href={`/admin/sessions/${session.id}`} safe>
                        {truncate(session.topic, 120)}
                      </a>
                    </td>
                    <td>
                      <StatusBadge status={session.status} />
                    </td>
                    <td class="num" safe>{`${session.currentRound}/${session.maxRounds}`}</td>
                    <td class="num" safe>
                      {formatUsd(session.totals.cost)}
                    </td>
                    <td class="hide-sm small" safe>
                      {formatTime(session.startedAt)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>

      <RecentCharts activity={props.activity} usage={props.usageRecent} />

      <div class="card">
        <h2>Usage by provider today</h2>
        <UsageTable rows={props.usageToday} />
      </div>
      <div class="card">
        <h2>Usage by provider, all time</h2>
        <UsageTable rows={props.usageAllTime} />
      </div>
    </Layout>
  );
}
