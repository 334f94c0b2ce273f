import { eq, sql } from "drizzle-orm";
import { type Config, ConfigError } from "../config";
import type { ProviderParams } from "../llm/chat-model";
import { baseUrlRefusal } from "../llm/provider-url";
import type { Db } from "../platform/db";
import type { Logger } from "../platform/logger";
import type { SecretBox } from "../platform/secret-box";
import { personalities, providers, settings } from "./schema";

/** Arbitrary constant naming the seed advisory lock ("rt-seed"). */
const SEED_LOCK_ID = 0x7274736565;
/** Marks the database as seeded once: a provider the operator deletes is not brought back. */
const SEED_MARKER = "seed.version";
const SEED_VERSION = "1";

export const seedPersonalities = [
  {
    title: "Optimist",
    instructions:
      "You look for the opportunities and the best realistic outcome. Argue for what could work and why, and acknowledge risks briefly.",
    style: "Warm, energetic, concrete examples.",
  },
  {
    title: "Skeptic",
    instructions:
      "You question assumptions, ask for evidence and point out weak spots in the other arguments. Be fair: concede good points.",
    style: "Precise, calm, a little dry.",
  },
  {
    title: "Pragmatist",
    instructions:
      "You care about what can be done tomorrow: costs, trade-offs, first steps. Turn abstract arguments into practical proposals.",
    style: "Short sentences, lists when useful.",
  },
  {
    title: "Philosopher",
    instructions:
      "You step back to the underlying values and definitions, connect the topic to history and ideas, and ask the question behind the question.",
    style: "Thoughtful, uses analogies.",
  },
];

/** Prices per 1M tokens at the time of writing; operators edit them in the admin. */
const openAiParams: ProviderParams = {
  temperature: 0.8,
  max_tokens: 700,
  price_input_per_1m: 0.15,
  price_cached_input_per_1m: 0.075,
  price_output_per_1m: 0.6,
};
const deepSeekParams: ProviderParams = {
  temperature: 0.8,
  max_tokens: 700,
  price_input_per_1m: 0.28,
  price_cached_input_per_1m: 0.028,
  price_output_per_1m: 0.42,
  extra: { thinking: { type: "disabled" } },
};

/**
 * Seeds the ChatGPT and DeepSeek providers (from env) and a few personalities, once.
 * Idempotent and safe when two instances start together (transaction-scoped advisory lock).
 * Returns true when it inserted anything.
 */
export async function seedDatabase(deps: {
  db: Db;
  config: Config;
  secretBox: SecretBox;
  logger?: Logger;
}): Promise<boolean> {
  const { db, config, secretBox, logger } = deps;
  const seeded = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SEED_LOCK_ID})`);
    const [marker] = await tx.select().from(settings).where(eq(settings.key, SEED_MARKER));
    if (marker) return false;
    // The same rules as a provider saved in the admin: a seeded key goes nowhere an operator could not send it.
    for (const [variable, url] of [
      ["OPENAI_BASE_URL", config.providers.openai.baseUrl],
      ["DEEPSEEK_BASE_URL", config.providers.deepseek.baseUrl],
    ] as const) {
      const refusal = baseUrlRefusal(url, config.providerHosts);
      if (refusal) throw new ConfigError(`${variable}: ${refusal}`, variable);
    }
    const insertedPersonalities = await tx
      .insert(personalities)
      .values(seedPersonalities)
      .onConflictDoNothing({ target: personalities.title })
      .returning();
    const byTitle = new Map(insertedPersonalities.map((row) => [row.title, row.id]));
    const encrypt = (key: string) => (key ? secretBox.encrypt(key) : null);
    await tx
      .insert(providers)
      .values([
        {
          name: "ChatGPT",
          type: "openai",
          baseUrl: config.providers.openai.baseUrl,
          apiKeyEncrypted: encrypt(config.providers.openai.apiKey),
          modelId: config.providers.openai.model,
          params: openAiParams as Record<string, unknown>,
          enabled: true,
          orderIndex: 0,
          defaultPersonalityId: byTitle.get("Optimist") ?? null,
        },
        {
          name: "DeepSeek",
          type: "deepseek",
          baseUrl: config.providers.deepseek.baseUrl,
          apiKeyEncrypted: encrypt(config.providers.deepseek.apiKey),
          modelId: config.providers.deepseek.model,
          params: deepSeekParams as Record<string, unknown>,
          enabled: true,
          orderIndex: 1,
          defaultPersonalityId: byTitle.get("Skeptic") ?? null,
        },
      ])
      .onConflictDoNothing({ target: providers.name });
    await tx.insert(settings).values({ key: SEED_MARKER, value: SEED_VERSION });
    return true;
  });
  if (seeded) logger?.info("database seeded", { providers: 2, personalities: seedPersonalities.length });
  return seeded;
}
