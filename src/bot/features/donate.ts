import { menuKeyboard, urlKeyboard } from "../keyboards";
import type { FeatureContext, FeatureDeps } from "./feature-context";

/** /donate: an inline URL button to the current PAYMENT_URL, read on every call (no restart needed). */
export async function donateFeature(deps: FeatureDeps, context: FeatureContext) {
  const { PAYMENT_URL } = await deps.settings.getAll();
  if (!PAYMENT_URL) {
    await context.reply(context.texts.donateUnavailable, menuKeyboard(context.language));
    return;
  }
  await context.reply(context.texts.donate, urlKeyboard(context.texts.donateButton, PAYMENT_URL));
}
