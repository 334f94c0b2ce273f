import type { Provider } from "../db/schema";
import type { ChatModel, ProviderParams } from "../llm/chat-model";
import { createOpenAiChatModel } from "../llm/openai-chat-model";
import type { SecretBox } from "../platform/secret-box";

/** Options passed through to every adapter (tests shorten the retry backoff). */
export type ChatModelOptions = Parameters<typeof createOpenAiChatModel>[1];

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
    const model = createOpenAiChatModel(
      {
        id: provider.id,
        name: provider.name,
        type: provider.type,
        baseUrl: provider.baseUrl,
        // The SDK refuses an empty key; keyless local endpoints accept any placeholder.
        apiKey: provider.apiKeyEncrypted ? deps.secretBox.decrypt(provider.apiKeyEncrypted) : "not-set",
        modelId: provider.modelId,
        params: provider.params as ProviderParams,
      },
      deps.options,
    );
    cache.set(provider.id, { version, model });
    return model;
  };
}
