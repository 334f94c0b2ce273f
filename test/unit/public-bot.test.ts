/**
 * The public bot's pure parts, without services: the UTC day, the daily budget as a stop condition
 * of the policy, the cost estimate, the spam guard, and how the bot words a daily budget's stop.
 */
import { describe, expect, test } from "bun:test";
import { createSpamGuard } from "../../src/bot/features/spam-guard";
import { closingReason, formatCostRough, TEXTS } from "../../src/bot/i18n/texts";
import type { Session, SessionParticipant } from "../../src/db/schema";
import { estimateDebateCost } from "../../src/debate/cost-estimate";
import { utcDay } from "../../src/debate/daily-usage";
import { type DebateState, planTurn } from "../../src/debate/debate-policy";
import { dailyBudgetStopDetail } from "../../src/debate/stop-conditions";
import type { ProviderParams } from "../../src/llm/chat-model";
import { createManualClock } from "../helpers/manual-clock";

describe("the UTC day", () => {
  test("starts at 00:00 UTC and resets at the next midnight, whatever the hour", () => {
    const late = Date.UTC(2026, 11, 1, 23, 59, 59, 999);
    expect(utcDay(late).start.toISOString()).toBe("2026-12-01T00:00:00.000Z");
    expect(utcDay(late).resetsAt.toISOString()).toBe("2026-12-02T00:00:00.000Z");
    expect(utcDay(late + 1).start.toISOString()).toBe("2026-12-02T00:00:00.000Z");
  });
});

const session = {
  id: "7d0c5a56-2f1e-4a57-9a3e-5b8f1c2d4e6f",
  status: "running",
  currentRound: 1,
  maxRounds: 5,
  nextOrderIndex: 0,
  startedAt: new Date(Date.UTC(2026, 11, 1, 12)),
  language: "en",
} as Session;
const participant = (id: number, orderIndex: number) =>
  ({
    id,
    orderIndex,
    status: "active",
    displayName: `P${id}`,
    consecutiveTimeouts: 0,
    loopStrikes: 0,
  }) as SessionParticipant;

function state(dailyBudgets: DebateState["dailyBudgets"]): DebateState {
  return {
    session,
    limits: {
      turnTimeoutSec: 60,
      sessionTimeoutSec: 1800,
      tokenLimit: 1_000_000,
      costLimitUsd: "100",
      contextTokenLimit: 6000,
    },
    participants: [participant(1, 0), participant(2, 1)],
    messages: [],
    totals: { tokensIn: 0, tokensOut: 0, cachedTokens: 0, cost: "0.00000000" },
    dailyBudgets,
  };
}

describe("a daily budget in the policy", () => {
  const now = Date.UTC(2026, 11, 1, 12, 1);

  test("a budget reached ends the debate with cost_limit, the detail naming which budget", () => {
    const plan = planTurn(
      state([
        { limit: "USER_COST_PER_DAY_USD", limitUsd: "0.5", spentUsd: "0.10000000" },
        { limit: "BOT_COST_PER_DAY_USD", limitUsd: "20", spentUsd: "20.00000000" },
      ]),
      now,
    );
    expect(plan).toEqual({
      kind: "end",
      step: {
        messages: [],
        end: {
          status: "stopped",
          reason: "cost_limit",
          detail: dailyBudgetStopDetail("BOT_COST_PER_DAY_USD"),
        },
      },
    });
  });

  test("under every budget, or with no limit (0), the debate goes on", () => {
    expect(
      planTurn(state([{ limit: "USER_COST_PER_DAY_USD", limitUsd: "0.5", spentUsd: "0.49999999" }]), now)
        .kind,
    ).toBe("speak");
    expect(
      planTurn(state([{ limit: "BOT_COST_PER_DAY_USD", limitUsd: "0", spentUsd: "99" }]), now).kind,
    ).toBe("speak");
    expect(planTurn(state(undefined), now).kind).toBe("speak");
  });

  test("the bot tells a daily budget apart from the session's own cost limit", () => {
    const stopped = (stopDetail: string | null) => ({ stopReason: "cost_limit" as const, stopDetail });
    expect(closingReason(stopped(dailyBudgetStopDetail("USER_COST_PER_DAY_USD")))).toBe("daily_user_budget");
    expect(closingReason(stopped(dailyBudgetStopDetail("BOT_COST_PER_DAY_USD")))).toBe("daily_bot_budget");
    expect(closingReason(stopped(null))).toBe("cost_limit");
    const totals = { tokensIn: 1, tokensOut: 1, cachedTokens: 0, cost: "0.1" };
    expect(TEXTS.en.closing("daily_bot_budget", 2, 5, totals)).toContain("the bot's daily budget is used up");
    expect(TEXTS.ru.closing("daily_user_budget", 2, 5, totals)).toContain("исчерпан ваш дневной лимит");
  });
});

describe("the cost estimate", () => {
  const chatGpt = {
    max_tokens: 700,
    price_input_per_1m: 0.15,
    price_cached_input_per_1m: 0.075,
    price_output_per_1m: 0.6,
  };
  const deepSeek = {
    max_tokens: 700,
    price_input_per_1m: 0.28,
    price_cached_input_per_1m: 0.028,
    price_output_per_1m: 0.42,
  };
  const estimate = (
    rounds: number,
    contextTokenLimit = 6000,
    participants: ProviderParams[] = [chatGpt, deepSeek],
  ) => estimateDebateCost({ participants, rounds, contextTokenLimit, topicTokens: 12 });

  test("is a range from the prices: low below high, both growing with the rounds", () => {
    const two = estimate(2);
    const five = estimate(5);
    expect(Number(two.lowUsd)).toBeGreaterThan(0);
    expect(Number(two.lowUsd)).toBeLessThan(Number(two.highUsd));
    expect(Number(five.lowUsd)).toBeGreaterThan(Number(two.lowUsd));
    expect(Number(five.highUsd)).toBeGreaterThan(Number(two.highUsd));
    // High: 10 answers of 700 tokens at the output prices alone is a floor of it.
    expect(Number(five.highUsd)).toBeGreaterThan(5 * 700 * (0.6 + 0.42) * 1e-6);
  });

  test("the context limit caps each prompt, so a smaller limit costs less", () => {
    expect(Number(estimate(20, 1000).highUsd)).toBeLessThan(Number(estimate(20, 100_000).highUsd));
  });

  test("free models cost nothing, and the announcement then leaves the line out", () => {
    const free = estimate(5, 6000, [{}, {}]);
    expect(free).toEqual({ lowUsd: "0.00000000", highUsd: "0.00000000" });
    expect(TEXTS.en.announce("T", [], 5, free)).not.toContain("Expected cost");
    const paid = estimate(5);
    expect(TEXTS.en.announce("T", [], 5, paid)).toContain(
      `Expected cost: ${formatCostRough(paid.lowUsd)}–${formatCostRough(paid.highUsd)}.`,
    );
  });

  test("rounded for people: cents above one cent, two significant digits below", () => {
    expect(formatCostRough("0.12345678")).toBe("$0.12");
    expect(formatCostRough("0.00123456")).toBe("$0.0012");
    expect(formatCostRough("0")).toBe("$0");
  });
});

describe("the spam guard", () => {
  test("20 messages a minute pass; the 21st gets the one notice, the rest are dropped until the minute is over", async () => {
    const clock = createManualClock();
    const guard = createSpamGuard({ clock });
    const verdicts = Array.from({ length: 25 }, () => guard.admit(42));
    expect(verdicts.filter((verdict) => verdict === "handle")).toHaveLength(20);
    expect(verdicts[20]).toBe("notify");
    expect(verdicts.slice(21)).toEqual(["drop", "drop", "drop", "drop"]);
    // Someone else is not affected.
    expect(guard.admit(43)).toBe("handle");
    await clock.advance(60_000);
    expect(guard.admit(42)).toBe("handle");
  });

  test("is bounded: beyond its size the users seen least recently are forgotten", () => {
    const guard = createSpamGuard({ clock: createManualClock(), limit: 1, maxUsers: 3 });
    expect(guard.admit(1)).toBe("handle");
    expect(guard.admit(1)).toBe("notify");
    for (const user of [2, 3, 4]) guard.admit(user);
    // User 1 fell out of the 3 remembered: counted afresh.
    expect(guard.admit(1)).toBe("handle");
  });
});
