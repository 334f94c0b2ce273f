import { menuKeyboard } from "../keyboards";
import type { FeatureContext, FeatureDeps } from "./feature-context";

/**
 * Sends a debate's transcript (the core's Markdown export: topic, participants, every turn, the
 * verdict and totals) as a document. Without a session: the chat's last debate (/export).
 * Returns false when the chat has had no debate.
 */
export async function sendTranscript(
  deps: FeatureDeps,
  context: FeatureContext,
  sessionId?: string,
): Promise<boolean> {
  const id = sessionId ?? (await deps.outbox.lastSession(context.chatId));
  if (!id) {
    await context.reply(context.texts.nothingToExport, menuKeyboard(context.language));
    return false;
  }
  const [file, session] = await Promise.all([
    deps.debate.exportSession(id, "md"),
    deps.debate.getSessionRow(id),
  ]);
  await deps.sender.call(
    context.chatId,
    "sendDocument",
    {
      chat_id: context.chatId,
      document: new File([file.body], file.filename, { type: file.contentType }),
      caption: context.texts.exportCaption(session.topic),
    },
    { priority: "reply" },
  );
  return true;
}
