/**
 * Personalities (the personas providers speak with): create, edit, delete.
 *
 * Door-free like the provider service: the API and the admin pass the same snake_case input,
 * validated by the schemas below; every write is audited in the same transaction.
 */
import { type } from "arktype";
import { asc, eq, sql } from "drizzle-orm";
import type { AuditLogService } from "../audit/audit-log";
import { type Personality, personalities } from "../db/schema";
import { type Db, isUniqueViolation } from "../platform/db";
import { CatalogError, describeIssues } from "./catalog-errors";
import { stringFormats } from "./string-formats";

const notBlank = (value: string, ctx: { mustBe(expected: string): false }) =>
  value.trim() !== "" || ctx.mustBe("not blank");

/** Body of a create (and of a full update): title and instructions are required. */
export const personalityInputSchema = type({
  title: type("1 <= string <= 100").narrow(notBlank),
  instructions: type("1 <= string <= 4000").narrow(notBlank),
  "style?": "string <= 1000",
  "+": "reject",
});
/** Body of a partial update. */
export const personalityPatchSchema = personalityInputSchema.partial();

export type PersonalityInput = typeof personalityInputSchema.infer;
export type PersonalityPatch = typeof personalityPatchSchema.infer;

export const personalityViewSchema = type({
  id: "number.integer",
  title: "string",
  instructions: "string",
  style: "string",
  created_at: stringFormats.dateTime,
  updated_at: stringFormats.dateTime,
});
export type PersonalityView = typeof personalityViewSchema.infer;

export interface PersonalityService {
  list(): Promise<PersonalityView[]>;
  /** Throws `CatalogError("personality_not_found")`. */
  get(id: number): Promise<PersonalityView>;
  create(input: unknown, actor: string): Promise<PersonalityView>;
  /** Partial update. */
  update(id: number, patch: unknown, actor: string): Promise<PersonalityView>;
  /** Full update: title and instructions required; an omitted style keeps its value. */
  replace(id: number, input: unknown, actor: string): Promise<PersonalityView>;
  /** Providers and past sessions that used it keep working (their references become null). */
  remove(id: number, actor: string): Promise<void>;
}

export interface PersonalityServiceDeps {
  db: Db;
  audit: AuditLogService;
}

const fields = ["title", "instructions", "style"] as const;

function toView(row: Personality): PersonalityView {
  return {
    id: row.id,
    title: row.title,
    instructions: row.instructions,
    style: row.style,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function notFound(id: number): CatalogError {
  return new CatalogError("personality_not_found", `Personality ${id} not found.`);
}

function parse<T>(schema: (input: unknown) => unknown, input: unknown): T {
  const result = schema(input);
  if (result instanceof type.errors) {
    throw new CatalogError("invalid_input", "Invalid personality.", describeIssues(result));
  }
  return result as T;
}

const trimmed = (patch: PersonalityPatch): PersonalityPatch => ({
  ...patch,
  ...(patch.title === undefined ? {} : { title: patch.title.trim() }),
  ...(patch.instructions === undefined ? {} : { instructions: patch.instructions.trim() }),
  ...(patch.style === undefined ? {} : { style: patch.style.trim() }),
});

export function createPersonalityService(deps: PersonalityServiceDeps): PersonalityService {
  const { db, audit } = deps;

  const load = async (executor: Db, id: number, lock = false): Promise<Personality> => {
    if (!Number.isSafeInteger(id) || id <= 0) throw notFound(id);
    const query = executor.select().from(personalities).where(eq(personalities.id, id));
    const [row] = lock ? await query.for("update") : await query;
    if (!row) throw notFound(id);
    return row;
  };

  const mapConflict = (error: unknown, title: string | undefined): never => {
    if (isUniqueViolation(error)) {
      throw new CatalogError(
        "title_taken",
        `A personality titled ${JSON.stringify(title ?? "")} already exists.`,
      );
    }
    throw error;
  };

  const applyUpdate = async (id: number, patch: PersonalityPatch, actor: string) => {
    const next = trimmed(patch);
    try {
      return await db.transaction(async (tx) => {
        const executor = tx as unknown as Db;
        const current = await load(executor, id, true);
        const set: Partial<Record<(typeof fields)[number], string>> = {};
        const changed: string[] = [];
        for (const field of fields) {
          const value = next[field];
          if (value === undefined || value === current[field]) continue;
          set[field] = value;
          changed.push(field);
        }
        if (changed.length === 0) return toView(current);
        const [row] = await executor
          .update(personalities)
          .set({ ...set, updatedAt: sql`now()` })
          .where(eq(personalities.id, id))
          .returning();
        await audit.record(
          {
            actor,
            action: "personality.update",
            target: `personality:${id}`,
            meta: { title: row!.title, changed, values: set },
          },
          executor,
        );
        return toView(row!);
      });
    } catch (error) {
      return mapConflict(error, next.title);
    }
  };

  return {
    async list() {
      const rows = await db.select().from(personalities).orderBy(asc(personalities.id));
      return rows.map(toView);
    },

    async get(id) {
      return toView(await load(db, id));
    },

    async create(input, actor) {
      const valid = trimmed(parse<PersonalityInput>(personalityInputSchema, input)) as PersonalityInput;
      const values = { title: valid.title, instructions: valid.instructions, style: valid.style ?? "" };
      try {
        return await db.transaction(async (tx) => {
          const executor = tx as unknown as Db;
          const [row] = await executor.insert(personalities).values(values).returning();
          await audit.record(
            { actor, action: "personality.create", target: `personality:${row!.id}`, meta: { values } },
            executor,
          );
          return toView(row!);
        });
      } catch (error) {
        return mapConflict(error, values.title);
      }
    },

    async update(id, patch, actor) {
      return applyUpdate(id, parse<PersonalityPatch>(personalityPatchSchema, patch), actor);
    },

    async replace(id, input, actor) {
      return applyUpdate(id, parse<PersonalityInput>(personalityInputSchema, input), actor);
    },

    async remove(id, actor) {
      await db.transaction(async (tx) => {
        const executor = tx as unknown as Db;
        const current = await load(executor, id, true);
        await executor.delete(personalities).where(eq(personalities.id, id));
        await audit.record(
          {
            actor,
            action: "personality.delete",
            target: `personality:${id}`,
            meta: { title: current.title },
          },
          executor,
        );
      });
    },
  };
}
