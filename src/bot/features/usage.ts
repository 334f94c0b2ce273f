import { menuKeyboard } from "../keyboards";
import type { FeatureContext, FeatureDeps } from "./feature-context";

/** /usage: today's debates and cost against the user's limits, and when they reset. */
export async function showUsage(deps: FeatureDeps, context: FeatureContext) {
  const day = await deps.users.today(context.userId);
  await context.reply(
    context.texts.usage({ ...day, resetsInMs: day.resetsAt.getTime() - deps.clock.now() }),
    menuKeyboard(context.language),
  );
}
