import { type Config, createConfig } from "../../src/config";

/** A fixed Fernet key for tests (urlsafe base64 of 32 bytes). */
export const testSecretsKey = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

/** A config for in-process tests: ephemeral port, quiet logs, the given overrides on top. */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return createConfig({
    NODE_ENV: "test",
    PORT: "0",
    SECRETS_KEY: testSecretsKey,
    LOG_LEVEL: "error",
    ADMIN_PASSWORD: "admin-password-for-tests",
    API_TOKEN: "api-token-for-tests",
    OPENAI_API_KEY: "sk-test-openai-key-000000000000",
    DEEPSEEK_API_KEY: "sk-test-deepseek-key-00000000000",
    ...overrides,
  });
}
