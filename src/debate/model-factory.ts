import type { Provider } from "../db/schema";
import { type ChatModel, createFailingChatModel, type ProviderParams } from "../llm/chat-model";
import { LlmError } from "../llm/llm-errors";
import { createOpenAiChatModel } from "../llm/openai-chat-model";
import type { SecretBox } from "../platform/secret-box";

/** Options passed through to every adapter (tests shorten the retry backoff; `providerHosts`). */
export type ChatModelOptions = Parameters<typeof createOpenAiChatModel>[1];

/** What the chat model of a provider whose stored key cannot be decrypted fails with. */
const KEY_UNREADABLE_MESSAGE =
  "the stored API key cannot be decrypted with SECRETS_KEY; re-enter it or run `bun run rekey`";

/**
 * The chat model of one provider row. A key that no configured `SECRETS_KEY` decrypts yields a
 * model that fails every call with the non-retryable `key_unreadable`: the participant is excluded
 * with that reason, where a thrown decryption error would crash the run until it gave up.
 */
export function createChatModelFor(
  provider: Provider,
  secretBox: SecretBox,
  options?: ChatModelOptions,
): ChatModel {
  let apiKey = "";
  let unreadable = false;
  if (provider.apiKeyEncrypted) {
    try {
      apiKey = secretBox.decrypt(provider.apiKeyEncrypted);
    } catch {
      unreadable = true;
    }
  }
  const config = {
    id: provider.id,
    name: provider.name,
    type: provider.type,
    baseUrl: provider.baseUrl,
    // Empty: keyless local endpoints get no Authorization header at all.
    apiKey,
    modelId: provider.modelId,
    params: provider.params as ProviderParams,
  };
  if (unreadable) {
    return createFailingChatModel(
      config,
      new LlmError({ code: "key_unreadable", message: KEY_UNREADABLE_MESSAGE, isRetryable: false }),
    );
  }
  return createOpenAiChatModel(config, options);
}

/**
 * Chat models for provider rows, cached per provider version: a key or parameter edited in the
 * admin takes effect at the next turn, without keeping a decrypted key around longer than needed.
 */
export function createModelFactory(deps: { secretBox: SecretBox; options?: ChatModelOptions }) {
  const cache = new Map<number, { version: number; model: ChatModel }>();
  return (provider: Provider): ChatModel => {
    const version = provider.updatedAt.getTime();
    const cached = cache.get(provider.id);
    if (cached && cached.version === version) return cached.model;
    const model = createChatModelFor(provider, deps.secretBox, deps.options);
    cache.set(provider.id, { version, model });
    return model;
  };
}
