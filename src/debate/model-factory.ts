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
 * Whether a provider can authenticate: `set` (a key is stored and readable), `missing` (none is
 * stored) or `unreadable` (one is stored but no `SECRETS_KEY` decrypts it: re-enter it or run
 * `bun run rekey`; debates exclude the provider until then).
 */
export type ApiKeyStatus = "set" | "missing" | "unreadable";

/** The stored key of a provider, decrypted, and its status ({@link ApiKeyStatus}). */
export function readApiKey(
  provider: Pick<Provider, "apiKeyEncrypted">,
  secretBox: SecretBox,
): { status: ApiKeyStatus; apiKey: string } {
  if (!provider.apiKeyEncrypted) return { status: "missing", apiKey: "" };
  try {
    return { status: "set", apiKey: secretBox.decrypt(provider.apiKeyEncrypted) };
  } catch {
    return { status: "unreadable", apiKey: "" };
  }
}

/** Why a provider cannot take part in a new debate, or null when it can. */
export type ProviderProblem = "disabled" | "no_api_key" | "key_unreadable";

/**
 * A debate needs providers that can answer: enabled, with a key that decrypts. Only an
 * `openai_compatible` endpoint may go without a key (a local server needs none); OpenAI and
 * DeepSeek always refuse a call without one.
 */
export function providerProblem(
  provider: Pick<Provider, "enabled" | "type" | "apiKeyEncrypted">,
  secretBox: SecretBox,
): ProviderProblem | null {
  if (!provider.enabled) return "disabled";
  const { status } = readApiKey(provider, secretBox);
  if (status === "unreadable") return "key_unreadable";
  if (status === "missing" && provider.type !== "openai_compatible") return "no_api_key";
  return null;
}

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
  const { status, apiKey } = readApiKey(provider, secretBox);
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
  if (status === "unreadable") {
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
