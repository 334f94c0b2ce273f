import { sql } from "drizzle-orm";
import { type Provider, providers } from "../db/schema";
import { createBatcher } from "../platform/batcher";
import { type Db, listen } from "../platform/db";

/** The channel a trigger on `providers` notifies on every change (migration 0001). */
export const PROVIDERS_CHANGED = "providers_changed";

/** Where the turns get their provider rows. */
export interface ProviderSource {
  /** The provider row as it is now, or undefined when it was deleted. */
  get(id: number): Promise<Provider | undefined>;
}

/**
 * Provider rows read once and kept until a provider changes. Every insert, update or delete on
 * `providers` notifies every instance (LISTEN/NOTIFY), which drops what it holds, so a key, model
 * or price edited in the admin (or in SQL) applies from the next turn on, without a query on every
 * turn. Reads of rows not held yet, made in the same event-loop turn, share one query.
 */
export function createProviderCache(db: Db): ProviderSource & {
  start(): Promise<void>;
  stop(): Promise<void>;
} {
  const byIds = db
    .select()
    .from(providers)
    .where(sql`${providers.id} = any(${sql.placeholder("ids")})`)
    .prepare("provider_cache_by_ids");
  const load = createBatcher<number, Provider | undefined>(async (ids) => {
    const rows = await byIds.execute({ ids: [...new Set(ids)] });
    return ids.map((id) => rows.find((row) => row.id === id));
  });
  let held = new Map<number, Promise<Provider | undefined>>();
  let listening = false;
  let unlisten: (() => Promise<void>) | undefined;
  return {
    async start() {
      unlisten = await listen(db, PROVIDERS_CHANGED, () => {
        // A read in flight may predate the change: it answers its caller but is not kept.
        held = new Map();
      });
      listening = true;
    },
    async stop() {
      listening = false;
      held = new Map();
      await unlisten?.();
      unlisten = undefined;
    },
    get(id) {
      // Without the notifications nothing can be kept safely.
      if (!listening) return load(id);
      const known = held.get(id);
      if (known) return known;
      const map = held;
      const row = load(id);
      map.set(id, row);
      row.catch(() => map.delete(id));
      return row;
    },
  };
}
