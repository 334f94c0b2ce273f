import { Elysia } from "elysia";

/** What /health asks: each returns true when its store answers. */
export interface HealthProbes {
  db: () => Promise<boolean>;
  redis: () => Promise<boolean>;
  /** `redis` or `memory` (in-process coordination, reported as such). */
  coordinationKind: "redis" | "memory";
}

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
      };
    },
    { detail: { summary: "Liveness of the database and Redis", tags: ["health"] } },
  );
}
