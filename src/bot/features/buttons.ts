import { CallbackData } from "gramio";
import type { FeatureContext, FeatureDeps } from "./feature-context";
import { askTopic } from "./new-debate";

/** What the buttons under a debate's closing line do. */
export const END_ACTIONS = ["more", "verdict", "export", "new"] as const;
export type EndAction = (typeof END_ACTIONS)[number];

/**
 * Inline buttons carry what they act on, packed by GramIO's CallbackData (well under Telegram's 64
 * bytes: a session's UUID and an action index). A button names its session, so one of an older
 * debate is told apart from the chat's current one.
 */
export const endButton = new CallbackData("end").string("session").enum("action", END_ACTIONS);

/**
 * A pressed inline button: acts, and returns what the callback answer says (a short notice), or
 * undefined for a silent answer. The caller answers every query, whatever happens here.
 */
export async function pressButton(
  deps: FeatureDeps,
  context: FeatureContext,
  data: string,
): Promise<string | undefined> {
  if (endButton.filter(data)) {
    const parsed = endButton.safeUnpack(data);
    if (parsed.success) return pressEndButton(deps, context, parsed.data.session, parsed.data.action);
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
    default:
      return context.texts.buttonExpired;
  }
}
