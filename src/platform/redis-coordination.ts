import { randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import type { Coordination, DueEntry } from "./coordination";
import type { Logger } from "./logger";

/** Options for {@link createRedisCoordination}. */
export interface RedisCoordinationOptions {
  /** `redis://[user:password@]host:port/db` (or `rediss://` for TLS). */
  url: string;
  /** Namespace for every key and channel, so several deployments can share one Redis. Default `rt:`. */
  prefix?: string;
  /** Receives one warning per outage and one line when the connection is back. */
  logger?: Logger;
  /**
   * Upper bound for the first connection attempt in the factory and for any single command.
   * Default 2000 ms: a worker would rather skip a tick than wait on a dead Redis.
   */
  timeoutMs?: number;
}

/** How long `ping()` waits for PONG before calling Redis unreachable. */
const PING_TIMEOUT_MS = 1000;

/** Extends the lease only when the caller still holds it (compare-then-PEXPIRE, atomic in Lua). */
const EXTEND_SCRIPT = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`;

/** Deletes the lease only when the caller still holds it (compare-then-DEL, atomic in Lua). */
const RELEASE_SCRIPT = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`;

/**
 * Takes one token from each bucket (KEYS) if every one has it, else none. ARGV: now (ms), then per
 * bucket its capacity and refill rate (tokens per ms). A bucket is a hash {t: tokens, ts: last
 * refill, h: held until}. Answers {wait ms, index of the limiting bucket} or {0, -1}.
 */
const TAKE_SCRIPT = `local now = tonumber(ARGV[1])
local wait = 0
local limited = -1
local tokens = {}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local state = redis.call("HMGET", key, "t", "ts", "h")
  local t = tonumber(state[1]) or capacity
  local ts = tonumber(state[2]) or now
  local held = tonumber(state[3]) or 0
  if now > ts then t = math.min(capacity, t + (now - ts) * rate) end
  tokens[i] = t
  local need = 0
  if held > now then need = held - now end
  if t < 1 then need = math.max(need, math.ceil((1 - t) / rate - 0.000001)) end
  if need > wait then
    wait = need
    limited = i - 1
  end
end
if wait > 0 then return {wait, limited} end
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  redis.call("HSET", key, "t", tostring(tokens[i] - 1), "ts", tostring(now))
  redis.call("PEXPIRE", key, math.ceil(capacity / rate) + 60000)
end
return {0, -1}`;

/** Holds a bucket until ARGV[1] (ms), keeping the later of two holds. */
const HOLD_SCRIPT = `local held = tonumber(redis.call("HGET", KEYS[1], "h")) or 0
local until_ms = tonumber(ARGV[1])
if until_ms > held then
  redis.call("HSET", KEYS[1], "h", ARGV[1])
  local ttl = redis.call("PTTL", KEYS[1])
  local needed = until_ms - tonumber(ARGV[2]) + 60000
  if ttl < needed then redis.call("PEXPIRE", KEYS[1], needed) end
end
return 0`;

type Handler = (message: string) => void;

/** One `subscribe()` call; an object per call so the same function can be subscribed twice. */
interface Subscription {
  handler: Handler;
}

interface ChannelState {
  subscriptions: Set<Subscription>;
  /** Whether Redis has confirmed SUBSCRIBE (and not yet UNSUBSCRIBE) on the subscriber connection. */
  subscribed: boolean;
}

/** Redis only takes whole positive milliseconds for PX/PEXPIRE; a zero TTL would be an error or a forever key. */
function toTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0)
    throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

/** Resolves to `fallback` if `promise` has not settled within `ms`; the timer never keeps the process alive. */
function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Coordination backed by Redis, for several instances sharing one Redis.
 *
 * Connection policy (see ARCHITECTURE.md "Known traps"):
 * - RESP2 (`protocol: 2`): we only use strings, integers and arrays, whose shapes are the same in
 *   both protocols, and RESP2 keeps pub/sub on its own long-standing code path with no HELLO
 *   negotiation or downgrade on older servers.
 * - No offline queue and no resend of unanswered commands: a lock command issued while Redis is
 *   away fails at once instead of running late, after the caller moved on.
 * - Every command is bounded by `timeoutMs`, `ping()` by 1 s and answers false instead of throwing.
 * - The factory waits at most `timeoutMs` for the first connection and resolves even when Redis is
 *   down: the client keeps reconnecting in the background (capped backoff) and `ping()` reports
 *   false meanwhile, so /health can say so instead of the process failing to start.
 * - The subscriber connection is opened on the first `subscribe()`; ioredis re-subscribes its
 *   channels after a reconnect.
 */
export async function createRedisCoordination(options: RedisCoordinationOptions): Promise<Coordination> {
  const prefix = options.prefix ?? "rt:";
  const logger = options.logger;
  const timeoutMs = options.timeoutMs ?? 2000;
  const dueKey = `${prefix}due`;
  const lockKey = (key: string) => `${prefix}lock:${key}`;
  const valueKey = (key: string) => `${prefix}value:${key}`;
  const channelKey = (channel: string) => `${prefix}channel:${channel}`;
  const bucketKey = (key: string) => `${prefix}bucket:${key}`;
  const reconnectHandlers = new Set<() => void>();

  const connectionOptions: RedisOptions = {
    protocol: 2,
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // Commands issued in the same tick (hundreds of debates publishing) share one socket write;
    // order is kept. Measured: ~3x less CPU per command under load (bench/).
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    // Keep retrying forever with a capped backoff: Redis coming back must heal the instance.
    retryStrategy: (times) => Math.min(times * 250, 5000),
  };

  /** Creates a client whose errors are logged once per outage rather than on every retry. */
  const openClient = (role: "commands" | "subscriber"): Redis => {
    // The name shows up in CLIENT LIST, which is how an operator (or a test) finds this connection.
    const client = new Redis(options.url, { ...connectionOptions, connectionName: `${prefix}${role}` });
    let down = false;
    const markDown = (error?: unknown) => {
      if (down) return;
      down = true;
      logger?.warn("redis connection lost", error === undefined ? { role } : { role, error });
    };
    // Without an "error" listener ioredis prints every failed retry to the console.
    client.on("error", (error: unknown) => markDown(error));
    // A connection closed by the server (restart, CLIENT KILL) reconnects without any "error" event.
    client.on("reconnecting", () => markDown());
    client.on("ready", () => {
      if (!down) return;
      down = false;
      logger?.info("redis connection restored", { role });
      // The command connection is the one state lives behind; the subscriber re-subscribes itself.
      if (role !== "commands") return;
      for (const handler of [...reconnectHandlers]) {
        try {
          handler();
        } catch (error) {
          logger?.error("reconnect handler failed", { error });
        }
      }
    });
    return client;
  };

  /** Waits for the first connection at most `timeoutMs`; failures are left to the background retries. */
  const connectBounded = async (client: Redis): Promise<void> => {
    await withTimeout(
      client.connect().then(
        () => undefined,
        () => undefined,
      ),
      timeoutMs,
      undefined,
    );
  };

  const commands = openClient("commands");
  await connectBounded(commands);

  let subscriber: Redis | undefined;
  let subscriberReady: Promise<Redis> | undefined;
  const channels = new Map<string, ChannelState>();
  // SUBSCRIBE/UNSUBSCRIBE run one after another so each decides on the state left by the previous
  // one; otherwise a quick unsubscribe-then-subscribe could end with the channel unsubscribed.
  let subscriptionQueue: Promise<unknown> = Promise.resolve();
  const serially = <T>(operation: () => Promise<T>): Promise<T> => {
    const result = subscriptionQueue.then(operation);
    subscriptionQueue = result.catch(() => undefined);
    return result;
  };

  const getSubscriber = (): Promise<Redis> => {
    if (!subscriberReady) {
      const client = openClient("subscriber");
      subscriber = client;
      client.on("message", (channel: string, message: string) => {
        const state = channels.get(channel);
        if (!state) return;
        for (const subscription of [...state.subscriptions]) {
          try {
            subscription.handler(message);
          } catch (error) {
            // One faulty handler must not starve the others nor kill the connection's event loop.
            logger?.error("coordination message handler failed", { channel, error });
          }
        }
      });
      subscriberReady = connectBounded(client).then(() => client);
    }
    return subscriberReady;
  };

  let closing: Promise<void> | undefined;

  /** QUIT when connected (lets pending replies arrive), otherwise just stop reconnecting. */
  const shutdown = async (client: Redis): Promise<void> => {
    if (client.status === "ready") {
      const quit = client.quit().then(
        () => true,
        () => false,
      );
      if (await withTimeout(quit, timeoutMs, false)) return;
    }
    client.disconnect();
  };

  const dueEntries = async (nowMs: number, limit: number): Promise<DueEntry[]> => {
    // LIMIT with a negative count means "all" in Redis: refuse that reading of a zero/negative limit.
    if (limit <= 0) return [];
    const flat = await commands.zrangebyscore(
      dueKey,
      "-inf",
      nowMs,
      "WITHSCORES",
      "LIMIT",
      0,
      Math.floor(limit),
    );
    const entries: DueEntry[] = [];
    for (let index = 0; index < flat.length; index += 2) {
      entries.push({ member: flat[index]!, dueAtMs: Number(flat[index + 1]) });
    }
    return entries;
  };

  return {
    kind: "redis",

    async acquireLock(key, ttlMs) {
      const token = randomUUID();
      const reply = await commands.set(lockKey(key), token, "PX", toTtl(ttlMs), "NX");
      return reply === "OK" ? token : null;
    },

    async extendLock(key, token, ttlMs) {
      const reply = await commands.eval(EXTEND_SCRIPT, 1, lockKey(key), token, toTtl(ttlMs));
      return reply === 1;
    },

    async releaseLock(key, token) {
      const reply = await commands.eval(RELEASE_SCRIPT, 1, lockKey(key), token);
      return reply === 1;
    },

    async markDue(member, atMs, options = {}) {
      if (options.ifAbsent) await commands.zadd(dueKey, "NX", atMs, member);
      else await commands.zadd(dueKey, atMs, member);
    },

    async unmarkDue(member) {
      await commands.zrem(dueKey, member);
    },

    async dueMembers(nowMs, limit) {
      return (await dueEntries(nowMs, limit)).map((entry) => entry.member);
    },

    dueEntries,

    async dueCount(nowMs) {
      return commands.zcount(dueKey, "-inf", nowMs);
    },

    async publish(channel, message) {
      await commands.publish(channelKey(channel), message);
    },

    async takeTokens(buckets, nowMs) {
      if (buckets.length === 0) return { waitMs: 0, limitedBy: -1 };
      const args = buckets.flatMap((bucket) => [bucket.capacity, bucket.perSecond / 1000]);
      const keys = buckets.map((bucket) => bucketKey(bucket.key));
      const [waitMs, limitedBy] = (await commands.eval(
        TAKE_SCRIPT,
        keys.length,
        ...keys,
        Math.floor(nowMs),
        ...args,
      )) as [number, number];
      return { waitMs: Number(waitMs), limitedBy: Number(limitedBy) };
    },

    async holdBucket(key, untilMs) {
      await commands.eval(HOLD_SCRIPT, 1, bucketKey(key), Math.ceil(untilMs), Math.floor(Date.now()));
    },

    onReconnect(handler) {
      reconnectHandlers.add(handler);
      return () => {
        reconnectHandlers.delete(handler);
      };
    },

    async subscribe(channel, handler) {
      // Without this a subscribe after close() would open a fresh subscriber connection and leak it.
      if (closing) throw new Error("coordination is closed");
      const name = channelKey(channel);
      const client = await getSubscriber();
      let state = channels.get(name);
      if (!state) {
        state = { subscriptions: new Set(), subscribed: false };
        channels.set(name, state);
      }
      const channelState = state;
      const subscription: Subscription = { handler };
      channelState.subscriptions.add(subscription);

      const dropIfUnused = () => {
        if (channelState.subscriptions.size === 0 && !channelState.subscribed) {
          if (channels.get(name) === channelState) channels.delete(name);
        }
      };

      try {
        await serially(async () => {
          if (channelState.subscriptions.has(subscription) && !channelState.subscribed) {
            await client.subscribe(name);
            channelState.subscribed = true;
          }
        });
      } catch (error) {
        channelState.subscriptions.delete(subscription);
        dropIfUnused();
        throw error;
      }

      let active = true;
      return async () => {
        if (!active) return;
        active = false;
        channelState.subscriptions.delete(subscription);
        await serially(async () => {
          if (channelState.subscriptions.size === 0 && channelState.subscribed) {
            try {
              await client.unsubscribe(name);
              channelState.subscribed = false;
            } catch (error) {
              // The handler is already gone locally; a channel left subscribed only costs ignored messages.
              logger?.warn("redis unsubscribe failed", { channel, error });
            }
          }
          dropIfUnused();
        });
      };
    },

    async setValue(key, value, ttlMs) {
      await commands.set(valueKey(key), value, "PX", toTtl(ttlMs));
    },

    async getValue(key) {
      return commands.get(valueKey(key));
    },

    async deleteValue(key) {
      await commands.del(valueKey(key));
    },

    async ping() {
      if (closing) return false;
      try {
        const reply = await withTimeout(commands.ping(), PING_TIMEOUT_MS, "timeout");
        return reply === "PONG";
      } catch {
        return false;
      }
    },

    close() {
      if (!closing) {
        channels.clear();
        reconnectHandlers.clear();
        const clients = subscriber ? [commands, subscriber] : [commands];
        closing = Promise.all(clients.map(shutdown)).then(() => undefined);
      }
      return closing;
    },
  };
}
