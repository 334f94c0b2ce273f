import { InlineKeyboard, Keyboard } from "@gramio/keyboards";
import { ROUNDS_RANGE } from "../config";
import { DEBATE_FORMATS, type DebateFormat } from "../debate/debate-formats";
import { type EndAction, endButton, type SetupAction, setupButton } from "./callback-data";
import { type BotLanguage, TEXTS } from "./i18n/texts";

/** The reply-keyboard menu: new discussion, stop, my usage, thank the creator. */
export function menuKeyboard(language: BotLanguage) {
  const { buttons } = TEXTS[language];
  return new Keyboard()
    .text(buttons.new)
    .row()
    .text(buttons.stop)
    .row()
    .text(buttons.usage)
    .row()
    .text(buttons.donate)
    .resized()
    .build();
}

/** One inline URL button. */
export function urlKeyboard(label: string, url: string) {
  return new InlineKeyboard().url(label, url).build();
}

/** What the setup card shows and its buttons change (see features/debate-setup.ts). */
export interface SetupView {
  id: string;
  format: DebateFormat;
  rounds: number;
  verdict: boolean;
  /** Providers that can take part, in speaking order, and whether each is ticked. */
  providers: { id: number; name: string; chosen: boolean }[];
}

/** Round counts offered on the card, besides the current one and the operator's default. */
const ROUND_PRESETS = [1, 2, 3, 5, 10];

const ticked = (on: boolean, label: string) => (on ? `✓ ${label}` : label);

/**
 * The setup card's keyboard: closed, one tap starts (or opens the options); open, the formats,
 * round counts, participants and verdict toggle, then start.
 */
export function setupKeyboard(language: BotLanguage, view: SetupView, open: boolean, defaultRounds: number) {
  const texts = TEXTS[language];
  const data = (action: SetupAction, value?: number) =>
    setupButton.pack({ setup: view.id, action, ...(value === undefined ? {} : { value }) });
  const keyboard = new InlineKeyboard();
  if (!open) {
    return keyboard
      .text(texts.setupButtons.start, data("start"))
      .text(texts.setupButtons.options, data("options"))
      .build();
  }
  DEBATE_FORMATS.forEach((format, index) => {
    keyboard.text(ticked(view.format === format, texts.formats[format].name), data("format", index));
    if (index % 2 === 1) keyboard.row();
  });
  const rounds = [...new Set([...ROUND_PRESETS, defaultRounds, view.rounds])]
    .filter((count) => count >= ROUNDS_RANGE.min && count <= ROUNDS_RANGE.max)
    .sort((a, b) => a - b);
  for (const count of rounds)
    keyboard.text(ticked(view.rounds === count, String(count)), data("rounds", count));
  keyboard.row();
  view.providers.forEach((provider, index) => {
    keyboard.text(ticked(provider.chosen, provider.name), data("participant", provider.id));
    if (index % 3 === 2) keyboard.row();
  });
  return keyboard
    .row()
    .text(texts.setupButtons.verdict(view.verdict), data("verdict"))
    .row()
    .text(texts.setupButtons.start, data("start"))
    .build();
}

/** Under the closing line: one more round, the verdict (when there is none yet), export, new discussion. */
export function endKeyboard(language: BotLanguage, sessionId: string, options: { verdict: boolean }) {
  const { endButtons } = TEXTS[language];
  const data = (action: EndAction) => endButton.pack({ session: sessionId, action });
  const keyboard = new InlineKeyboard().text(endButtons.more, data("more"));
  if (options.verdict) keyboard.text(endButtons.verdict, data("verdict"));
  return keyboard.row().text(endButtons.export, data("export")).text(endButtons.new, data("new")).build();
}
