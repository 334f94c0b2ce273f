import { type } from "arktype";
import { type HostPattern, parseHostPatterns } from "./llm/provider-url";

/**
 * Configuration: the environment parsed once at start (SPEC §8).
 *
 * Each variable has its own arktype validator so that an error names exactly one variable in one
 * readable line, and so that the runtime-editable settings (`settings` table, PUT /api/settings)
 * reuse the very same rules. Secret values are never echoed in an error.
 */

const positiveInt = (min: number, max: number) =>
  type("string.integer.parse").pipe(type(`${min} <= number.integer <= ${max}`));
const decimal = (min: number, max: number) =>
  type("string.numeric.parse").pipe(type(`${min} <= number <= ${max}`));
const httpUrl = type("string.url").narrow((value, ctx) =>
  /^https?:\/\//.test(value) ? true : ctx.mustBe("an http(s) URL"),
);
const httpsUrl = type("string.url").narrow((value, ctx) =>
  value.startsWith("https://") ? true : ctx.mustBe("an https URL"),
);
const postgresUrl = type("string").narrow((value, ctx) =>
  /^postgres(ql)?:\/\/.+/.test(value) ? true : ctx.mustBe("a postgres:// URL"),
);
const redisUrl = type("string").narrow((value, ctx) =>
  /^rediss?:\/\/.+/.test(value) ? true : ctx.mustBe("a redis:// URL"),
);
const anyString = type("string");
const hostList = type("string").pipe((value, ctx) => parseHostPatterns(value) ?? ctx.error("host names"));
const logLevel = type("'debug' | 'info' | 'warn' | 'error'");
const nodeEnv = type("'development' | 'production' | 'test'");
const onOff = type("'on' | 'off'");

interface VariableSpec {
  // biome-ignore lint/suspicious/noExplicitAny: heterogenous validators; each is typed at use below
  schema: any;
  /** Default as an env string; undefined = optional with no default. */
  defaultValue?: string;
  secret?: boolean;
  /** Human wording used in the error line: "MAX_ROUNDS must be …". */
  expected: string;
}

/**
 * How many rounds a debate may have: the rule of MAX_ROUNDS, of the API's `max_rounds` and of the
 * admin's "start a debate" form, defined once here.
 */
export const ROUNDS_RANGE = { min: 1, max: 50 } as const;
/** {@link ROUNDS_RANGE} as an arktype number rule. */
export const roundsRule = type(`${ROUNDS_RANGE.min} <= number.integer <= ${ROUNDS_RANGE.max}`);
/** {@link ROUNDS_RANGE} in words, for messages: "an integer from 1 to 50". */
export const ROUNDS_EXPECTED = `an integer from ${ROUNDS_RANGE.min} to ${ROUNDS_RANGE.max}`;

/** How many rounds one "continue" adds to a finished or stopped debate (API, bot, admin). */
export const CONTINUE_ROUNDS_RANGE = { min: 1, max: 10 } as const;

/** Settings that operators may change at runtime (settings table); their env values are the defaults. */
export const runtimeSettingSpecs = {
  MAX_ROUNDS: {
    schema: type("string.integer.parse").pipe(roundsRule),
    defaultValue: "5",
    expected: ROUNDS_EXPECTED,
  },
  TURN_TIMEOUT_SEC: {
    schema: positiveInt(1, 600),
    defaultValue: "60",
    expected: "an integer from 1 to 600",
  },
  CONTEXT_TOKEN_LIMIT: {
    schema: positiveInt(1000, 1_000_000),
    defaultValue: "6000",
    expected: "an integer from 1000 to 1000000",
  },
  SESSION_TIMEOUT_SEC: {
    schema: positiveInt(1, 86_400),
    defaultValue: "1800",
    expected: "an integer from 1 to 86400",
  },
  SESSION_TOKEN_LIMIT: {
    schema: positiveInt(100, 100_000_000),
    defaultValue: "200000",
    expected: "an integer from 100 to 100000000",
  },
  SESSION_COST_LIMIT_USD: {
    schema: decimal(0, 10_000),
    defaultValue: "1.00",
    expected: "a number of US dollars from 0 to 10000",
  },
  PAYMENT_URL: {
    schema: httpsUrl,
    defaultValue: "https://pay.example.com/xyz",
    expected: "an https URL",
  },
  ADMIN_IDLE_TIMEOUT_MIN: {
    schema: positiveInt(1, 1440),
    defaultValue: "120",
    expected: "an integer from 1 to 1440",
  },
  // The public bot's limits, per Telegram user and for the whole bot, per UTC day; 0 = no limit.
  USER_DEBATES_PER_DAY: {
    schema: positiveInt(0, 100_000),
    defaultValue: "20",
    expected: "an integer from 0 to 100000",
  },
  USER_COST_PER_DAY_USD: {
    schema: decimal(0, 10_000),
    defaultValue: "0.50",
    expected: "a number of US dollars from 0 to 10000",
  },
  BOT_COST_PER_DAY_USD: {
    schema: decimal(0, 1_000_000),
    defaultValue: "20.00",
    expected: "a number of US dollars from 0 to 1000000",
  },
  ACCESS_MODE: {
    schema: type("'open' | 'allowlist'"),
    defaultValue: "open",
    expected: "open or allowlist",
  },
  GROUP_CHATS: {
    schema: type("'on' | 'off'"),
    defaultValue: "on",
    expected: "on or off",
  },
  // The provider whose model writes the verdicts; empty = the first enabled provider with a usable key.
  MODERATOR_PROVIDER_ID: {
    schema: type("string.integer.parse").pipe(type("1 <= number.integer <= 2147483647")),
    defaultValue: "",
    expected: "a provider id (empty: the first enabled provider)",
  },
} as const satisfies Record<string, VariableSpec>;

const variableSpecs = {
  NODE_ENV: { schema: nodeEnv, defaultValue: "development", expected: "development, production or test" },
  DATABASE_URL: { schema: postgresUrl, secret: true, expected: "a postgres:// URL" },
  POSTGRES_HOST: { schema: anyString, expected: "a host name" },
  POSTGRES_PORT: { schema: positiveInt(1, 65535), defaultValue: "5432", expected: "a port number" },
  POSTGRES_DB: { schema: anyString, defaultValue: "roundtable", expected: "a database name" },
  POSTGRES_USER: { schema: anyString, defaultValue: "roundtable", expected: "a user name" },
  POSTGRES_PASSWORD: { schema: anyString, secret: true, defaultValue: "", expected: "a password" },
  DATA_DIR: { schema: anyString, defaultValue: "./data", expected: "a directory path" },
  REDIS_URL: { schema: redisUrl, secret: true, expected: "a redis:// URL" },
  PORT: { schema: positiveInt(0, 65535), defaultValue: "3000", expected: "a port number" },
  METRICS_PORT: { schema: positiveInt(0, 65535), expected: "a port number" },
  TELEGRAM_BOT_TOKEN: { schema: anyString, secret: true, defaultValue: "", expected: "a bot token" },
  TELEGRAM_API_URL: {
    schema: httpUrl,
    defaultValue: "https://api.telegram.org",
    expected: "an http(s) URL",
  },
  TELEGRAM_WEBHOOK_URL: { schema: httpsUrl, expected: "an https URL" },
  TELEGRAM_WEBHOOK_SECRET: { schema: anyString, secret: true, defaultValue: "", expected: "a secret" },
  SECRETS_KEY: { schema: anyString, secret: true, expected: "one or more comma-separated Fernet keys" },
  ADMIN_USERNAME: { schema: anyString, defaultValue: "admin", expected: "a user name" },
  ADMIN_PASSWORD: { schema: anyString, secret: true, defaultValue: "", expected: "a password" },
  TRUST_PROXY: {
    schema: positiveInt(0, 100),
    defaultValue: "0",
    expected: "a number of proxies from 0 to 100",
  },
  API_TOKEN: { schema: anyString, secret: true, defaultValue: "", expected: "a token" },
  // No default here: it depends on NODE_ENV (see createConfig).
  DOCS_PUBLIC: { schema: onOff, expected: "on or off" },
  LOG_LEVEL: { schema: logLevel, defaultValue: "info", expected: "debug, info, warn or error" },
  OPENAI_API_KEY: { schema: anyString, secret: true, defaultValue: "", expected: "an API key" },
  OPENAI_MODEL: { schema: anyString, defaultValue: "gpt-4o-mini", expected: "a model id" },
  OPENAI_BASE_URL: { schema: httpUrl, defaultValue: "https://api.openai.com/v1", expected: "an http(s) URL" },
  DEEPSEEK_API_KEY: { schema: anyString, secret: true, defaultValue: "", expected: "an API key" },
  DEEPSEEK_MODEL: { schema: anyString, defaultValue: "deepseek-flash", expected: "a model id" },
  DEEPSEEK_BASE_URL: {
    schema: httpUrl,
    defaultValue: "https://api.deepseek.com",
    expected: "an http(s) URL",
  },
  PROVIDER_HOSTS: {
    schema: hostList,
    defaultValue: "",
    expected: "comma-separated host names, each optionally *.domain and/or :port (empty: any host)",
  },
  ...runtimeSettingSpecs,
} as const satisfies Record<string, VariableSpec>;

/** Names of every variable the app reads. */
export type VariableName = keyof typeof variableSpecs;
export type RuntimeSettingKey = keyof typeof runtimeSettingSpecs;
export const runtimeSettingKeys = Object.keys(runtimeSettingSpecs) as RuntimeSettingKey[];

/** Values of the runtime settings, typed. */
export interface RuntimeSettings {
  MAX_ROUNDS: number;
  TURN_TIMEOUT_SEC: number;
  CONTEXT_TOKEN_LIMIT: number;
  SESSION_TIMEOUT_SEC: number;
  SESSION_TOKEN_LIMIT: number;
  /** Decimal string, exact (money is never a float). */
  SESSION_COST_LIMIT_USD: string;
  PAYMENT_URL: string;
  /** Minutes without a request after which an admin login ends. */
  ADMIN_IDLE_TIMEOUT_MIN: number;
  /** Debates a Telegram user may start per UTC day; 0 = no limit. */
  USER_DEBATES_PER_DAY: number;
  /** What a Telegram user's debates may cost per UTC day (decimal string); "0" = no limit. */
  USER_COST_PER_DAY_USD: string;
  /** What all Telegram debates together may cost per UTC day (decimal string); "0" = no limit. */
  BOT_COST_PER_DAY_USD: string;
  /** `allowlist`: only users an operator allowed start debates. */
  ACCESS_MODE: "open" | "allowlist";
  /** `off`: the bot starts nothing in groups. */
  GROUP_CHATS: "on" | "off";
  /** The provider that writes verdicts; "" = the first enabled provider with a usable key. */
  MODERATOR_PROVIDER_ID: number | "";
}

/** The parsed configuration. */
export interface Config {
  nodeEnv: "development" | "production" | "test";
  /** Postgres URL, or null for the embedded PGlite database under `dataDir`. */
  databaseUrl: string | null;
  dataDir: string;
  /** Redis URL, or null for in-process coordination (one instance). */
  redisUrl: string | null;
  port: number;
  /** `METRICS_PORT`: /metrics is served there only, without auth; null = on `port`, behind the API token. */
  metricsPort: number | null;
  telegram: { botToken: string; apiUrl: string; webhookUrl: string | null; webhookSecret: string };
  /** Raw SECRETS_KEY value (comma-separated Fernet keys); parsed by the secret box. */
  secretsKey: string;
  admin: { username: string; password: string };
  /**
   * Reverse proxies in front of the app (TRUST_PROXY): the client address is the entry this many
   * places from the right of X-Forwarded-For, and the admin cookie is Secure; 0 = none.
   */
  trustProxy: number;
  apiToken: string;
  /**
   * `DOCS_PUBLIC`: the OpenAPI document and Swagger UI are open to anyone; off, they need the API
   * token. Default: on outside production, off in production.
   */
  docsPublic: boolean;
  logLevel: "debug" | "info" | "warn" | "error";
  providers: {
    openai: { apiKey: string; model: string; baseUrl: string };
    deepseek: { apiKey: string; model: string; baseUrl: string };
  };
  /** `PROVIDER_HOSTS`: the hosts a provider `base_url` may name; empty = any host. */
  providerHosts: HostPattern[];
  /** Defaults of the runtime settings (the settings table overrides them). */
  defaults: RuntimeSettings;
}

/** A configuration error: one readable line naming the variable, never a secret value. */
export class ConfigError extends Error {
  readonly code = "config_invalid";
  constructor(
    message: string,
    readonly variable: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function describeValue(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(shown);
}

/**
 * Validates one variable. Returns the parsed value, or undefined when it is unset and has no
 * default. Empty strings count as unset, so `DATABASE_URL=` in .env means "embedded".
 */
export function parseVariable(name: VariableName, raw: string | undefined): unknown {
  const spec: VariableSpec = variableSpecs[name];
  const value = raw === undefined || raw.trim() === "" ? spec.defaultValue : raw.trim();
  if (value === undefined) return undefined;
  if (value === "" && spec.defaultValue === "") return "";
  const result = spec.schema(value);
  if (result instanceof type.errors) {
    const got = spec.secret ? "" : ` (got ${describeValue(value)})`;
    throw new ConfigError(`${name} must be ${spec.expected}${got}`, name);
  }
  return result;
}

/** Parses one runtime setting value given as a string or a JSON scalar (API, admin form). */
export function parseRuntimeSetting(
  key: RuntimeSettingKey,
  value: unknown,
): RuntimeSettings[RuntimeSettingKey] {
  if (typeof value !== "string" && typeof value !== "number") {
    throw new ConfigError(`${key} must be ${runtimeSettingSpecs[key].expected}`, key);
  }
  // A JSON number may come in exponent form (1e-7): its decimal spelling is what the rules read.
  const text = typeof value === "number" ? decimalText(value) : value;
  if (text.trim() === "") {
    // A setting whose default is empty may be cleared (MODERATOR_PROVIDER_ID: back to "the first").
    if (runtimeSettingSpecs[key].defaultValue === "") return "" as RuntimeSettings[RuntimeSettingKey];
    throw new ConfigError(`${key} must be ${runtimeSettingSpecs[key].expected}`, key);
  }
  const parsed = parseVariable(key, text);
  const normalized = normalizeSetting(key, parsed);
  // Money is kept to 8 places: a positive amount below that would silently become 0 ("no limit").
  if (isUsdSetting(key) && normalized === "0" && (parsed as number) > 0) {
    throw new ConfigError(`${key} must be 0 (no limit) or at least 0.00000001`, key);
  }
  return normalized;
}

/** A number's plain decimal spelling (`1e-7` → `0.0000001`); integers and ordinary numbers as `String` gives them. */
function decimalText(value: number): string {
  const text = String(value);
  if (!/e/i.test(text) || !Number.isFinite(value)) return text;
  return value
    .toFixed(20)
    .replace(/(\.\d*?)0+$/, "$1")
    .replace(/\.$/, "");
}

/** Settings in US dollars: kept as exact decimal strings. */
const isUsdSetting = (key: RuntimeSettingKey) => key.endsWith("_USD");

function normalizeSetting(key: RuntimeSettingKey, parsed: unknown): RuntimeSettings[RuntimeSettingKey] {
  if (isUsdSetting(key)) return (parsed as number).toFixed(8).replace(/0+$/, "").replace(/\.$/, "");
  return parsed as RuntimeSettings[RuntimeSettingKey];
}

function buildDatabaseUrl(env: Env): string | null {
  const direct = parseVariable("DATABASE_URL", env.DATABASE_URL) as string | undefined;
  if (direct) return direct;
  const host = parseVariable("POSTGRES_HOST", env.POSTGRES_HOST) as string | undefined;
  if (!host) return null;
  const port = parseVariable("POSTGRES_PORT", env.POSTGRES_PORT) as number;
  const database = parseVariable("POSTGRES_DB", env.POSTGRES_DB) as string;
  const user = parseVariable("POSTGRES_USER", env.POSTGRES_USER) as string;
  const password = parseVariable("POSTGRES_PASSWORD", env.POSTGRES_PASSWORD) as string;
  const auth = password
    ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
    : encodeURIComponent(user);
  return `postgres://${auth}@${host}:${port}/${encodeURIComponent(database)}`;
}

/**
 * Builds the configuration from an env-like object (tests pass their own).
 * Throws ConfigError on the first invalid variable. Secret presence (SECRETS_KEY, …) is
 * checked by the start-up code, which knows whether a first-run `.env` can be written.
 */
export function createConfig(env: Env): Config {
  const get = <T>(name: VariableName) => parseVariable(name, env[name]) as T;
  const defaults = {} as Record<RuntimeSettingKey, unknown>;
  for (const key of runtimeSettingKeys) defaults[key] = normalizeSetting(key, get(key));
  const webhookUrl = get<string | undefined>("TELEGRAM_WEBHOOK_URL") ?? null;
  const webhookSecret = get<string>("TELEGRAM_WEBHOOK_SECRET");
  // Empty text stays "" (like every empty variable): no list means any host.
  const providerHosts = get<HostPattern[] | "">("PROVIDER_HOSTS");
  if (webhookUrl && !webhookSecret) {
    throw new ConfigError(
      "TELEGRAM_WEBHOOK_SECRET must be set when TELEGRAM_WEBHOOK_URL is set",
      "TELEGRAM_WEBHOOK_SECRET",
    );
  }
  const port = get<number>("PORT");
  const metricsPort = get<number | undefined>("METRICS_PORT") ?? null;
  if (metricsPort !== null && metricsPort !== 0 && metricsPort === port) {
    throw new ConfigError("METRICS_PORT must differ from PORT", "METRICS_PORT");
  }
  const nodeEnv = get<Config["nodeEnv"]>("NODE_ENV");
  const docsPublic =
    get<"on" | "off" | undefined>("DOCS_PUBLIC") ?? (nodeEnv === "production" ? "off" : "on");
  return {
    nodeEnv,
    databaseUrl: buildDatabaseUrl(env),
    dataDir: get("DATA_DIR"),
    redisUrl: get<string | undefined>("REDIS_URL") ?? null,
    port,
    metricsPort,
    telegram: {
      botToken: get("TELEGRAM_BOT_TOKEN"),
      apiUrl: get<string>("TELEGRAM_API_URL").replace(/\/+$/, ""),
      webhookUrl,
      webhookSecret,
    },
    secretsKey: get<string | undefined>("SECRETS_KEY") ?? "",
    admin: { username: get("ADMIN_USERNAME"), password: get("ADMIN_PASSWORD") },
    trustProxy: get("TRUST_PROXY"),
    apiToken: get("API_TOKEN"),
    docsPublic: docsPublic === "on",
    logLevel: get("LOG_LEVEL"),
    providers: {
      openai: { apiKey: get("OPENAI_API_KEY"), model: get("OPENAI_MODEL"), baseUrl: get("OPENAI_BASE_URL") },
      deepseek: {
        apiKey: get("DEEPSEEK_API_KEY"),
        model: get("DEEPSEEK_MODEL"),
        baseUrl: get("DEEPSEEK_BASE_URL"),
      },
    },
    providerHosts: providerHosts === "" ? [] : providerHosts,
    defaults: defaults as unknown as RuntimeSettings,
  };
}
