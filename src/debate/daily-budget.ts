import { inArray } from "drizzle-orm";
import type { Session } from "../db/schema";
import { isPublicSource, users } from "../db/schema";
import { addCostUsd, subtractCostUsd } from "../llm/pricing";
import { createBatcher } from "../platform/batcher";
import type { Clock } from "../platform/clock";
import type { Db } from "../platform/db";
import type { SettingsService } from "../settings/settings-service";
import { botCostSince, isLimited, NO_USAGE, userLimits, usersUsageSince, utcDay } from "./daily-usage";

/**
 * The daily budgets a running public debate must stay within: its user's USER_COST_PER_DAY_USD
 * (or their override) and the whole bot's BOT_COST_PER_DAY_USD, for the UTC day the debate was
 * created (the day its cost counts on).
 *
 * A run does not query the spend before every turn: it reads it when it loads, then adds its own
 * costs as it goes, and reads it again at most every `refreshMs` (in the background; the bot's
 * spend is read once per instance per interval, whatever the number of runs). So the overshoot of a
 * budget is bounded: what other debates spent in the last `refreshMs` that a run has not seen yet,
 * plus, for each debate running when the budget is crossed, the turn it was already paying for
 * (the check comes before each turn). Starting a debate checks the spend as stored, exactly.
 */

/** A budget and how much of it is spent, as the policy compares them (decimal strings). */
export interface DailyBudget {
  limit: "USER_COST_PER_DAY_USD" | "BOT_COST_PER_DAY_USD";
  limitUsd: string;
  spentUsd: string;
}

/** What a run asks before each turn: the budgets with its own costs so far counted in. */
export interface DailyBudgetTracker {
  current(ownCostUsd: string): DailyBudget[];
}

export interface DailyBudgetSource {
  /** Starts tracking a running session's budgets; none for sessions of the operator's doors. */
  track(session: Session, ownCostUsd: string): Promise<DailyBudgetTracker>;
}

const NO_BUDGETS: DailyBudgetTracker = { current: () => [] };

export function createDailyBudgetSource(deps: {
  db: Db;
  settings: SettingsService;
  clock: Clock;
  /** How often a run reads the spend again. Default 5 s. */
  refreshMs?: number;
}): DailyBudgetSource {
  const { db, settings, clock } = deps;
  const refreshMs = deps.refreshMs ?? 5_000;

  // Runs loading or refreshing together (a restart resuming every debate) share their queries.
  const userSpend = createBatcher(async (asks: { userId: number; since: number }[]) => {
    const ids = [...new Set(asks.map((ask) => ask.userId))];
    const byDay = Map.groupBy(asks, (ask) => ask.since);
    const rows = await db.select().from(users).where(inArray(users.id, ids));
    const usage = new Map<string, string>();
    for (const [since, group] of byDay) {
      const found = await usersUsageSince(
        db,
        group.map((ask) => ask.userId),
        new Date(since),
      );
      for (const ask of group) usage.set(`${ask.userId}:${since}`, (found.get(ask.userId) ?? NO_USAGE).cost);
    }
    return asks.map((ask) => ({
      user: rows.find((row) => row.id === ask.userId),
      spent: usage.get(`${ask.userId}:${ask.since}`) ?? NO_USAGE.cost,
    }));
  });

  const botSpend = new Map<number, { at: number; spent: Promise<string> }>();
  const botSpentSince = (since: number) => {
    const cached = botSpend.get(since);
    if (cached && clock.now() - cached.at < refreshMs) return cached.spent;
    const spent = botCostSince(db, new Date(since));
    // One entry per day asked about (today, and yesterday for debates running past midnight).
    if (botSpend.size > 4) botSpend.clear();
    botSpend.set(since, { at: clock.now(), spent });
    spent.catch(() => botSpend.delete(since));
    return spent;
  };

  const read = async (session: Session & { userId: number }): Promise<DailyBudget[]> => {
    const since = utcDay(session.createdAt.getTime()).start.getTime();
    const [current, { user, spent }] = await Promise.all([
      settings.getAll(),
      userSpend({ userId: session.userId, since }),
    ]);
    const budgets: DailyBudget[] = [];
    const { costPerDayUsd } = userLimits(user, current);
    if (isLimited(costPerDayUsd)) {
      budgets.push({ limit: "USER_COST_PER_DAY_USD", limitUsd: costPerDayUsd, spentUsd: spent });
    }
    if (isLimited(current.BOT_COST_PER_DAY_USD)) {
      budgets.push({
        limit: "BOT_COST_PER_DAY_USD",
        limitUsd: current.BOT_COST_PER_DAY_USD,
        spentUsd: await botSpentSince(since),
      });
    }
    return budgets;
  };

  return {
    async track(session, ownCostUsd) {
      const { userId } = session;
      if (!isPublicSource(session.source) || userId === null) return NO_BUDGETS;
      const gated = { ...session, userId };
      let budgets = await read(gated);
      // The run's own cost when the budgets were read: what it spends after that is added to them.
      let ownAtRead = ownCostUsd;
      let readAt = clock.now();
      let refreshing = false;
      return {
        current(ownNow) {
          if (!refreshing && clock.now() - readAt >= refreshMs) {
            refreshing = true;
            const ownThen = ownNow;
            read(gated)
              .then((fresh) => {
                budgets = fresh;
                ownAtRead = ownThen;
                readAt = clock.now();
              })
              // A failed read keeps the last budgets; the next turn asks again.
              .catch(() => {})
              .finally(() => {
                refreshing = false;
              });
          }
          const since = subtractCostUsd(ownNow, ownAtRead);
          return budgets.map((budget) => ({ ...budget, spentUsd: addCostUsd(budget.spentUsd, since) }));
        },
      };
    },
  };
}
