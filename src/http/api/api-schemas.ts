/**
 * Request and response schemas of the API (arktype): the single source of their types, of
 * validation and of the OpenAPI document. Provider and personality schemas live with their
 * services in `src/catalog/`, shared with the admin; they are named here for the document.
 *
 * Every schema a route shares is a named component ({@link apiComponents}): the document
 * references it with `$ref` instead of inlining it. A new route reuses these constants; a new
 * shared shape is declared with `named()` and listed in `apiComponents`.
 */
import { type } from "arktype";
import {
  personalityInputSchema,
  personalityPatchSchema,
  personalityViewSchema,
} from "../../catalog/personality-service";
import { providerInputSchema, providerPatchSchema, providerViewSchema } from "../../catalog/provider-service";
import { stringFormats } from "../../catalog/string-formats";
import {
  parseRuntimeSetting,
  type RuntimeSettingKey,
  type RuntimeSettings,
  roundsRule,
  runtimeSettingKeys,
  runtimeSettingSpecs,
} from "../../config";
import { TOPIC_MAX_LENGTH } from "../../debate/debate-service";
import { userPatchSchema, userViewSchema } from "../../users/user-service";
import { apiErrorSchema } from "../errors";
import { type ApiComponent, type JsonSchema, jsonSchemaOf, named } from "./openapi-components";

const sessionStatus = "'created' | 'running' | 'finished' | 'stopped' | 'failed'";
const stopReason =
  "'user' | 'admin' | 'max_rounds' | 'turn_timeout' | 'session_timeout' | 'token_limit' | 'cost_limit' | 'no_participants' | 'error'";

/** Query strings are not coerced by Elysia for Standard Schema: integers are parsed here. */
const integerQuery = type("string.integer.parse");
const { dateTime, uuid } = stringFormats;

// Malformed ids answer 404 (the engine's own check), so the uuid format is documented, not validated.
export const sessionIdParams = type({ id: uuid });
export const numericIdParams = type({ id: "string.integer.parse" });

const EXAMPLE_SESSION_ID = "7d0c5a56-2f1e-4a57-9a3e-5b8f1c2d4e6f";
const EXAMPLE_TIME = "2026-11-24T10:15:00.000Z";

export const errorView = named("Error", apiErrorSchema, [
  { error: { code: "not_found", message: "No such resource." } },
  {
    error: {
      code: "validation_failed",
      message: "Invalid request body: max_rounds must be at most 50 (was 99)",
      details: [{ path: "max_rounds", message: "max_rounds must be at most 50 (was 99)" }],
    },
  },
]);

export const createSessionBody = named(
  "NewSession",
  type({
    /** 1–1000 characters once trimmed (checked by the engine: `invalid_topic`). */
    topic: "string",
    "max_rounds?": roundsRule,
    /** Default: every enabled provider in admin order, each with its default personality. */
    "participants?": type({
      provider_id: "number.integer > 0",
      /** Omitted: the provider's default personality; null: none. */
      "personality_id?": "number.integer > 0 | null",
      "+": "reject",
    })
      .array()
      .atMostLength(20),
    "+": "reject",
  }),
  [
    { topic: "Is remote work here to stay?", max_rounds: 2 },
    {
      topic: "Should cities ban cars from their centres?",
      participants: [{ provider_id: 1 }, { provider_id: 2, personality_id: null }],
    },
  ],
);

export const listSessionsQuery = type({
  "status?": sessionStatus,
  "user_id?": integerQuery.to("number.integer > 0"),
  /** Page size, 1–100; default 20. */
  "limit?": integerQuery.to(type("1 <= number.integer <= 100").configure({ default: 20 })),
  "offset?": integerQuery.to(type("number.integer >= 0").configure({ default: 0 })),
});

const exampleTotals = { tokens_in: 1840, tokens_out: 512, cached_tokens: 768, cost: "0.00058320" };

export const totalsView = named(
  "SessionTotals",
  type({
    tokens_in: "number.integer",
    tokens_out: "number.integer",
    cached_tokens: "number.integer",
    /** USD, decimal string with 8 places (never a float). */
    cost: "string",
  }),
  [exampleTotals],
);

const exampleParticipant = {
  id: 11,
  provider_id: 1,
  personality_id: 3,
  display_name: "ChatGPT",
  persona_title: "Optimist",
  order_index: 0,
  status: "active" as const,
  exclusion_reason: null,
};

export const participantView = named(
  "Participant",
  type({
    id: "number.integer",
    provider_id: "number.integer | null",
    personality_id: "number.integer | null",
    display_name: "string",
    persona_title: "string | null",
    order_index: "number.integer",
    status: "'active' | 'excluded'",
    exclusion_reason: "string | null",
  }),
  [exampleParticipant],
);

const exampleMessage = {
  id: 101,
  turn_index: 0,
  round: 1,
  author_type: "model" as const,
  author_name: "ChatGPT",
  participant_id: 11,
  content: "Remote work is here to stay, because…",
  tokens_in: 920,
  tokens_out: 256,
  cached_tokens: 384,
  cost: "0.00029160",
  latency_ms: 1830,
  estimated: false,
  created_at: EXAMPLE_TIME,
};

export const messageView = named(
  "Message",
  type({
    id: "number.integer",
    turn_index: "number.integer",
    round: "number.integer",
    author_type: "'model' | 'system' | 'summary' | 'user' | 'verdict'",
    author_name: "string",
    participant_id: "number.integer | null",
    content: "string",
    tokens_in: "number.integer",
    tokens_out: "number.integer",
    cached_tokens: "number.integer",
    cost: "string",
    latency_ms: "number.integer | null",
    /** True when the provider reported no usage and tokens were estimated. */
    estimated: "boolean",
    created_at: dateTime,
  }),
  [exampleMessage],
);

const sessionFields = {
  id: uuid,
  topic: "string",
  status: sessionStatus,
  stop_reason: `${stopReason} | null`,
  stop_detail: "string | null",
  source: "string",
  user_id: "number.integer | null",
  current_round: "number.integer",
  max_rounds: "number.integer",
  created_at: dateTime,
  started_at: [dateTime, "|", "null"],
  finished_at: [dateTime, "|", "null"],
  totals: totalsView,
} as const;

const exampleSession = {
  id: EXAMPLE_SESSION_ID,
  topic: "Is remote work here to stay?",
  status: "finished" as const,
  stop_reason: "max_rounds" as const,
  stop_detail: null,
  source: "api",
  user_id: null,
  current_round: 2,
  max_rounds: 2,
  created_at: EXAMPLE_TIME,
  started_at: "2026-11-24T10:15:01.000Z",
  finished_at: "2026-11-24T10:16:12.000Z",
  totals: exampleTotals,
};

export const sessionSummaryView = named("Session", type(sessionFields), [exampleSession]);

export const sessionDetailView = named(
  "SessionDetail",
  type({
    ...sessionFields,
    participants: participantView.array(),
    messages: messageView.array(),
  }),
  [{ ...exampleSession, participants: [exampleParticipant], messages: [exampleMessage] }],
);

export const sessionListView = named(
  "SessionList",
  type({
    items: sessionSummaryView.array(),
    total: "number.integer",
    limit: "number.integer",
    offset: "number.integer",
  }),
  [{ items: [exampleSession], total: 1, limit: 20, offset: 0 }],
);

const exampleProviderInput = {
  name: "ChatGPT",
  type: "openai" as const,
  base_url: "https://api.openai.com/v1",
  api_key: "sk-your-key",
  model_id: "gpt-4o-mini",
  params: { temperature: 0.7, price_input_per_1m: 0.15, price_output_per_1m: 0.6 },
};

export const providerInput = named("ProviderInput", providerInputSchema, [exampleProviderInput]);
export const providerPatch = named("ProviderPatch", providerPatchSchema, [
  { enabled: false },
  { api_key: "sk-new-key", params: { temperature: 0.3 } },
]);
export const providerView = named("Provider", providerViewSchema, [
  {
    id: 1,
    name: "ChatGPT",
    type: "openai",
    base_url: "https://api.openai.com/v1",
    model_id: "gpt-4o-mini",
    params: { temperature: 0.7, price_input_per_1m: 0.15, price_output_per_1m: 0.6 },
    enabled: true,
    order_index: 0,
    default_personality_id: 3,
    has_api_key: true,
    api_key_status: "set",
    api_key_masked: "••••-key",
    created_at: EXAMPLE_TIME,
    updated_at: EXAMPLE_TIME,
  },
]);

export const personalityInput = named("PersonalityInput", personalityInputSchema, [
  { title: "Optimist", instructions: "Look for what could go right and say why.", style: "warm, concise" },
]);
export const personalityPatch = named("PersonalityPatch", personalityPatchSchema, [{ style: "dry, ironic" }]);
export const personalityView = named("Personality", personalityViewSchema, [
  {
    id: 3,
    title: "Optimist",
    instructions: "Look for what could go right and say why.",
    style: "warm, concise",
    created_at: EXAMPLE_TIME,
    updated_at: EXAMPLE_TIME,
  },
]);

const defaultSetting = (key: RuntimeSettingKey) =>
  parseRuntimeSetting(key, runtimeSettingSpecs[key].defaultValue);
/** The env defaults of the runtime settings, parsed by their rules. */
const defaultSettings = () =>
  Object.fromEntries(
    runtimeSettingKeys.map((key) => [key, defaultSetting(key)]),
  ) as unknown as RuntimeSettings;

/**
 * Every runtime setting, by its env name (SPEC §8), built from the specs in `src/config.ts` so a
 * new setting needs no change here: each key's type and range is stated in the document
 * ({@link settingsProperties}); the settings service checks every value against its own rule.
 */
const settingsShape = (optional: boolean) =>
  Object.fromEntries(runtimeSettingKeys.map((key) => [optional ? `${key}?` : key, "number | string"]));

export const settingsView = named(
  "Settings",
  type(settingsShape(false) as { [key: string]: "number | string" }),
  [defaultSettings()],
);

/**
 * One or many settings. Each value is checked by its own rule from `src/config.ts` (ranges, https
 * URL) by the settings service, which reports every bad key at once (`settings_invalid`) before
 * writing any; the schema only lets numbers and strings through. The document states each rule.
 */
export const updateSettingsBody = named(
  "SettingsUpdate",
  type({ ...(settingsShape(true) as { [key: string]: "number | string" }), "+": "reject" }),
  [{ MAX_ROUNDS: 3, PAYMENT_URL: "https://pay.example.com/new" }, { SESSION_COST_LIMIT_USD: "2.50" }],
);

export const testConnectionView = named(
  "ConnectionTest",
  type({
    ok: "boolean",
    "latency_ms?": "number",
    "sample?": "string",
    /** Classified: `kind` is timeout, network, bad_key, rate_limited, refused, http, aborted or unknown. */
    "error?": { code: "string", kind: "string", message: "string", "status?": "number" },
  }),
  [
    { ok: true, latency_ms: 412, sample: "ok" },
    {
      ok: false,
      error: {
        code: "auth",
        kind: "bad_key",
        message: "the provider rejected the API key (HTTP 401)",
        status: 401,
      },
    },
  ],
);

export const deletedView = named("Deleted", type({ deleted: "true", id: "number.integer" }), [
  { deleted: true, id: 3 },
]);

/** Provider ids in their new speaking order. */
export const reorderProvidersBody = named("ProviderOrder", type({ ids: "number.integer[]", "+": "reject" }), [
  { ids: [2, 1] },
]);

const exampleUser = {
  id: 7,
  telegram_id: 123456789,
  username: "ann",
  language_code: "en",
  created_at: EXAMPLE_TIME,
  last_seen_at: "2026-11-24T12:40:00.000Z",
  debates_today: 3,
  cost_today: "0.01240000",
  debates_total: 41,
  cost_total: "0.21800000",
  blocked: false,
  allowed: true,
  debates_per_day: null,
  cost_per_day_usd: "1.00000000",
};

export const telegramIdParams = type({ telegram_id: "string.integer.parse" });

/** `true` / `false` in a query string. */
const booleanQuery = type("'true' | 'false'")
  .pipe((value) => value === "true")
  .to("boolean");

export const listUsersQuery = type({
  "blocked?": booleanQuery,
  "allowed?": booleanQuery,
  /** Part of the username, or a Telegram id. */
  "q?": "string <= 100",
  "limit?": integerQuery.to(type("1 <= number.integer <= 100").configure({ default: 20 })),
  "offset?": integerQuery.to(type("number.integer >= 0").configure({ default: 0 })),
});

export const userView = named("User", userViewSchema, [exampleUser]);

export const userListView = named(
  "UserList",
  type({
    items: userView.array(),
    total: "number.integer",
    limit: "number.integer",
    offset: "number.integer",
  }),
  [{ items: [exampleUser], total: 1, limit: 20, offset: 0 }],
);

export const userPatch = named("UserPatch", userPatchSchema, [
  { blocked: true },
  { allowed: true, debates_per_day: 50, cost_per_day_usd: "2.00" },
  { debates_per_day: null, cost_per_day_usd: null },
]);

const DECIMAL_PATTERN = "^\\d+(\\.\\d+)?$";

/**
 * A setting's rule in JSON Schema, from its validator in `src/config.ts`: integers with their
 * bounds, the USD limits (a decimal string when read; a number or a decimal string when written),
 * the closed lists and the https URL (a predicate there, stated here).
 */
function settingJsonSchema(key: RuntimeSettingKey, use: "read" | "write"): JsonSchema {
  const spec = runtimeSettingSpecs[key];
  const rule = jsonSchemaOf(spec.schema);
  const documented = {
    description: `${spec.expected}; default ${spec.defaultValue}`,
    default: defaultSetting(key),
  };
  // A setting that may be empty (MODERATOR_PROVIDER_ID: "" is "the first enabled provider").
  if (rule.type === "integer" && spec.defaultValue === "")
    return { anyOf: [rule, { type: "string", maxLength: 0 }], ...documented };
  if (rule.type === "integer") return { ...rule, ...documented };
  // A closed list (ACCESS_MODE, GROUP_CHATS).
  if (Array.isArray(rule.enum)) return { type: "string", ...rule, ...documented };
  if (rule.type === "number") {
    const decimal = { type: "string", pattern: DECIMAL_PATTERN };
    return use === "read" ? { ...decimal, ...documented } : { anyOf: [rule, decimal], ...documented };
  }
  return { type: "string", format: "uri", pattern: "^https://", ...documented };
}

const settingsProperties = (use: "read" | "write") =>
  Object.fromEntries(runtimeSettingKeys.map((key) => [key, settingJsonSchema(key, use)]));

/** The components of the document, each referenced by `$ref` wherever a route uses it. */
export const apiComponents: ApiComponent[] = [
  {
    schema: errorView,
    description:
      "Every failed call: a stable machine-readable `code`, a message for people, and `details` (e.g. the invalid fields) when there are any.",
  },
  {
    schema: createSessionBody,
    description: "A debate to create: the topic, and optionally the round limit and who takes part.",
    properties: {
      topic: {
        type: "string",
        minLength: 1,
        maxLength: TOPIC_MAX_LENGTH,
        description: `1–${TOPIC_MAX_LENGTH} characters once trimmed; otherwise 422 \`invalid_topic\`.`,
      },
    },
  },
  { schema: totalsView, description: "Tokens and cost (USD, decimal string) of a session so far." },
  { schema: participantView, description: "A provider taking part in a session, with its persona." },
  {
    schema: messageView,
    description: "One turn (or a summary, system note or user interjection) with its tokens and cost.",
  },
  { schema: sessionSummaryView, description: "A debate session with its totals." },
  {
    schema: sessionDetailView,
    description: "A debate session with its participants, its whole history and its totals.",
  },
  { schema: sessionListView, description: "One page of sessions, newest first." },
  {
    schema: providerInput,
    description:
      'A provider to create or replace. `api_key` is write-only; omit it to keep the stored key, send `""` or null to remove it.',
  },
  { schema: providerPatch, description: "Some fields of a provider to change." },
  {
    schema: providerView,
    description: "An LLM endpoint taking part in debates; the key is never shown, only whether one is set.",
  },
  { schema: personalityInput, description: "A personality to create or replace." },
  { schema: personalityPatch, description: "Some fields of a personality to change." },
  { schema: personalityView, description: "A persona providers speak with." },
  {
    schema: settingsView,
    description: "Every runtime setting by its env name; the environment gives the defaults.",
    properties: settingsProperties("read"),
  },
  {
    schema: updateSettingsBody,
    description:
      "Settings to change, by env name. Integers may also be sent as decimal strings. Every key is checked before any is written; on error nothing changes (422 `settings_invalid`).",
    properties: settingsProperties("write"),
  },
  {
    schema: testConnectionView,
    description: "Outcome of a connection test: latency and a sample, or the provider's error.",
  },
  { schema: deletedView, description: "What was deleted." },
  {
    schema: userView,
    description:
      "A Telegram user of the bot: usage of the current UTC day and in all, and what the operator set (blocked, allowed, own daily limits; null = the setting).",
  },
  { schema: userListView, description: "One page of users, the most recently seen first." },
  {
    schema: userPatch,
    description:
      "What to change of a user. `debates_per_day` and `cost_per_day_usd` override USER_DEBATES_PER_DAY and USER_COST_PER_DAY_USD for them (0 = no limit; null = back to the setting).",
  },
  { schema: reorderProvidersBody, description: "Provider ids in their new speaking order." },
];
