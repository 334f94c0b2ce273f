/**
 * Request and response schemas of the session and settings routes (arktype): the single source
 * of their types, of validation and of the OpenAPI document. Provider and personality schemas
 * live with their services in `src/catalog/`, shared with the admin.
 */
import { type } from "arktype";
import { roundsRule } from "../../config";

const sessionStatus = "'created' | 'running' | 'finished' | 'stopped' | 'failed'";
const stopReason =
  "'user' | 'admin' | 'max_rounds' | 'turn_timeout' | 'session_timeout' | 'token_limit' | 'cost_limit' | 'no_participants' | 'error'";

/** Query strings are not coerced by Elysia for Standard Schema: integers are parsed here. */
const integerQuery = type("string.integer.parse");

export const sessionIdParams = type({ id: "string" });
export const numericIdParams = type({ id: "string.integer.parse" });

export const createSessionBody = type({
  /** 1–1000 characters once trimmed. */
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
});

export const listSessionsQuery = type({
  "status?": sessionStatus,
  "user_id?": integerQuery.to("number.integer > 0"),
  /** Page size, 1–100; default 20. */
  "limit?": integerQuery.to("1 <= number.integer <= 100"),
  "offset?": integerQuery.to("number.integer >= 0"),
});

export const totalsView = type({
  tokens_in: "number.integer",
  tokens_out: "number.integer",
  cached_tokens: "number.integer",
  /** USD, decimal string with 8 places (never a float). */
  cost: "string",
});

export const participantView = type({
  id: "number.integer",
  provider_id: "number.integer | null",
  personality_id: "number.integer | null",
  display_name: "string",
  persona_title: "string | null",
  order_index: "number.integer",
  status: "'active' | 'excluded'",
  exclusion_reason: "string | null",
});

export const messageView = type({
  id: "number.integer",
  turn_index: "number.integer",
  round: "number.integer",
  author_type: "'model' | 'system' | 'summary' | 'user'",
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
  created_at: "string",
});

const sessionFields = {
  id: "string",
  topic: "string",
  status: sessionStatus,
  stop_reason: `${stopReason} | null`,
  stop_detail: "string | null",
  source: "string",
  user_id: "number.integer | null",
  current_round: "number.integer",
  max_rounds: "number.integer",
  created_at: "string",
  started_at: "string | null",
  finished_at: "string | null",
  totals: totalsView,
} as const;

export const sessionSummaryView = type(sessionFields);

export const sessionDetailView = type({
  ...sessionFields,
  participants: participantView.array(),
  messages: messageView.array(),
});

export const sessionListView = type({
  items: sessionSummaryView.array(),
  total: "number.integer",
  limit: "number.integer",
  offset: "number.integer",
});

/** Every runtime setting, by its env name (SPEC §8). */
export const settingsView = type({
  MAX_ROUNDS: "number.integer",
  TURN_TIMEOUT_SEC: "number.integer",
  CONTEXT_TOKEN_LIMIT: "number.integer",
  SESSION_TIMEOUT_SEC: "number.integer",
  SESSION_TOKEN_LIMIT: "number.integer",
  SESSION_COST_LIMIT_USD: "string",
  PAYMENT_URL: "string",
  ADMIN_IDLE_TIMEOUT_MIN: "number.integer",
});

const settingValue = "number | string";
/** One or many settings; each is validated by its own rule (ranges, https URL) before any is written. */
export const updateSettingsBody = type({
  "MAX_ROUNDS?": settingValue,
  "TURN_TIMEOUT_SEC?": settingValue,
  "CONTEXT_TOKEN_LIMIT?": settingValue,
  "SESSION_TIMEOUT_SEC?": settingValue,
  "SESSION_TOKEN_LIMIT?": settingValue,
  "SESSION_COST_LIMIT_USD?": settingValue,
  "PAYMENT_URL?": settingValue,
  "ADMIN_IDLE_TIMEOUT_MIN?": settingValue,
  "+": "reject",
});

export const testConnectionView = type({
  ok: "boolean",
  "latency_ms?": "number",
  "sample?": "string",
  "error?": { code: "string", message: "string", "status?": "number" },
});

export const deletedView = type({ deleted: "true", id: "number.integer" });

/** Provider ids in their new speaking order. */
export const reorderProvidersBody = type({ ids: "number.integer[]", "+": "reject" });
