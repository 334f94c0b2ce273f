import { randomBytes } from "node:crypto";
import { TelegramError } from "gramio";
import { ROUNDS_RANGE } from "../../config";
import { DEBATE_FORMATS, DEFAULT_DEBATE_FORMAT, type DebateFormat } from "../../debate/debate-formats";
import type { SetupAction } from "../callback-data";
import type { SetupSummary } from "../i18n/texts";
import { menuKeyboard, type SetupView, setupKeyboard } from "../keyboards";
import type { FeatureContext, FeatureDeps } from "./feature-context";
import { launchDebate } from "./new-debate";

/**
 * A debate being set up: the topic is in, the rest has defaults until the user changes them on the
 * card's inline keyboard. Kept in coordination per chat and card (the card's buttons name it), so
 * every instance sees the same and an abandoned one expires.
 */
interface DebateSetup {
  id: string;
  /** Telegram id of the user who gave the topic: only they set it up. */
  owner: number;
  topic: string;
  format: DebateFormat;
  rounds: number;
  verdict: boolean;
  /** Provider ids ticked; null: the defaults (every provider that can take part). */
  providers: number[] | null;
}

export const SETUP_TTL_MS = 30 * 60_000;
const setupKey = (chatId: number, id: string) => `bot:setup:${chatId}:${id}`;

const save = (deps: FeatureDeps, chatId: number, setup: DebateSetup) =>
  deps.coordination.setValue(setupKey(chatId, setup.id), JSON.stringify(setup), SETUP_TTL_MS);

async function load(deps: FeatureDeps, chatId: number, id: string): Promise<DebateSetup | null> {
  const raw = await deps.coordination.getValue(setupKey(chatId, id));
  return raw === null ? null : (JSON.parse(raw) as DebateSetup);
}

/** The providers that can take part now, in speaking order. */
async function readyProviders(deps: FeatureDeps) {
  const { providers } = await deps.debate.preflight();
  return providers.filter((provider) => provider.problem === null);
}

/** The ready providers, each ticked or not for this setup. */
const choicesOf = (setup: DebateSetup, ready: { id: number; name: string }[]) =>
  ready.map((provider) => ({
    id: provider.id,
    name: provider.name,
    chosen: setup.providers === null || setup.providers.includes(provider.id),
  }));

function viewOf(setup: DebateSetup, ready: { id: number; name: string }[]): SetupView & SetupSummary {
  const providers = choicesOf(setup, ready);
  return {
    id: setup.id,
    topic: setup.topic,
    format: setup.format,
    rounds: setup.rounds,
    verdict: setup.verdict,
    providers,
    participants: providers.filter((provider) => provider.chosen).map((provider) => provider.name),
  };
}

/**
 * The topic arrived: shows the card with the defaults. One tap on «Start» starts the debate; «Customize»
 * opens the format, rounds, participants and verdict.
 */
export async function offerSetup(deps: FeatureDeps, context: FeatureContext, topic: string) {
  const [settings, preflight] = await Promise.all([deps.settings.getAll(), deps.debate.preflight()]);
  if (!preflight.ready) {
    await context.reply(context.texts.modelsNotConfigured, menuKeyboard(context.language));
    return;
  }
  const setup: DebateSetup = {
    id: randomBytes(6).toString("base64url"),
    owner: context.telegramUserId,
    topic,
    format: DEFAULT_DEBATE_FORMAT,
    rounds: settings.MAX_ROUNDS,
    verdict: true,
    providers: null,
  };
  await save(deps, context.chatId, setup);
  const view = viewOf(setup, await readyProviders(deps));
  await context.reply(
    context.texts.setupCard(view),
    setupKeyboard(context.language, view, false, settings.MAX_ROUNDS),
  );
}

/** A button of a setup card: changes the setup and redraws the card, or starts the debate. */
export async function pressSetupButton(
  deps: FeatureDeps,
  context: FeatureContext,
  messageId: number,
  pressed: { setup: string; action: SetupAction; value: number },
): Promise<string | undefined> {
  const setup = await load(deps, context.chatId, pressed.setup);
  if (!setup) return context.texts.setupExpired;
  if (setup.owner !== context.telegramUserId) return context.texts.setupNotYours;
  const [ready, { MAX_ROUNDS }] = await Promise.all([readyProviders(deps), deps.settings.getAll()]);
  const choices = choicesOf(setup, ready);
  const redraw = async (open: boolean) => {
    const view = viewOf(setup, ready);
    await deps.sender
      .call(
        context.chatId,
        "editMessageText",
        {
          chat_id: context.chatId,
          message_id: messageId,
          text: open ? context.texts.setupOptions(view) : context.texts.setupCard(view),
          ...(open ? { reply_markup: setupKeyboard(context.language, view, true, MAX_ROUNDS) } : {}),
        },
        { priority: "reply" },
      )
      .catch((error: unknown) => {
        // A double tap redraws what is already shown: nothing to change is not a failure.
        if (!(error instanceof TelegramError && /message is not modified/i.test(error.message))) throw error;
      });
  };
  switch (pressed.action) {
    case "start": {
      // Taken once, across instances: a second tap finds nothing to start twice.
      const key = setupKey(context.chatId, setup.id);
      if (!(await deps.coordination.acquireLock(`${key}:started`, SETUP_TTL_MS))) {
        return context.texts.setupExpired;
      }
      await deps.coordination.deleteValue(key);
      // The card keeps its summary and loses its buttons.
      await redraw(false).catch((error: unknown) =>
        deps.logger.warn("setup card not updated", { chatId: context.chatId, error }),
      );
      await launchDebate(deps, context, {
        topic: setup.topic,
        maxRounds: setup.rounds,
        format: setup.format,
        verdict: setup.verdict,
        participants: setup.providers?.map((providerId) => ({ providerId })),
      });
      return undefined;
    }
    case "options":
      await redraw(true);
      return undefined;
    case "format": {
      const format = DEBATE_FORMATS[pressed.value];
      if (!format) return context.texts.buttonExpired;
      if (format === setup.format) return undefined;
      setup.format = format;
      break;
    }
    case "rounds": {
      const rounds = pressed.value;
      if (!Number.isInteger(rounds) || rounds < ROUNDS_RANGE.min || rounds > ROUNDS_RANGE.max) {
        return context.texts.buttonExpired;
      }
      if (rounds === setup.rounds) return undefined;
      setup.rounds = rounds;
      break;
    }
    case "participant": {
      const chosen = choices.filter((choice) => choice.chosen).map((choice) => choice.id);
      if (!choices.some((choice) => choice.id === pressed.value)) return context.texts.buttonExpired;
      const next = chosen.includes(pressed.value)
        ? chosen.filter((id) => id !== pressed.value)
        : choices.filter((choice) => choice.chosen || choice.id === pressed.value).map((choice) => choice.id);
      if (next.length < 2) return context.texts.setupTooFewParticipants;
      setup.providers = next;
      break;
    }
    case "verdict":
      setup.verdict = !setup.verdict;
      break;
  }
  await save(deps, context.chatId, setup);
  await redraw(true);
  return undefined;
}
