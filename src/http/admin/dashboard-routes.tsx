/** @jsxImportSource @kitajs/html */
import { DashboardPage } from "../../../admin-jsx/pages/dashboard";
import { type ReportsService, startOfUtcDay } from "../../catalog/admin-reports";
import type { ProviderService } from "../../catalog/provider-service";
import type { DebateService } from "../../debate/debate-service";
import { addCostUsd, ZERO_COST_USD } from "../../llm/pricing";
import type { AdminKit, Authed } from "./admin-kit";

export interface DashboardRoutesDeps {
  kit: AdminKit;
  debate: DebateService;
  reports: ReportsService;
  providers: ProviderService;
}

/** Days of the dashboard's charts. */
const CHART_DAYS = 30;

/** The dashboard at `/admin`: what runs now, today's activity, usage by provider. */
export function createDashboardRoutes(deps: DashboardRoutesDeps) {
  const { kit, debate, reports, providers } = deps;

  const dashboard = async ({ authed }: { authed: Authed }) => {
    const now = new Date();
    const today = startOfUtcDay(now);
    const [running, counts, usageToday, usageAllTime, usageRecent, activity, providerList, preflight] =
      await Promise.all([
        debate.listSessions({ status: "running", limit: 20, offset: 0 }),
        reports.sessionCounts({ since: today }),
        reports.usageByProvider({ since: today }),
        reports.usageByProvider(),
        reports.usageByProvider({ since: startOfUtcDay(now, CHART_DAYS - 1) }),
        reports.dailyActivity({ days: CHART_DAYS, now }),
        providers.list(),
        debate.preflight(),
      ]);
    return (
      <DashboardPage
        context={authed.page}
        running={running.items}
        runningTotal={running.total}
        today={{
          total: counts.total,
          finished: counts.byStatus.finished ?? 0,
          stopped: counts.byStatus.stopped ?? 0,
          failed: counts.byStatus.failed ?? 0,
        }}
        todayCost={usageToday.reduce((sum, row) => addCostUsd(sum, row.cost), ZERO_COST_USD)}
        usageToday={usageToday}
        usageAllTime={usageAllTime}
        usageRecent={usageRecent}
        activity={activity}
        enabledProviders={providerList.filter((provider) => provider.enabled).length}
        preflightProblem={preflight.problem}
      />
    );
  };

  return kit.feature().get("", dashboard, { page: true }).get("/", dashboard, { page: true });
}
