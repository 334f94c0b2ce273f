import { Keyboard } from "@gramio/keyboards";
import { type CreateSessionInput, TOPIC_MAX_LENGTH } from "../../debate/debate-service";
import { menuKeyboard } from "../keyboards";
import { admitNewDebate, replyRefusal } from "./admission";
import { offerSetup } from "./debate-setup";
import {
  AWAITING_TOPIC_TTL_MS,
  awaitingTopicKey,
  type FeatureContext,
  type FeatureDeps,
} from "./feature-context";

/** In groups a force-reply lets the bot see the answer even with privacy mode on. */
const topicMarkup = (context: FeatureContext) =>
  context.isPrivate ? undefined : new Keyboard().forceReply().selective().build();

/** /new: asks for the topic, unless a debate may not start here now (then says why). */
export async function askTopic(deps: FeatureDeps, context: FeatureContext) {
  if (!(await admitNewDebate(deps, context))) return;
  await deps.coordination.setValue(awaitingTopicKey(context), "1", AWAITING_TOPIC_TTL_MS);
  await context.reply(context.texts.askTopic, topicMarkup(context));
}

/** True when this user was asked for a topic in this chat and has not answered yet. */
export async function isAwaitingTopic(deps: FeatureDeps, context: FeatureContext) {
  return (await deps.coordination.getValue(awaitingTopicKey(context))) !== null;
}

/** A non-text message while we wait for the topic. */
export async function rejectNonTextTopic(context: FeatureContext) {
  await context.reply(context.texts.topicNotText, topicMarkup(context));
}

/**
 * The topic arrived: validated, it is offered on the setup card (one tap starts the debate with the
 * defaults, or the user changes them first).
 */
export async function receiveTopic(deps: FeatureDeps, context: FeatureContext, raw: string) {
  const topic = raw.trim();
  if (topic.length === 0 || topic.length > TOPIC_MAX_LENGTH) {
    const problem =
      topic.length === 0
        ? context.texts.topicEmpty
        : context.texts.topicTooLong(topic.length, TOPIC_MAX_LENGTH);
    await deps.coordination.setValue(awaitingTopicKey(context), "1", AWAITING_TOPIC_TTL_MS);
    await context.reply(`${problem}\n${context.texts.askTopic}`, topicMarkup(context));
    return;
  }
  await deps.coordination.deleteValue(awaitingTopicKey(context));
  await offerSetup(deps, context, topic);
}

/** What the setup card decided; the rest (user, chat, language) comes from the context. */
export type DebateChoice = Pick<
  CreateSessionInput,
  "topic" | "maxRounds" | "format" | "verdict" | "participants"
>;

/**
 * Creates the session, announces participants, then starts it. The debate itself runs in the
 * engine; this returns as soon as it is started.
 */
export async function launchDebate(deps: FeatureDeps, context: FeatureContext, choice: DebateChoice) {
  // The previous debate may have ended while the user typed; its transcript may still be posting.
  if (await deps.outbox.hasUndelivered(context.chatId)) {
    await context.reply(context.texts.stillDelivering, menuKeyboard(context.language));
    return;
  }
  let created: Awaited<ReturnType<typeof deps.debate.createSession>>;
  try {
    // The core checks access and the daily limits again as it inserts the session, atomically.
    created = await deps.debate.createSession({
      ...choice,
      userId: context.userId,
      chatId: context.chatId,
      source: "telegram",
      language: context.language,
    });
  } catch (error) {
    if (await replyRefusal(deps, context, error)) return;
    throw error;
  }
  const { session, participants } = created;
  // Tracked before it starts: from its first turn on, the transcript is posted here.
  await deps.outbox.track(session.id, context.chatId);
  const estimate = await deps.debate.estimateCost(created).catch((error: unknown) => {
    deps.logger.warn("cost estimate failed", { session: session.id, error });
    return null;
  });
  // Queued, not awaited: under a flood the announcement waits its turn in this chat's line (ahead
  // of the transcript, which is queued after it), and the debate does not wait for it.
  const announced = context.reply(
    context.texts.announce(
      session.topic,
      participants.map((participant) => ({
        name: participant.displayName,
        persona: participant.personaTitle,
      })),
      session.maxRounds,
      estimate,
      session.format,
    ),
    menuKeyboard(context.language),
  );
  announced.catch((error: unknown) =>
    deps.logger.warn("announcement not sent", { session: session.id, chatId: context.chatId, error }),
  );
  try {
    await deps.debate.startSession(session.id);
  } catch (error) {
    deps.logger.error("could not start a telegram session", { session: session.id, error });
    // Ending it posts the closing line (reason "error") through the outbox.
    await deps.debate.stopSession(session.id, "error", "start failed").catch(() => {});
  }
}
