import { menuKeyboard } from "../keyboards";
import type { FeatureContext } from "./feature-context";

/** /start: greeting and the menu. */
export async function showStart(context: FeatureContext) {
  await context.reply(context.texts.greeting, menuKeyboard(context.language));
}

/** /help: the commands, with the menu. */
export async function showHelp(context: FeatureContext) {
  await context.reply(context.texts.help, menuKeyboard(context.language));
}

/** Unknown commands get a short help. */
export async function showUnknownCommand(context: FeatureContext) {
  await context.reply(context.texts.unknownCommand, menuKeyboard(context.language));
}
