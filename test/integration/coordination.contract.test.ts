import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import type { Coordination } from "../../src/platform/coordination";
import { createLogger } from "../../src/platform/logger";
import { createMemoryCoordination } from "../../src/platform/memory-coordination";
import { createRedisCoordination } from "../../src/platform/redis-coordination";
import { eventually } from "../helpers/eventually";
import { requireServices, testRedisUrl } from "../helpers/test-db";

beforeAll(() => requireServices("redis"));

/** Every key this file writes lives under this prefix, so the cleanup below cannot touch anyone else's. */
const filePrefix = `rt-test:${crypto.randomUUID()}:`;
/** Nothing listens here: stands for "Redis is down". */
const deadRedisUrl = "redis://127.0.0.1:6390";

/** Two handles on the same shared state: two instances for Redis, one instance twice for memory. */
interface Pair {
  a: Coordination;
  b: Coordination;
}

/** Milliseconds `promise` took to settle, and whether it resolved or rejected. */
async function timeSettled<T>(
  promise: Promise<T>,
): Promise<{ ms: number; outcome: PromiseSettledResult<T> }> {
  const started = performance.now();
  const [outcome] = await Promise.allSettled([promise]);
  return { ms: performance.now() - started, outcome: outcome! };
}

function unique(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

/** A TCP proxy to Redis that a test can cut and restore, to stage an outage without touching Redis. */
interface OutageProxy {
  url: string;
  /** Stops listening and drops every proxied connection. */
  down(): void;
  /** Listens again on the same port. */
  up(): Promise<void>;
}

async function startProxy(target: URL): Promise<OutageProxy> {
  type Upstream = Awaited<ReturnType<typeof Bun.connect>>;
  interface Link {
    upstream?: Upstream;
    pending: Uint8Array[];
    closed: boolean;
  }
  const open = new Set<{ end(): void }>();
  const listen = (port: number) =>
    Bun.listen<Link>({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(client) {
          client.data = { pending: [], closed: false };
          open.add(client);
          Bun.connect({
            hostname: target.hostname,
            port: Number(target.port || 6379),
            socket: {
              data: (_upstream, chunk) => {
                client.write(chunk);
              },
              close: () => {
                client.end();
              },
              error: () => {
                client.end();
              },
            },
          }).then(
            (upstream) => {
              if (client.data.closed) {
                upstream.end();
                return;
              }
              open.add(upstream);
              client.data.upstream = upstream;
              for (const chunk of client.data.pending) upstream.write(chunk);
              client.data.pending = [];
            },
            () => {
              client.end();
            },
          );
        },
        data(client, chunk) {
          if (client.data.upstream) client.data.upstream.write(chunk);
          else client.data.pending.push(new Uint8Array(chunk));
        },
        close(client) {
          client.data.closed = true;
          open.delete(client);
          client.data.upstream?.end();
        },
      },
    });
  let listener: ReturnType<typeof listen> | undefined = listen(0);
  const port = listener.port;
  return {
    url: `redis://127.0.0.1:${port}${target.pathname}`,
    down() {
      listener?.stop(true);
      listener = undefined;
      for (const socket of open) socket.end();
      open.clear();
    },
    async up() {
      listener = listen(port);
    },
  };
}

/** The behaviour every Coordination implementation must share. */
function describeContract(name: Coordination["kind"], open: () => Promise<Pair>): void {
  describe(`Coordination contract: ${name}`, () => {
    let a: Coordination;
    let b: Coordination;

    beforeEach(async () => {
      ({ a, b } = await open());
    });

    afterEach(async () => {
      await a.close();
      await b.close();
    });

    test("reports its kind and answers ping", async () => {
      expect(a.kind).toBe(name);
      expect(await a.ping()).toBe(true);
      expect(await b.ping()).toBe(true);
    });

    test("a lock is held by one holder at a time", async () => {
      const key = unique("lock");
      const token = await a.acquireLock(key, 5000);
      expect(token).toBeString();
      expect(token).not.toBe("");
      expect(await b.acquireLock(key, 5000)).toBeNull();
      expect(await a.acquireLock(key, 5000)).toBeNull();
      // Another key is independent.
      const other = await b.acquireLock(unique("lock"), 5000);
      expect(other).toBeString();
      expect(other).not.toBe(token);
    });

    test("a lock frees itself once its TTL runs out", async () => {
      const key = unique("lock");
      const first = await a.acquireLock(key, 150);
      expect(first).toBeString();
      const started = performance.now();
      expect(await b.acquireLock(key, 150)).toBeNull();
      let second: string | null = null;
      await eventually(async () => {
        second = await b.acquireLock(key, 5000);
        return second !== null;
      });
      // Some slack for timer granularity, but it must not have been free long before the TTL.
      expect(performance.now() - started).toBeGreaterThanOrEqual(100);
      expect(second).not.toBe(first);
    });

    test("only the holder can extend, and extending keeps the lease past its first TTL", async () => {
      const key = unique("lock");
      const token = await a.acquireLock(key, 150);
      expect(token).toBeString();
      expect(await b.extendLock(key, "not-the-token", 5000)).toBe(false);
      expect(await b.extendLock(key, token!, 5000)).toBe(true);
      // Waiting past the original TTL is the point of the test.
      await Bun.sleep(300);
      expect(await b.acquireLock(key, 5000)).toBeNull();
      expect(await a.extendLock(unique("free"), token!, 5000)).toBe(false);
    });

    test("only the holder can release", async () => {
      const key = unique("lock");
      const token = await a.acquireLock(key, 5000);
      expect(token).toBeString();
      expect(await b.releaseLock(key, "not-the-token")).toBe(false);
      expect(await b.acquireLock(key, 5000)).toBeNull();
      expect(await b.releaseLock(key, token!)).toBe(true);
      expect(await a.releaseLock(key, token!)).toBe(false);
      expect(await b.acquireLock(key, 5000)).toBeString();
    });

    test("a holder whose lease expired can neither extend nor release the next holder's lease", async () => {
      const key = unique("lock");
      const stale = await a.acquireLock(key, 100);
      expect(stale).toBeString();
      let fresh: string | null = null;
      await eventually(async () => {
        fresh = await b.acquireLock(key, 5000);
        return fresh !== null;
      });
      expect(await a.extendLock(key, stale!, 5000)).toBe(false);
      expect(await a.releaseLock(key, stale!)).toBe(false);
      expect(await a.acquireLock(key, 5000)).toBeNull();
      expect(await b.releaseLock(key, fresh!)).toBe(true);
    });

    test("rejects a TTL that is not positive", async () => {
      await expect(a.acquireLock(unique("lock"), 0)).rejects.toThrow(RangeError);
      await expect(a.setValue(unique("value"), "v", -5)).rejects.toThrow(RangeError);
    });

    test("due members come earliest first, up to the limit, without being removed", async () => {
      const base = Date.now();
      await a.markDue("m-late", base + 300);
      await a.markDue("m-first", base + 100);
      await b.markDue("m-second", base + 200);
      await a.markDue("m-future", base + 10_000);

      expect(await b.dueMembers(base + 500, 10)).toEqual(["m-first", "m-second", "m-late"]);
      expect(await a.dueMembers(base + 500, 2)).toEqual(["m-first", "m-second"]);
      // Reading twice gives the same answer: dueMembers does not pop.
      expect(await a.dueMembers(base + 500, 2)).toEqual(["m-first", "m-second"]);
      // Inclusive bound.
      expect(await a.dueMembers(base + 200, 10)).toEqual(["m-first", "m-second"]);
      expect(await a.dueMembers(base + 50, 10)).toEqual([]);
      expect(await a.dueMembers(base + 500, 0)).toEqual([]);
      // With their due times, and counted.
      expect(await b.dueEntries(base + 500, 2)).toEqual([
        { member: "m-first", dueAtMs: base + 100 },
        { member: "m-second", dueAtMs: base + 200 },
      ]);
      expect(await a.dueEntries(base + 500, 0)).toEqual([]);
      expect(await b.dueCount(base + 500)).toBe(3);
      expect(await a.dueCount(base + 200)).toBe(2);
      expect(await a.dueCount(base + 50)).toBe(0);
    });

    test("unmarking removes a member and re-marking moves it", async () => {
      const base = Date.now();
      await a.markDue("m1", base + 100);
      await a.markDue("m2", base + 200);
      await a.markDue("m3", base + 300);

      await b.unmarkDue("m2");
      expect(await a.dueMembers(base + 500, 10)).toEqual(["m1", "m3"]);
      await b.unmarkDue("never-marked");

      await b.markDue("m3", base + 50);
      expect(await a.dueMembers(base + 500, 10)).toEqual(["m3", "m1"]);

      await a.markDue("m1", base + 10_000);
      expect(await a.dueMembers(base + 500, 10)).toEqual(["m3"]);
      expect(await a.dueMembers(base + 10_000, 10)).toEqual(["m3", "m1"]);
    });

    test("members due at the same time come in member order", async () => {
      const at = Date.now();
      await a.markDue("tie-b", at);
      await a.markDue("tie-a", at);
      await a.markDue("tie-c", at);
      expect(await a.dueMembers(at, 10)).toEqual(["tie-a", "tie-b", "tie-c"]);
    });

    test("a message published on one instance reaches a subscriber on the other, in order", async () => {
      const channel = unique("events");
      const received: string[] = [];
      const otherChannel: string[] = [];
      await a.subscribe(channel, (message) => received.push(message));
      await a.subscribe(unique("other"), (message) => otherChannel.push(message));

      // subscribe() resolved, so the subscription is live: no sleep before publishing.
      await b.publish(unique("unrelated"), "not for you");
      await b.publish(channel, "one");
      await b.publish(channel, "two");
      await b.publish(channel, "three");

      await eventually(() => received.length >= 3);
      expect(received).toEqual(["one", "two", "three"]);
      // Delivery is ordered, so anything wrongly routed to otherChannel would have arrived by now.
      expect(otherChannel).toEqual([]);
    });

    test("several handlers share a channel and each unsubscribes on its own", async () => {
      const channel = unique("events");
      const probeChannel = unique("probe");
      const first: string[] = [];
      const second: string[] = [];
      const probe: string[] = [];
      const unsubscribeFirst = await a.subscribe(channel, (message) => first.push(message));
      const unsubscribeSecond = await a.subscribe(channel, (message) => second.push(message));
      await a.subscribe(probeChannel, (message) => probe.push(message));

      await b.publish(channel, "to both");
      await eventually(() => first.length === 1 && second.length === 1);
      expect(first).toEqual(["to both"]);
      expect(second).toEqual(["to both"]);

      await unsubscribeFirst();
      await unsubscribeFirst();
      await b.publish(channel, "to second");
      await eventually(() => second.length === 2);
      expect(second).toEqual(["to both", "to second"]);
      expect(first).toEqual(["to both"]);

      await unsubscribeSecond();
      await b.publish(channel, "to nobody");
      // The probe is published after, on the same delivery path: once it lands, "to nobody" would have too.
      await b.publish(probeChannel, "probe");
      await eventually(() => probe.length === 1);
      expect(first).toEqual(["to both"]);
      expect(second).toEqual(["to both", "to second"]);

      // The channel can be subscribed again after its last handler left.
      const again: string[] = [];
      await a.subscribe(channel, (message) => again.push(message));
      await b.publish(channel, "back");
      await eventually(() => again.length === 1);
      expect(again).toEqual(["back"]);
    });

    test("the same function subscribed twice is two subscriptions", async () => {
      const channel = unique("events");
      const received: string[] = [];
      const handler = (message: string) => received.push(message);
      const unsubscribeOnce = await a.subscribe(channel, handler);
      await a.subscribe(channel, handler);
      await b.publish(channel, "x");
      await eventually(() => received.length === 2);
      await unsubscribeOnce();
      await b.publish(channel, "y");
      await eventually(() => received.length === 3);
      expect(received).toEqual(["x", "x", "y"]);
    });

    test("a throwing handler does not keep the message from the others", async () => {
      const channel = unique("events");
      const received: string[] = [];
      await a.subscribe(channel, () => {
        throw new Error("handler bug");
      });
      await a.subscribe(channel, (message) => received.push(message));
      await b.publish(channel, "still delivered");
      await b.publish(channel, "and the next one");
      await eventually(() => received.length === 2);
      expect(received).toEqual(["still delivered", "and the next one"]);
    });

    test("values can be set, read, overwritten and deleted", async () => {
      const key = unique("value");
      expect(await a.getValue(key)).toBeNull();
      await a.setValue(key, "first", 5000);
      expect(await b.getValue(key)).toBe("first");
      await b.setValue(key, "second", 5000);
      expect(await a.getValue(key)).toBe("second");
      await a.deleteValue(key);
      expect(await b.getValue(key)).toBeNull();
      await a.deleteValue(key);
      expect(await a.getValue(key)).toBeNull();
    });

    test("a value disappears once its TTL runs out", async () => {
      const key = unique("value");
      await a.setValue(key, "short-lived", 150);
      const started = performance.now();
      expect(await b.getValue(key)).toBe("short-lived");
      await eventually(async () => (await b.getValue(key)) === null);
      expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    });

    test("token buckets are shared: a take by one instance counts for the other; refill and wait are exact", async () => {
      const t0 = 1_000_000;
      const chat = { key: unique("bucket-chat"), capacity: 2, perSecond: 1 };
      const global = { key: unique("bucket-global"), capacity: 3, perSecond: 10 };
      expect(await a.takeTokens([global, chat], t0)).toEqual({ waitMs: 0, limitedBy: -1 });
      expect(await b.takeTokens([global, chat], t0)).toEqual({ waitMs: 0, limitedBy: -1 });
      // The chat bucket is empty (a burst of 2): one token comes back after 1 s.
      expect(await a.takeTokens([global, chat], t0)).toEqual({ waitMs: 1000, limitedBy: 1 });
      // A refused take takes nothing: the global bucket still has its third token.
      const other = { key: unique("bucket-chat"), capacity: 2, perSecond: 1 };
      expect(await b.takeTokens([global, other], t0)).toEqual({ waitMs: 0, limitedBy: -1 });
      expect(await b.takeTokens([global, other], t0)).toEqual({ waitMs: 100, limitedBy: 0 });
      expect(await a.takeTokens([global, chat], t0 + 999)).toMatchObject({ waitMs: 1, limitedBy: 1 });
      expect(await a.takeTokens([global, chat], t0 + 1000)).toEqual({ waitMs: 0, limitedBy: -1 });
    });

    test("a held bucket gives nothing until its time, to every instance, and the later hold wins", async () => {
      const t0 = 2_000_000;
      const chat = { key: unique("bucket-held"), capacity: 5, perSecond: 5 };
      await a.holdBucket(chat.key, t0 + 3000);
      await a.holdBucket(chat.key, t0 + 1000);
      expect(await b.takeTokens([chat], t0)).toEqual({ waitMs: 3000, limitedBy: 0 });
      expect(await b.takeTokens([chat], t0 + 3000)).toEqual({ waitMs: 0, limitedBy: -1 });
    });

    test("close is idempotent and the closed instance stops answering", async () => {
      await a.close();
      await a.close();
      expect(await a.ping()).toBe(false);
      await expect(a.acquireLock(unique("lock"), 1000)).rejects.toThrow();
      await expect(a.subscribe(unique("events"), () => {})).rejects.toThrow();
    });
  });
}

let redisInstance = 0;

describeContract("memory", async () => {
  const coordination = createMemoryCoordination();
  return { a: coordination, b: coordination };
});

describeContract("redis", async () => {
  // A sub-prefix per test keeps the shared due-set of one test out of the next; all stay under filePrefix.
  redisInstance += 1;
  const prefix = `${filePrefix}${redisInstance}:`;
  const a = await createRedisCoordination({ url: testRedisUrl, prefix });
  const b = await createRedisCoordination({ url: testRedisUrl, prefix });
  return { a, b };
});

describe("memory coordination with an injected clock", () => {
  test("leases and values expire against now(), not the wall clock", async () => {
    let clock = 1_000_000;
    const coordination = createMemoryCoordination({ now: () => clock });
    const token = await coordination.acquireLock("k", 100);
    await coordination.setValue("v", "x", 100);
    expect(token).toBeString();
    clock += 99;
    expect(await coordination.acquireLock("k", 100)).toBeNull();
    expect(await coordination.getValue("v")).toBe("x");
    clock += 1;
    expect(await coordination.extendLock("k", token!, 100)).toBe(false);
    expect(await coordination.getValue("v")).toBeNull();
    expect(await coordination.acquireLock("k", 100)).toBeString();
  });
});

describe("redis coordination specifics", () => {
  const admin = new Redis(testRedisUrl, { protocol: 2, lazyConnect: true });

  afterAll(async () => {
    let cursor = "0";
    do {
      const [next, keys] = await admin.scan(cursor, "MATCH", `${filePrefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== "0");
    const [, left] = await admin.scan("0", "MATCH", `${filePrefix}*`, "COUNT", 10_000);
    expect(left).toEqual([]);
    await admin.quit();
  });

  test("keys live under the prefix and prefixes do not see each other", async () => {
    const prefixA = `${filePrefix}iso-a:`;
    const prefixB = `${filePrefix}iso-b:`;
    const a = await createRedisCoordination({ url: testRedisUrl, prefix: prefixA });
    const b = await createRedisCoordination({ url: testRedisUrl, prefix: prefixB });
    try {
      expect(await a.acquireLock("same", 5000)).toBeString();
      expect(await b.acquireLock("same", 5000)).toBeString();
      await a.markDue("member", 1);
      expect(await b.dueMembers(10, 10)).toEqual([]);
      await a.setValue("same", "from a", 5000);
      expect(await b.getValue("same")).toBeNull();

      const onB: string[] = [];
      const probe: string[] = [];
      await b.subscribe("news", (message) => onB.push(message));
      await b.subscribe("probe", (message) => probe.push(message));
      await a.publish("news", "for prefix a only");
      // a's PUBLISH was answered before b's, so a leak would reach b's subscriber before the probe.
      await b.publish("probe", "probe");
      await eventually(() => probe.length === 1);
      expect(onB).toEqual([]);

      const [, keys] = await admin.scan("0", "MATCH", `${prefixA}*`, "COUNT", 10_000);
      expect(keys.sort()).toEqual([`${prefixA}due`, `${prefixA}lock:same`, `${prefixA}value:same`]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("with Redis down the factory resolves, ping says false and commands fail fast", async () => {
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    const created = await timeSettled(
      createRedisCoordination({ url: deadRedisUrl, prefix: filePrefix, logger }),
    );
    expect(created.ms).toBeLessThan(2000);
    expect(created.outcome.status).toBe("fulfilled");
    if (created.outcome.status !== "fulfilled") return;
    const coordination = created.outcome.value;
    try {
      const ping = await timeSettled(coordination.ping());
      expect(ping.ms).toBeLessThan(2000);
      expect(ping.outcome).toEqual({ status: "fulfilled", value: false });

      // Rejecting or answering null are both acceptable; hanging until Redis returns is not.
      const lock = await timeSettled(coordination.acquireLock(unique("lock"), 1000));
      expect(lock.ms).toBeLessThan(2000);
      if (lock.outcome.status === "fulfilled") expect(lock.outcome.value).toBeNull();

      const subscribed = await timeSettled(coordination.subscribe(unique("events"), () => {}));
      expect(subscribed.ms).toBeLessThan(2000);
      expect(subscribed.outcome.status).toBe("rejected");

      // Let the background reconnection fail a few more times: the outage is logged once, not per retry.
      await Bun.sleep(1000);
      const warnings = lines.filter((line) => line.includes('"redis connection lost"'));
      expect(warnings).toHaveLength(2); // one per connection: commands and subscriber
      expect(warnings.some((line) => line.includes('"role":"commands"'))).toBe(true);
      expect(warnings.some((line) => line.includes('"role":"subscriber"'))).toBe(true);
    } finally {
      const closed = await timeSettled(coordination.close());
      expect(closed.ms).toBeLessThan(2000);
    }
  });

  test("a Redis that accepts connections but never answers cannot hang the factory, ping or a lock", async () => {
    // Accepts TCP and then stays silent, like a wedged server: the handshake never completes.
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const created = await timeSettled(
        createRedisCoordination({
          url: `redis://127.0.0.1:${silent.port}`,
          prefix: filePrefix,
          timeoutMs: 300,
        }),
      );
      expect(created.ms).toBeLessThan(1500);
      expect(created.outcome.status).toBe("fulfilled");
      if (created.outcome.status !== "fulfilled") return;
      const coordination = created.outcome.value;
      const ping = await timeSettled(coordination.ping());
      expect(ping.ms).toBeLessThan(2000);
      expect(ping.outcome).toEqual({ status: "fulfilled", value: false });
      const lock = await timeSettled(coordination.acquireLock(unique("lock"), 1000));
      expect(lock.ms).toBeLessThan(2000);
      if (lock.outcome.status === "fulfilled") expect(lock.outcome.value).toBeNull();
      const closed = await timeSettled(coordination.close());
      expect(closed.ms).toBeLessThan(2000);
    } finally {
      silent.stop(true);
    }
  });

  test("a lock asked for during an outage fails and is not taken late; then it recovers", async () => {
    const proxy = await startProxy(new URL(testRedisUrl));
    const prefix = `${filePrefix}outage:`;
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    const subscriberSide = await createRedisCoordination({ url: proxy.url, prefix, logger });
    const publisherSide = await createRedisCoordination({ url: testRedisUrl, prefix });
    let reconnects = 0;
    subscriberSide.onReconnect(() => {
      reconnects += 1;
    });
    try {
      const received: string[] = [];
      await subscriberSide.subscribe("events", (message) => received.push(message));
      expect(await subscriberSide.ping()).toBe(true);

      proxy.down();
      await eventually(async () => !(await subscriberSide.ping()));
      // Redis comes back while the call may still be pending: a queued command would now run late.
      const pending = timeSettled(subscriberSide.acquireLock("during-outage", 60_000));
      await proxy.up();
      const lock = await pending;
      expect(lock.ms).toBeLessThan(2000);
      if (lock.outcome.status === "fulfilled") expect(lock.outcome.value).toBeNull();

      await eventually(() => subscriberSide.ping(), { timeoutMs: 10_000 });
      // A queued SET NX would have run on reconnect and left a lease nobody knows the token of.
      expect(await admin.exists(`${prefix}lock:during-outage`)).toBe(0);
      expect(await subscriberSide.acquireLock("during-outage", 5000)).toBeString();

      // ioredis re-subscribes after the reconnect; publish until that has landed.
      await eventually(async () => {
        await publisherSide.publish("events", "after reconnect");
        return received.length > 0;
      });
      expect(received[0]).toBe("after reconnect");
      // Whoever rebuilds state from Postgres is told the store is back, once per outage.
      expect(reconnects).toBe(1);
      const commandLines = lines.filter((line) => line.includes('"role":"commands"'));
      expect(commandLines.filter((line) => line.includes('"redis connection lost"'))).toHaveLength(1);
      expect(commandLines.filter((line) => line.includes('"redis connection restored"'))).toHaveLength(1);
    } finally {
      await subscriberSide.close();
      await publisherSide.close();
      proxy.down();
    }
  });
});
