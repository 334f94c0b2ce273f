import { menuKeyboard } from "../keyboards";
import { awaitingTopicKey, type FeatureContext, type FeatureDeps } from "./feature-context";

/**
 * /stop: stops the chat's debate at once. In a group only the user who started it or a chat
 * administrator may. The confirmation with reason and totals is the closing line the outbox posts
 * after the rows written before the stop.
 */
export async function stopDebate(deps: FeatureDeps, context: FeatureContext) {
  await deps.coordination.deleteValue(awaitingTopicKey(context));
  const active = await deps.debate.activeSessionForChat(context.chatId);
  if (!active) {
    await context.reply(context.texts.nothingRunning, menuKeyboard(context.language));
    return;
  }
  const mayStop =
    context.isPrivate ||
    active.userId === context.userId ||
    (await deps.isChatAdmin(context.chatId, context.telegramUserId));
  if (!mayStop) {
    await context.reply(context.texts.stopNotAllowed);
    return;
  }
  await deps.debate.stopSession(active.id, "user");
  deps.outbox.kick(context.chatId);
}
