import { type } from "arktype";
import { Elysia } from "elysia";
import { type ApiComponent, named } from "./api/openapi-components";
import { answer } from "./api/route-doc";

/** What /health asks: each returns true when its store answers. */
export interface HealthProbes {
  db: () => Promise<boolean>;
  redis: () => Promise<boolean>;
  /** `redis` or `memory` (in-process coordination, reported as such). */
  coordinationKind: "redis" | "memory";
}

export const healthView = named(
  "Health",
  type({
    status: "'ok' | 'unavailable'",
    db: "'up' | 'down'",
    redis: "'up' | 'down' | 'in-process'",
  }),
  [
    { status: "ok", db: "up", redis: "up" },
    { status: "unavailable", db: "up", redis: "down" },
  ],
);

/** The `Health` component of the OpenAPI document. */
export const healthComponent: ApiComponent = {
  schema: healthView,
  description: "Whether the database and Redis answer (`in-process`: no Redis configured, one instance).",
};

/** GET /health → 200 `{status, db, redis}` when both answer, else 503. */
export function createHealthRoutes(probes: HealthProbes) {
  return new Elysia({ name: "health" }).get(
    "/health",
    async ({ set }) => {
      const [db, redis] = await Promise.all([probes.db(), probes.redis()]);
      const ok = db && redis;
      set.status = ok ? 200 : 503;
      return {
        status: ok ? "ok" : "unavailable",
        db: db ? "up" : "down",
        redis: probes.coordinationKind === "memory" ? "in-process" : redis ? "up" : "down",
      } as const;
    },
    {
      response: {
        200: answer(healthView, "The database and Redis answer"),
        503: answer(healthView, "The database or Redis does not answer"),
      },
      // Open to load balancers and orchestrators: no token.
      detail: {
        operationId: "getHealth",
        summary: "Liveness of the database and Redis",
        tags: ["health"],
        security: [],
      },
    },
  );
}
