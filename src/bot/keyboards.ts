import { InlineKeyboard, Keyboard } from "@gramio/keyboards";
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
