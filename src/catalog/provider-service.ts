/**
 * Providers (the LLM endpoints that debate): create, edit, delete, reorder, test a connection.
 *
 * Door-free: the API and the admin both call this with the same snake_case input, validated by the
 * same arktype schemas the API publishes. The API key is write-only: it is stored Fernet-encrypted
 * and leaves this module only as `has_api_key`, `api_key_status` and a masked tail. It stays bound
 * to the origin it was entered for: a `base_url` moved to another origin drops it unless a key comes
 * with the move, so whoever can edit a provider cannot send its key somewhere else. Every write is
 * audited in the same transaction, with field names and non-secret values only.
 */
import { type } from "arktype";
import { asc, eq, inArray, sql } from "drizzle-orm";
import type { AuditLogService } from "../audit/audit-log";
import { type Provider, personalities, providers } from "../db/schema";
import { createChatModelFor, readApiKey } from "../debate/model-factory";
import { type OpenAiChatModelOptions, RESERVED_BODY_FIELDS } from "../llm/openai-chat-model";
import { BASE_URL_RULE, baseUrlRefusal, type HostPattern, parseBaseUrl } from "../llm/provider-url";
import { type TestConnectionResult, testConnection } from "../llm/test-connection";
import { type Db, isUniqueViolation } from "../platform/db";
import type { Logger } from "../platform/logger";
import { maskSecret, type SecretBox } from "../platform/secret-box";
import { CatalogError, describeIssues, type FieldIssue } from "./catalog-errors";
import { stringFormats } from "./string-formats";

const notBlank = (value: string, ctx: { mustBe(expected: string): false }) =>
  value.trim() !== "" || ctx.mustBe("not blank");

const reservedList = [...RESERVED_BODY_FIELDS].join(", ");

/**
 * A JSON object (not an array) of provider-specific request fields, none of those we set. Neither
 * message echoes the value (arktype would append it): extra fields and URLs can carry credentials.
 */
const extraFields = type({ "[string]": "unknown" }).narrow((value, ctx) => {
  if (Array.isArray(value)) return ctx.reject({ expected: "an object", actual: "an array" });
  const reserved = Object.keys(value).filter((key) => RESERVED_BODY_FIELDS.has(key));
  return (
    reserved.length === 0 ||
    ctx.reject({
      expected: `an object without the fields the server sets (${reservedList})`,
      actual: reserved.join(", "),
    })
  );
});

// `format` is documentation (OpenAPI) only, as in ./string-formats.
const baseUrl = type("string <= 2000")
  .narrow((value, ctx) => parseBaseUrl(value) !== null || ctx.reject({ expected: BASE_URL_RULE, actual: "" }))
  .configure({ format: "uri" });

/** Model parameters; prices are USD per 1M tokens. Unknown fields belong in `extra`. */
export const providerParamsSchema = type({
  "temperature?": "0 <= number <= 2",
  "max_tokens?": "1 <= number.integer <= 1000000",
  "price_input_per_1m?": "number >= 0",
  "price_cached_input_per_1m?": "number >= 0",
  "price_output_per_1m?": "number >= 0",
  "extra?": extraFields,
  "+": "reject",
});

const providerFields = {
  name: type("1 <= string <= 100").narrow(notBlank),
  type: "'openai' | 'deepseek' | 'openai_compatible'",
  base_url: baseUrl,
  /** Write-only. Omitted: keep the stored key; `""` or null: remove it. */
  "api_key?": "string <= 500 | null",
  model_id: type("1 <= string <= 200").narrow(notBlank),
  "params?": providerParamsSchema,
  "enabled?": "boolean",
  "order_index?": "0 <= number.integer <= 1000000",
  "default_personality_id?": "number.integer > 0 | null",
} as const;

/** Body of a create (and of a full update): name, type, base_url and model_id are required. */
export const providerInputSchema = type({ ...providerFields, "+": "reject" });
/** Body of a partial update: any subset of the fields. */
export const providerPatchSchema = providerInputSchema.partial();

export type ProviderInput = typeof providerInputSchema.infer;
export type ProviderPatch = typeof providerPatchSchema.infer;

/** Parameters as shown (stored rows may predate a field). */
export const providerParamsViewSchema = type({
  "temperature?": "number",
  "max_tokens?": "number",
  "price_input_per_1m?": "number",
  "price_cached_input_per_1m?": "number",
  "price_output_per_1m?": "number",
  "extra?": "object",
});

/** A provider as every door shows it: never the key, only whether one is set and its last characters. */
export const providerViewSchema = type({
  id: "number.integer",
  name: "string",
  type: "'openai' | 'deepseek' | 'openai_compatible'",
  base_url: stringFormats.uri,
  model_id: "string",
  params: providerParamsViewSchema,
  enabled: "boolean",
  order_index: "number.integer",
  default_personality_id: "number.integer | null",
  has_api_key: "boolean",
  api_key_status: "'set' | 'missing' | 'unreadable'",
  api_key_masked: "string | null",
  created_at: stringFormats.dateTime,
  updated_at: stringFormats.dateTime,
});
export type ProviderView = typeof providerViewSchema.infer;

export interface ProviderService {
  list(): Promise<ProviderView[]>;
  /** Throws `CatalogError("provider_not_found")`. */
  get(id: number): Promise<ProviderView>;
  /** Validates `input` with {@link providerInputSchema}; appended at the end unless `order_index` is given. */
  create(input: unknown, actor: string): Promise<ProviderView>;
  /**
   * Partial update ({@link providerPatchSchema}); an omitted `api_key` keeps the stored key, unless
   * `base_url` moves to another origin (scheme, host, port): then the stored key is dropped.
   */
  update(id: number, patch: unknown, actor: string): Promise<ProviderView>;
  /**
   * Full update ({@link providerInputSchema}: the required fields must be present); omitted optional
   * fields keep their stored values, the API key included (same origin rule as `update`).
   */
  replace(id: number, input: unknown, actor: string): Promise<ProviderView>;
  remove(id: number, actor: string): Promise<void>;
  /** Sets `order_index` to each id's position in `ids` (others keep theirs). */
  reorder(ids: number[], actor: string): Promise<ProviderView[]>;
  /**
   * One tiny real call with the stored settings. A failure reads as its classification (kind,
   * status), never the provider's text; that text, scrubbed, goes to the log.
   */
  testConnection(id: number, signal?: AbortSignal): Promise<TestConnectionResult>;
}

export interface ProviderServiceDeps {
  db: Db;
  audit: AuditLogService;
  secretBox: SecretBox;
  /** Passed to the chat model of a connection test (tests shorten retries). */
  chatModelOptions?: OpenAiChatModelOptions;
  /** `PROVIDER_HOSTS`: a base_url on another host is refused, and never called. Default: any host. */
  providerHosts?: readonly HostPattern[];
  /** Where a failed connection test's (scrubbed) provider text goes. */
  logger?: Logger;
}

/** Validates with one of the schemas above; throws `invalid_input` with value-free issues. */
function parse<T>(schema: (input: unknown) => unknown, input: unknown): T {
  const result = schema(input);
  if (result instanceof type.errors) {
    throw new CatalogError("invalid_input", "Invalid provider.", describeIssues(result));
  }
  return result as T;
}

function notFound(id: number): CatalogError {
  return new CatalogError("provider_not_found", `Provider ${id} not found.`);
}

/** Fields of the write shape and their columns; `api_key` is handled apart. */
const columnOf = {
  name: "name",
  type: "type",
  base_url: "baseUrl",
  model_id: "modelId",
  params: "params",
  enabled: "enabled",
  order_index: "orderIndex",
  default_personality_id: "defaultPersonalityId",
} as const satisfies Record<Exclude<keyof ProviderInput, "api_key">, keyof Provider>;
type PlainField = keyof typeof columnOf;

/** Scheme, host and port of a stored base_url; null for one that does not parse (a legacy row). */
function originOf(url: string): string | null {
  return parseBaseUrl(url)?.origin ?? null;
}

/** Trims what users paste with stray spaces; the rest is stored as validated. */
function normalizeValue(field: PlainField, value: unknown): unknown {
  if (field === "name" || field === "model_id" || field === "base_url") return (value as string).trim();
  return value;
}

/** Deep equality that ignores object key order (jsonb does not keep it). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => key in right && sameValue(left[key], right[key]))
  );
}

export function createProviderService(deps: ProviderServiceDeps): ProviderService {
  const { db, audit, secretBox } = deps;

  const toView = (row: Provider): ProviderView => {
    const { status, apiKey } = readApiKey(row, secretBox);
    // A key encrypted under a key no longer configured exists, but nothing of it can be shown.
    const masked = status === "set" ? maskSecret(apiKey) : status === "unreadable" ? "••••" : null;
    return {
      id: row.id,
      name: row.name,
      type: row.type,
      base_url: row.baseUrl,
      model_id: row.modelId,
      params: row.params as ProviderView["params"],
      enabled: row.enabled,
      order_index: row.orderIndex,
      default_personality_id: row.defaultPersonalityId,
      has_api_key: row.apiKeyEncrypted !== null,
      api_key_status: status,
      api_key_masked: masked,
      created_at: row.createdAt.toISOString(),
      updated_at: row.updatedAt.toISOString(),
    };
  };

  const load = async (executor: Db, id: number, lock = false): Promise<Provider> => {
    if (!Number.isSafeInteger(id) || id <= 0) throw notFound(id);
    const query = executor.select().from(providers).where(eq(providers.id, id));
    const [row] = lock ? await query.for("update") : await query;
    if (!row) throw notFound(id);
    return row;
  };

  const checkPersonality = async (executor: Db, personalityId: number | null | undefined) => {
    if (personalityId == null) return;
    const [row] = await executor
      .select({ id: personalities.id })
      .from(personalities)
      .where(eq(personalities.id, personalityId));
    if (!row) {
      const issue: FieldIssue = {
        path: "default_personality_id",
        message: `default_personality_id: personality ${personalityId} not found`,
      };
      throw new CatalogError("invalid_input", "Invalid provider.", [issue]);
    }
  };

  const providerHosts = deps.providerHosts ?? [];

  /** Refuses a new base_url whose host `PROVIDER_HOSTS` does not allow (the schema checked its form). */
  const checkHost = (url: string) => {
    const refusal = baseUrlRefusal(url, providerHosts);
    if (refusal) {
      throw new CatalogError("invalid_input", `Invalid provider: ${refusal}.`, [
        { path: "base_url", message: refusal },
      ]);
    }
  };

  /** `undefined`: keep; `null`: remove; string: the new encrypted key. */
  const encryptedKeyFor = (apiKey: string | null | undefined): string | null | undefined => {
    if (apiKey === undefined) return undefined;
    const trimmed = apiKey?.trim() ?? "";
    return trimmed === "" ? null : secretBox.encrypt(trimmed);
  };

  const keyDiffers = (current: string | null, next: string | null): boolean => {
    if (current === null || next === null) return current !== next;
    try {
      return secretBox.decrypt(current) !== secretBox.decrypt(next);
    } catch {
      return true;
    }
  };

  const mapConflict = (error: unknown, name: string | undefined): never => {
    if (isUniqueViolation(error)) {
      throw new CatalogError("name_taken", `A provider named ${JSON.stringify(name ?? "")} already exists.`);
    }
    throw error;
  };

  const applyUpdate = async (id: number, patch: ProviderPatch, actor: string): Promise<ProviderView> => {
    try {
      return await db.transaction(async (tx) => {
        const executor = tx as unknown as Db;
        const current = await load(executor, id, true);
        await checkPersonality(executor, patch.default_personality_id);
        const set: Record<string, unknown> = {};
        const changed: string[] = [];
        const values: Record<string, unknown> = {};
        for (const field of Object.keys(columnOf) as PlainField[]) {
          if (patch[field] === undefined) continue;
          const value = normalizeValue(field, patch[field]);
          const column = columnOf[field];
          if (sameValue(current[column], value)) continue;
          set[column] = value;
          changed.push(field);
          values[field] = value;
        }
        if (set.baseUrl !== undefined) checkHost(set.baseUrl as string);
        const nextKey = encryptedKeyFor(patch.api_key);
        const keyChanged = nextKey !== undefined && keyDiffers(current.apiKeyEncrypted, nextKey);
        // A key entered for one origin is never sent to another: moving base_url there without a
        // key in the same request drops it (else an edit plus "test connection" would exfiltrate it).
        const keyDropped =
          nextKey === undefined &&
          current.apiKeyEncrypted !== null &&
          set.baseUrl !== undefined &&
          originOf(current.baseUrl) !== originOf(set.baseUrl as string);
        if (keyChanged || keyDropped) {
          set.apiKeyEncrypted = keyDropped ? null : nextKey;
          changed.push("api_key");
        }
        if (changed.length === 0) return toView(current);
        // updated_at also versions the cached chat model: an edit applies from the next turn.
        const [row] = await executor
          .update(providers)
          .set({ ...set, updatedAt: sql`now()` })
          .where(eq(providers.id, id))
          .returning();
        await audit.record(
          {
            actor,
            action: "provider.update",
            target: `provider:${id}`,
            // The key is never recorded, not even encrypted: only that it changed.
            meta: {
              name: row!.name,
              changed,
              values,
              ...(keyChanged || keyDropped ? { key_changed: true } : {}),
              ...(keyDropped ? { key_dropped: "base_url origin changed" } : {}),
            },
          },
          executor,
        );
        return toView(row!);
      });
    } catch (error) {
      return mapConflict(error, patch.name);
    }
  };

  return {
    async list() {
      const rows = await db.select().from(providers).orderBy(asc(providers.orderIndex), asc(providers.id));
      return rows.map(toView);
    },

    async get(id) {
      return toView(await load(db, id));
    },

    async create(input, actor) {
      const valid = parse<ProviderInput>(providerInputSchema, input);
      checkHost(valid.base_url);
      try {
        return await db.transaction(async (tx) => {
          const executor = tx as unknown as Db;
          await checkPersonality(executor, valid.default_personality_id);
          let orderIndex = valid.order_index;
          if (orderIndex === undefined) {
            const [last] = await executor
              .select({ max: sql<number | null>`max(${providers.orderIndex})` })
              .from(providers);
            orderIndex = last?.max == null ? 0 : Number(last.max) + 1;
          }
          const values = {
            name: valid.name.trim(),
            type: valid.type,
            base_url: valid.base_url.trim(),
            model_id: valid.model_id.trim(),
            params: (valid.params ?? {}) as Record<string, unknown>,
            enabled: valid.enabled ?? true,
            order_index: orderIndex,
            default_personality_id: valid.default_personality_id ?? null,
          };
          const apiKeyEncrypted = encryptedKeyFor(valid.api_key) ?? null;
          const [row] = await executor
            .insert(providers)
            .values({
              name: values.name,
              type: values.type,
              baseUrl: values.base_url,
              modelId: values.model_id,
              params: values.params,
              enabled: values.enabled,
              orderIndex: values.order_index,
              defaultPersonalityId: values.default_personality_id,
              apiKeyEncrypted,
            })
            .returning();
          await audit.record(
            {
              actor,
              action: "provider.create",
              target: `provider:${row!.id}`,
              meta: { values, ...(apiKeyEncrypted ? { key_changed: true } : {}) },
            },
            executor,
          );
          return toView(row!);
        });
      } catch (error) {
        return mapConflict(error, valid.name);
      }
    },

    async update(id, patch, actor) {
      return applyUpdate(id, parse<ProviderPatch>(providerPatchSchema, patch), actor);
    },

    async replace(id, input, actor) {
      return applyUpdate(id, parse<ProviderInput>(providerInputSchema, input), actor);
    },

    async remove(id, actor) {
      await db.transaction(async (tx) => {
        const executor = tx as unknown as Db;
        const current = await load(executor, id, true);
        await executor.delete(providers).where(eq(providers.id, id));
        await audit.record(
          { actor, action: "provider.delete", target: `provider:${id}`, meta: { name: current.name } },
          executor,
        );
      });
    },

    async reorder(ids, actor) {
      if (new Set(ids).size !== ids.length) {
        throw new CatalogError("invalid_input", "Invalid order.", [
          { path: "", message: "each provider id must appear once" },
        ]);
      }
      await db.transaction(async (tx) => {
        const executor = tx as unknown as Db;
        const rows =
          ids.length === 0
            ? []
            : await executor.select({ id: providers.id }).from(providers).where(inArray(providers.id, ids));
        const known = new Set(rows.map((row) => row.id));
        const missing = ids.find((id) => !known.has(id));
        if (missing !== undefined) throw notFound(missing);
        for (const [index, id] of ids.entries()) {
          await executor
            .update(providers)
            .set({ orderIndex: index, updatedAt: sql`now()` })
            .where(eq(providers.id, id));
        }
        await audit.record(
          { actor, action: "provider.reorder", target: "providers", meta: { order: ids } },
          executor,
        );
      });
      const rows = await db.select().from(providers).orderBy(asc(providers.orderIndex), asc(providers.id));
      return rows.map(toView);
    },

    async testConnection(id, signal) {
      const row = await load(db, id);
      const model = createChatModelFor(row, secretBox, {
        retry: { maxAttempts: 2, baseDelayMs: 300 },
        ...deps.chatModelOptions,
        providerHosts,
      });
      const result = await testConnection(model, signal);
      if (!result.ok) {
        deps.logger?.warn("provider connection test failed", {
          provider: row.id,
          code: result.cause.code,
          status: result.cause.status,
          message: result.cause.message,
        });
      }
      return result;
    },
  };
}
