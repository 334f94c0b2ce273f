import { type Clock, systemClock } from "../platform/clock";
import type { Coordination } from "../platform/coordination";
import type { Db } from "../platform/db";
import type { Logger } from "../platform/logger";
import type { SecretBox } from "../platform/secret-box";
import type { SettingsService } from "../settings/settings-service";
import { createDailyBudgetSource } from "./daily-budget";
import { createDebateEventBus, type DebateEventBus } from "./debate-events";
import type { DebateObserver } from "./debate-observer";
import { createDebateService, type DebateService } from "./debate-service";
import { type ChatModelOptions, createModelFactory } from "./model-factory";
import { createProviderCache } from "./provider-cache";
import { createScheduler, type Scheduler, type SchedulerOptions } from "./scheduler";
import { createSessionReader } from "./session-reader";
import { createSessionStore } from "./session-store";
import { createTurnRunner } from "./turn-runner";
import { createModeratorSource } from "./verdict";

/** The debate core as the doors see it. */
export interface DebateEngine {
  events: DebateEventBus;
  debate: DebateService;
  scheduler: Scheduler;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Wires the core: the session store (the one writer and event source) over the reader; the turn
 * runner and the scheduler on the store; the service the doors use on both. Dependencies point one
 * way: service → scheduler → runner → store → reader. No framework, no door.
 */
export function createDebateEngine(deps: {
  db: Db;
  coordination: Coordination;
  settings: SettingsService;
  secretBox: SecretBox;
  logger: Logger;
  scheduler?: SchedulerOptions;
  models?: ChatModelOptions;
  deltaIntervalMs?: number;
  /** How often a running public debate reads the day's spend again. Default 5 s. */
  budgetRefreshMs?: number;
  /** Time of the scheduler and of the daily limits' UTC day. */
  clock?: Clock;
  /** Told of LLM calls, turns and scheduling (metrics). */
  observer?: DebateObserver;
}): DebateEngine {
  const logger = deps.logger.child({ component: "debate" });
  const clock = deps.clock ?? systemClock;
  const events = createDebateEventBus({ coordination: deps.coordination, logger });
  const providers = createProviderCache(deps.db);
  const reader = createSessionReader(deps.db);
  const store = createSessionStore({ db: deps.db, reader, events, logger, now: () => clock.now() });
  const runner = createTurnRunner({
    reader,
    store,
    providers,
    logger,
    modelFor: createModelFactory({ secretBox: deps.secretBox, options: deps.models }),
    deltaIntervalMs: deps.deltaIntervalMs,
    observer: deps.observer,
    events,
    moderator: createModeratorSource({
      db: deps.db,
      settings: deps.settings,
      secretBox: deps.secretBox,
      logger,
    }),
    budgets: createDailyBudgetSource({
      db: deps.db,
      settings: deps.settings,
      clock,
      refreshMs: deps.budgetRefreshMs,
    }),
  });
  const scheduler = createScheduler({
    reader,
    store,
    coordination: deps.coordination,
    events,
    runner,
    logger,
    options: deps.scheduler,
    clock,
    observer: deps.observer,
  });
  const debate = createDebateService({
    db: deps.db,
    store,
    reader,
    settings: deps.settings,
    waker: scheduler,
    secretBox: deps.secretBox,
    clock,
  });
  return {
    events,
    debate,
    scheduler,
    async start() {
      await events.start();
      await providers.start();
      await scheduler.start();
    },
    async stop() {
      await scheduler.stop();
      await providers.stop();
      await events.stop();
    },
  };
}
