import { desc, sql } from "drizzle-orm";
import { type AuditLog, auditLogs } from "../db/schema";
import type { Db } from "../platform/db";

/** One write made by an operator or an API client. */
export interface AuditEntry {
  /** `api`, `admin:<username>`, `bot`, `system`. */
  actor: string;
  /** Verb-noun, e.g. `provider.update`, `session.stop`. */
  action: string;
  /** What was written, e.g. `provider:3`. */
  target?: string | null;
  meta?: Record<string, unknown>;
}

/** Keys whose values are secrets: they are recorded as changed, never with their value. */
const SECRET_KEY_PATTERN = /(api_?key|apikey|token$|password|secret|authorization|cookie)/i;

/** Replaces every secret-looking field, at any depth, by "[redacted]". */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === "object") {
    const result: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      result[key] = SECRET_KEY_PATTERN.test(key) ? "[redacted]" : redactSecrets(inner);
    }
    return result;
  }
  return value;
}

export interface AuditLogService {
  record(entry: AuditEntry, db?: Db): Promise<void>;
  list(options: { limit: number; offset: number }): Promise<{ items: AuditLog[]; total: number }>;
}

/** The audit log every write goes through (admin and API). Metadata is redacted before storage. */
export function createAuditLog(db: Db): AuditLogService {
  return {
    async record(entry, executor = db) {
      await executor.insert(auditLogs).values({
        actor: entry.actor,
        action: entry.action,
        target: entry.target ?? null,
        meta: redactSecrets(entry.meta ?? {}) as Record<string, unknown>,
      });
    },
    async list({ limit, offset }) {
      const [items, [count]] = await Promise.all([
        db.select().from(auditLogs).orderBy(desc(auditLogs.id)).limit(limit).offset(offset),
        db.select({ total: sql<number>`count(*)::int` }).from(auditLogs),
      ]);
      return { items, total: count?.total ?? 0 };
    },
  };
}
