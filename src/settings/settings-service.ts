import { inArray, sql } from "drizzle-orm";
import type { AuditLogService } from "../audit/audit-log";
import {
  ConfigError,
  parseRuntimeSetting,
  type RuntimeSettingKey,
  type RuntimeSettings,
  runtimeSettingKeys,
} from "../config";
import { settings } from "../db/schema";
import { createBatcher } from "../platform/batcher";
import type { Db } from "../platform/db";

/** One invalid setting in an update: the key and a message safe to show. */
export interface SettingIssue {
  key: string;
  message: string;
}

/** Thrown by `update` when any key is unknown or invalid; nothing is written then. */
export class SettingsValidationError extends Error {
  readonly code = "settings_invalid";
  constructor(readonly issues: SettingIssue[]) {
    super(issues.map((issue) => issue.message).join("; "));
    this.name = "SettingsValidationError";
  }
}

export interface SettingsService {
  /** Current values: the settings table over the env defaults. */
  getAll(): Promise<RuntimeSettings>;
  /** Validates every key first, then writes all of them in one transaction and audits it. */
  update(changes: Record<string, unknown>, actor: string): Promise<RuntimeSettings>;
}

export function isRuntimeSettingKey(key: string): key is RuntimeSettingKey {
  return (runtimeSettingKeys as string[]).includes(key);
}

/** Validates an update without writing: the normalized values, or the issues found. */
export function validateSettings(changes: Record<string, unknown>): {
  values: Partial<Record<RuntimeSettingKey, string>>;
  issues: SettingIssue[];
} {
  const values: Partial<Record<RuntimeSettingKey, string>> = {};
  const issues: SettingIssue[] = [];
  for (const [key, value] of Object.entries(changes)) {
    if (!isRuntimeSettingKey(key)) {
      issues.push({ key, message: `${key} is not a setting (known: ${runtimeSettingKeys.join(", ")})` });
      continue;
    }
    try {
      values[key] = String(parseRuntimeSetting(key, value));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues.push({ key, message: error.message });
    }
  }
  return { values, issues };
}

export function createSettingsService(deps: {
  db: Db;
  defaults: RuntimeSettings;
  audit: AuditLogService;
}): SettingsService {
  const { db, defaults, audit } = deps;
  // Every debate start reads the settings: the reads asked for in the same event-loop turn (a burst
  // of starts) share one query, made after all of them were asked, so none sees an older value.
  const read = createBatcher<void, RuntimeSettings>(async (callers) => {
    const rows = await db.select().from(settings).where(inArray(settings.key, runtimeSettingKeys));
    const result = { ...defaults } as Record<RuntimeSettingKey, unknown>;
    for (const row of rows) {
      if (!isRuntimeSettingKey(row.key)) continue;
      try {
        result[row.key] = parseRuntimeSetting(row.key, row.value);
      } catch {
        // A stored value that no longer validates (rules tightened) falls back to the default.
      }
    }
    return callers.map(() => ({ ...result }) as unknown as RuntimeSettings);
  });
  const getAll = () => read();
  return {
    getAll,
    async update(changes, actor) {
      const { values, issues } = validateSettings(changes);
      if (issues.length > 0) throw new SettingsValidationError(issues);
      const entries = Object.entries(values) as [RuntimeSettingKey, string][];
      if (entries.length > 0) {
        await db.transaction(async (tx) => {
          for (const [key, value] of entries) {
            await tx
              .insert(settings)
              .values({ key, value })
              .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: sql`now()` } });
          }
          await audit.record(
            { actor, action: "settings.update", target: "settings", meta: { changes: values } },
            tx as unknown as Db,
          );
        });
      }
      return getAll();
    },
  };
}
