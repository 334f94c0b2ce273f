/** @jsxImportSource @kitajs/html */
/** Dashboard: what runs now, today's activity, and what each provider costs. */
import type { ProviderUsage } from "../../src/catalog/admin-reports";
import type { SessionListItem } from "../../src/debate/debate-service";
import { formatInt, formatTime, formatUsd, truncate } from "../components/format";
import { StatusBadge } from "../components/ui";
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

export function DashboardPage(props: {
  context: PageContext;
  running: SessionListItem[];
  runningTotal: number;
  today: { total: number; finished: number; stopped: number; failed: number };
  todayCost: string;
  usageToday: ProviderUsage[];
  usageAllTime: ProviderUsage[];
  enabledProviders: number;
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
          {props.enabledProviders < 2 ? (
            <div class="small text-danger">A debate needs at least two.</div>
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
