import { DebateError } from "../../debate/debate-errors";
import { INTERJECTION_MAX_LENGTH } from "../../debate/debate-service";
import type { FeatureContext, FeatureDeps } from "./feature-context";

/**
 * Text from the debate's user while it runs (in a group: the user who started it) is an
 * interjection: the core stores it before the next turn and the next speakers address it as the
 * moderator's question. Returns false when the text is not one (no running debate of theirs here).
 */
export async function interjectIfRunning(
  deps: FeatureDeps,
  context: FeatureContext,
  text: string,
): Promise<boolean> {
  const active = await deps.debate.activeSessionForChat(context.chatId);
  if (active?.status !== "running" || active.userId !== context.userId) return false;
  try {
    await deps.debate.interject(active.id, { content: text, by: "user", userId: context.userId });
    await context.reply(context.texts.interjectionTaken);
  } catch (error) {
    if (!(error instanceof DebateError)) throw error;
    switch (error.code) {
      case "rate_limited":
        await context.reply(context.texts.interjectionTooSoon);
        break;
      case "invalid_state":
        await context.reply(context.texts.interjectionNotRunning);
        break;
      case "invalid_content":
        await context.reply(context.texts.interjectionInvalid(INTERJECTION_MAX_LENGTH));
        break;
      default:
        throw error;
    }
  }
  return true;
}
