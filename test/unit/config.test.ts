import { describe, expect, test } from "bun:test";
import { ConfigError, createConfig, parseRuntimeSetting } from "../../src/config";

function configError(env: Record<string, string>): ConfigError {
  try {
    createConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  test("defaults follow SPEC §8", () => {
    const config = createConfig({});
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeNull();
    expect(config.redisUrl).toBeNull();
    expect(config.telegram.apiUrl).toBe("https://api.telegram.org");
    expect(config.providers.deepseek.model).toBe("deepseek-flash");
    expect(config.providers.openai.model).toBe("gpt-4o-mini");
    expect(config.defaults).toEqual({
      MAX_ROUNDS: 5,
      TURN_TIMEOUT_SEC: 60,
      CONTEXT_TOKEN_LIMIT: 6000,
      SESSION_TIMEOUT_SEC: 1800,
      SESSION_TOKEN_LIMIT: 200000,
      SESSION_COST_LIMIT_USD: "1",
      PAYMENT_URL: "https://pay.example.com/xyz",
      ADMIN_IDLE_TIMEOUT_MIN: 120,
      USER_DEBATES_PER_DAY: 20,
      USER_COST_PER_DAY_USD: "0.5",
      BOT_COST_PER_DAY_USD: "20",
      ACCESS_MODE: "open",
      GROUP_CHATS: "on",
      MODERATOR_PROVIDER_ID: "",
    });
  });

  test("DOCS_PUBLIC: on outside production, off in production, either when set", () => {
    expect(createConfig({}).docsPublic).toBe(true);
    expect(createConfig({ NODE_ENV: "test" }).docsPublic).toBe(true);
    expect(createConfig({ NODE_ENV: "production" }).docsPublic).toBe(false);
    expect(createConfig({ NODE_ENV: "production", DOCS_PUBLIC: "on" }).docsPublic).toBe(true);
    expect(createConfig({ DOCS_PUBLIC: "off" }).docsPublic).toBe(false);
    expect(configError({ DOCS_PUBLIC: "yes" }).message).toBe('DOCS_PUBLIC must be on or off (got "yes")');
  });

  test("METRICS_PORT: unset serves /metrics on PORT; set, a port of its own", () => {
    expect(createConfig({}).metricsPort).toBeNull();
    expect(createConfig({ METRICS_PORT: "9464" }).metricsPort).toBe(9464);
    expect(createConfig({ METRICS_PORT: "0", PORT: "0" }).metricsPort).toBe(0);
    expect(configError({ METRICS_PORT: "3000" }).message).toBe("METRICS_PORT must differ from PORT");
    expect(configError({ METRICS_PORT: "x" }).variable).toBe("METRICS_PORT");
  });

  test("the public bot's settings: 0 is no limit, the modes are closed lists", () => {
    expect(parseRuntimeSetting("USER_DEBATES_PER_DAY", "0")).toBe(0);
    expect(parseRuntimeSetting("BOT_COST_PER_DAY_USD", 12.345)).toBe("12.345");
    expect(parseRuntimeSetting("ACCESS_MODE", "allowlist")).toBe("allowlist");
    expect(() => parseRuntimeSetting("ACCESS_MODE", "closed")).toThrow(
      "ACCESS_MODE must be open or allowlist",
    );
    expect(() => parseRuntimeSetting("GROUP_CHATS", "yes")).toThrow("GROUP_CHATS must be on or off");
    expect(() => parseRuntimeSetting("USER_DEBATES_PER_DAY", "-1")).toThrow("USER_DEBATES_PER_DAY must be");
    expect(() => parseRuntimeSetting("USER_COST_PER_DAY_USD", "10001")).toThrow(
      "USER_COST_PER_DAY_USD must be",
    );
  });

  test("empty values count as unset", () => {
    const config = createConfig({ DATABASE_URL: "", REDIS_URL: " ", MAX_ROUNDS: "" });
    expect(config.databaseUrl).toBeNull();
    expect(config.redisUrl).toBeNull();
    expect(config.defaults.MAX_ROUNDS).toBe(5);
  });

  test("DATABASE_URL wins; POSTGRES_* parts are assembled and escaped otherwise", () => {
    expect(createConfig({ DATABASE_URL: "postgres://a@b/c", POSTGRES_HOST: "x" }).databaseUrl).toBe(
      "postgres://a@b/c",
    );
    const config = createConfig({
      POSTGRES_HOST: "db",
      POSTGRES_PORT: "6543",
      POSTGRES_DB: "rt",
      POSTGRES_USER: "u",
      POSTGRES_PASSWORD: "p@ss/word",
    });
    expect(config.databaseUrl).toBe("postgres://u:p%40ss%2Fword@db:6543/rt");
  });

  test("a wrong value names the variable and what it must be", () => {
    expect(configError({ MAX_ROUNDS: "many" }).message).toBe(
      'MAX_ROUNDS must be an integer from 1 to 50 (got "many")',
    );
    expect(configError({ PORT: "70000" }).variable).toBe("PORT");
    expect(configError({ PAYMENT_URL: "http://pay.example.com" }).message).toContain("https URL");
    expect(configError({ LOG_LEVEL: "loud" }).message).toContain("LOG_LEVEL must be");
    expect(configError({ SESSION_COST_LIMIT_USD: "-1" }).variable).toBe("SESSION_COST_LIMIT_USD");
  });

  test("secret values are never echoed in errors", () => {
    const error = configError({ DATABASE_URL: "mysql://user:hunter2-secret@host/db" });
    expect(error.message).toBe("DATABASE_URL must be a postgres:// URL");
    expect(error.message).not.toContain("hunter2");
    expect(configError({ REDIS_URL: "http://:topsecret@x" }).message).not.toContain("topsecret");
  });

  test("webhook mode requires its secret", () => {
    expect(configError({ TELEGRAM_WEBHOOK_URL: "https://bot.example.com/hook" }).variable).toBe(
      "TELEGRAM_WEBHOOK_SECRET",
    );
    const config = createConfig({
      TELEGRAM_WEBHOOK_URL: "https://bot.example.com/hook",
      TELEGRAM_WEBHOOK_SECRET: "s",
    });
    expect(config.telegram.webhookUrl).toBe("https://bot.example.com/hook");
  });

  test("runtime settings share the env rules and keep money exact", () => {
    expect(parseRuntimeSetting("MAX_ROUNDS", 3)).toBe(3);
    expect(parseRuntimeSetting("MAX_ROUNDS", "7")).toBe(7);
    expect(parseRuntimeSetting("SESSION_COST_LIMIT_USD", "2.50")).toBe("2.5");
    expect(() => parseRuntimeSetting("MAX_ROUNDS", 2.5)).toThrow(
      "MAX_ROUNDS must be an integer from 1 to 50",
    );
    expect(() => parseRuntimeSetting("MAX_ROUNDS", true)).toThrow(ConfigError);
    expect(() => parseRuntimeSetting("PAYMENT_URL", "javascript:alert(1)")).toThrow("https URL");
  });
});
