import { DebateError } from "../../debate/debate-errors";
import { type EndAction, endButton, setupButton } from "../callback-data";
import { replyRefusal } from "./admission";
import { pressSetupButton } from "./debate-setup";
import { sendTranscript } from "./export";
import type { FeatureContext, FeatureDeps } from "./feature-context";
import { askTopic } from "./new-debate";

/**
 * A pressed inline button: acts, and returns what the callback answer says (a short notice), or
 * undefined for a silent answer. The caller answers every query, whatever happens here.
 */
export async function pressButton(
  deps: FeatureDeps,
  context: FeatureContext,
  data: string,
  messageId: number,
): Promise<string | undefined> {
  if (endButton.filter(data)) {
    const parsed = endButton.safeUnpack(data);
    if (parsed.success) return pressEndButton(deps, context, parsed.data.session, parsed.data.action);
  }
  if (setupButton.filter(data)) {
    const parsed = setupButton.safeUnpack(data);
    if (parsed.success) return pressSetupButton(deps, context, messageId, parsed.data);
  }
  return context.texts.buttonExpired;
}

async function pressEndButton(
  deps: FeatureDeps,
  context: FeatureContext,
  sessionId: string,
  action: EndAction,
): Promise<string | undefined> {
  // Only the chat's newest debate acts on its buttons; an older one's say so and do nothing.
  if ((await deps.outbox.lastSession(context.chatId)) !== sessionId) return context.texts.debateOver;
  switch (action) {
    case "new":
      await askTopic(deps, context);
      return undefined;
    case "export":
      await sendTranscript(deps, context, sessionId);
      return context.texts.exportSent;
    case "more":
    case "verdict":
      return steer(deps, context, sessionId, action);
  }
}

/** One more round or the verdict: they spend the starter's budget, so in a group they are the starter's call. */
async function steer(
  deps: FeatureDeps,
  context: FeatureContext,
  sessionId: string,
  action: "more" | "verdict",
): Promise<string | undefined> {
  const session = await deps.debate.getSessionRow(sessionId);
  const allowed =
    context.isPrivate ||
    session.userId === context.userId ||
    (await deps.isChatAdmin(context.chatId, context.telegramUserId));
  if (!allowed) return context.texts.onlyStarter;
  try {
    if (action === "more") {
      await deps.debate.continueSession(sessionId, 1);
      deps.outbox.kick(context.chatId);
      return context.texts.continuing;
    }
    await deps.debate.requestVerdict(sessionId);
    deps.outbox.kick(context.chatId);
    return context.texts.verdictRequested;
  } catch (error) {
    if (error instanceof DebateError && error.code === "invalid_state") {
      const now = await deps.debate.getSessionRow(sessionId);
      if (now.status === "running" || action === "more") return context.texts.stillRunning;
      // Asked for already and still being written, or written.
      return now.verdictRequestedAt ? context.texts.verdictRequested : context.texts.verdictExists;
    }
    // Limits still apply to one more round: the same answers as a refused new debate.
    if (await replyRefusal(deps, context, error)) return undefined;
    throw error;
  }
}
