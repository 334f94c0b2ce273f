import type { DailyLimitName } from "../../debate/daily-usage";
import { DebateError } from "../../debate/debate-errors";
import { menuKeyboard } from "../keyboards";
import type { FeatureContext, FeatureDeps } from "./feature-context";

/** A blocked user hears it at most this often (and nothing else from the bot). */
const BLOCKED_NOTICE_INTERVAL_MS = 60 * 60_000;

/** Whether a blocked user is to be told now: once an hour across instances (a lease never released). */
export const tellBlockedNow = (deps: FeatureDeps, context: FeatureContext) =>
  deps.coordination.acquireLock(`bot:blocked-notice:${context.telegramUserId}`, BLOCKED_NOTICE_INTERVAL_MS);

/** Tells a blocked user so, at most once an hour. */
export async function refuseBlocked(deps: FeatureDeps, context: FeatureContext) {
  if (await tellBlockedNow(deps, context)) await context.reply(context.texts.blocked);
}

/**
 * Answers a debate the core refused to start with the one message that says why (chat busy, models
 * not configured, not allowed, blocked, a daily limit and when it resets). Returns false for any
 * other error, which the caller rethrows.
 */
export async function replyRefusal(deps: FeatureDeps, context: FeatureContext, error: unknown) {
  if (!(error instanceof DebateError)) return false;
  const { texts } = context;
  const details = error.details ?? {};
  const menu = menuKeyboard(context.language);
  switch (error.code) {
    case "chat_busy":
      await context.reply(texts.busy, menu);
      return true;
    case "not_enough_participants":
      await context.reply(texts.modelsNotConfigured, menu);
      return true;
    case "access_denied":
      if (details.reason === "blocked") await refuseBlocked(deps, context);
      else await context.reply(texts.notAllowed(context.telegramUserId), menu);
      return true;
    case "quota_exceeded": {
      const resetsInMs = Date.parse(String(details.resets_at)) - deps.clock.now();
      await context.reply(
        texts.quotaExceeded(details.limit as DailyLimitName, details.value as number | string, resetsInMs),
        menu,
      );
      return true;
    }
    default:
      return false;
  }
}

/**
 * Whether a new debate may start in this chat now, telling the user why not: one open debate per
 * chat, and the previous one fully posted (its turns no longer queue for delivery), then what the
 * core would refuse (models, access, daily limits).
 */
export async function admitNewDebate(deps: FeatureDeps, context: FeatureContext): Promise<boolean> {
  const menu = menuKeyboard(context.language);
  if (await deps.debate.activeSessionForChat(context.chatId)) {
    await context.reply(context.texts.busy, menu);
    return false;
  }
  if (await deps.outbox.hasUndelivered(context.chatId)) {
    await context.reply(context.texts.stillDelivering, menu);
    return false;
  }
  try {
    await deps.debate.checkAdmission({ userId: context.userId });
    return true;
  } catch (error) {
    if (await replyRefusal(deps, context, error)) return false;
    throw error;
  }
}
