import { afterEach, describe, expect, test } from "bun:test";
import { createLogger, type LogLevel, silentLogger } from "../../src/platform/logger";

function collect(level: LogLevel = "debug", base?: Record<string, unknown>) {
  const lines: string[] = [];
  const logger = createLogger({ level, base, write: (line) => lines.push(line) });
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, parsed };
}

describe("line format", () => {
  test("one JSON line per call, written synchronously: level label, ISO time, base, msg, then fields", () => {
    const { logger, lines } = collect("info", { worker: 7 });
    logger.child({ component: "api" }).info("http listening", { url: "http://127.0.0.1:1" });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.endsWith("\n")).toBe(false);
    expect(JSON.parse(line)).toEqual({
      level: "info",
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      worker: 7,
      component: "api",
      msg: "http listening",
      url: "http://127.0.0.1:1",
    });
    // Tests and operators grep `"msg":"…"` followed by the fields.
    expect(line).toMatch(/"msg":"http listening".*"url":"http:\/\/127\.0\.0\.1:1"/);
  });

  test("lines below the level are dropped; each level writes its own label", () => {
    const { logger, parsed } = collect("warn");
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    expect(parsed().map((line) => [line.level, line.msg])).toEqual([
      ["warn", "w"],
      ["error", "e"],
    ]);
    const all = collect("debug");
    all.logger.debug("d");
    expect(all.parsed()[0]).toMatchObject({ level: "debug", msg: "d" });
  });

  test("a child keeps its parent's bindings and level", () => {
    const { logger, parsed } = collect("info");
    const child = logger.child({ component: "debate" }).child({ session: "s1" });
    child.debug("hidden");
    child.info("shown", { round: 2 });
    expect(parsed()).toEqual([
      expect.objectContaining({ component: "debate", session: "s1", msg: "shown", round: 2 }),
    ]);
  });

  describe("stdout by default", () => {
    const original = process.stdout.write;
    afterEach(() => {
      process.stdout.write = original;
    });
    test("writes newline-terminated lines to stdout", () => {
      const written: string[] = [];
      process.stdout.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stdout.write;
      createLogger().info("to stdout", { n: 1 });
      process.stdout.write = original;
      expect(written).toHaveLength(1);
      expect(written[0]!.endsWith("}\n")).toBe(true);
      expect(JSON.parse(written[0]!)).toMatchObject({ level: "info", msg: "to stdout", n: 1 });
    });
  });

  test("silentLogger writes nothing and never throws", () => {
    const original = process.stdout.write;
    let writes = 0;
    process.stdout.write = (() => ++writes > 0) as typeof process.stdout.write;
    try {
      silentLogger.error("nothing", { error: new Error("x") });
      silentLogger.child({ component: "x" }).warn("nothing");
    } finally {
      process.stdout.write = original;
    }
    expect(writes).toBe(0);
  });
});

describe("errors", () => {
  test("an error under any field keeps name, message, stack, code, status and its cause chain", () => {
    const { logger, parsed } = collect();
    const root = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const middle = new TypeError("fetch failed", { cause: root });
    const top = Object.assign(new Error("provider call failed", { cause: middle }), {
      status: 502,
      code: "upstream",
    });
    logger.error("turn failed", { failure: top, error: new RangeError("plain") });
    const [line] = parsed();
    expect(line!.failure).toEqual({
      name: "Error",
      message: "provider call failed",
      stack: expect.stringContaining("provider call failed"),
      status: 502,
      code: "upstream",
      cause: {
        name: "TypeError",
        message: "fetch failed",
        stack: expect.stringContaining("fetch failed"),
        cause: {
          name: "Error",
          message: "connect ECONNREFUSED 127.0.0.1:5432",
          stack: expect.stringContaining("ECONNREFUSED"),
          code: "ECONNREFUSED",
        },
      },
    });
    expect(line!.error).toMatchObject({ name: "RangeError", message: "plain" });
    expect((line!.failure as { stack: string }).stack).toContain("logger.test.ts");
  });

  test("errors nested in objects and arrays are serialized too; other error properties are not copied", () => {
    const { logger, parsed } = collect();
    const withExtras = Object.assign(new Error("bad"), {
      request: { headers: { "x-custom": "v" } },
      sql: "select",
    });
    logger.warn("batch", { results: [{ id: 1, error: withExtras }] });
    expect(parsed()[0]!.results).toEqual([
      { id: 1, error: { name: "Error", message: "bad", stack: expect.any(String) } },
    ]);
  });

  test("cyclic causes and objects and very long chains end (bounded), with a marker", () => {
    const { logger, lines, parsed } = collect();
    const cyclic = new Error("loop");
    cyclic.cause = cyclic;
    const object: Record<string, unknown> = { name: "o" };
    object.self = object;
    let chain: Error = new Error("e0");
    for (let index = 1; index <= 50; index++) chain = new Error(`e${index}`, { cause: chain });
    logger.error("bounded", { cyclic, object, chain });
    expect(lines).toHaveLength(1);
    const line = parsed()[0]!;
    expect(line.cyclic).toMatchObject({ message: "loop", cause: "[Circular]" });
    expect(line.object).toEqual({ name: "o", self: "[Circular]" });
    expect(lines[0]).toContain('"message":"e50"');
    expect(lines[0]).not.toContain('"message":"e0"');
    expect(lines[0]).toContain('"[Truncated]"');
  });

  test("non-error values under `error` are written as they are", () => {
    const { logger, parsed } = collect();
    logger.error("odd throw", { error: "a string", detail: { code: 3 } });
    expect(parsed()[0]).toMatchObject({ error: "a string", detail: { code: 3 } });
  });
});

describe("secrets", () => {
  const SECRET = "s3cr3t-value-never-logged";

  test("secret fields are redacted at any depth, in fields, bindings, base, arrays and error causes", () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: "debug",
      base: { SECRETS_KEY: SECRET },
      write: (line) => lines.push(line),
    }).child({ apiKey: SECRET, component: "llm" });
    const fields = {
      api_key: SECRET,
      config: {
        admin: { username: "admin", password: SECRET },
        telegram: { TELEGRAM_BOT_TOKEN: SECRET, webhookSecret: SECRET },
        apiToken: SECRET,
      },
      headers: { Authorization: `Bearer ${SECRET}`, cookie: `rt_admin=${SECRET}`, "x-api-key": SECRET },
      response: { headers: { "set-cookie": [`rt=${SECRET}`] } },
      providers: [{ name: "ChatGPT", apiKeyEncrypted: SECRET }],
      error: new Error("wrapped", { cause: { access_token: SECRET, refreshToken: SECRET } }),
      token: SECRET,
      POSTGRES_PASSWORD: SECRET,
      tokens_in: 12,
      max_tokens: 700,
      model: "gpt-test",
    };
    logger.info("mistake", fields);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(SECRET);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      SECRETS_KEY: "[redacted]",
      apiKey: "[redacted]",
      component: "llm",
      api_key: "[redacted]",
      config: {
        admin: { username: "admin", password: "[redacted]" },
        telegram: { TELEGRAM_BOT_TOKEN: "[redacted]", webhookSecret: "[redacted]" },
        apiToken: "[redacted]",
      },
      headers: { Authorization: "[redacted]", cookie: "[redacted]", "x-api-key": "[redacted]" },
      response: { headers: { "set-cookie": "[redacted]" } },
      providers: [{ name: "ChatGPT", apiKeyEncrypted: "[redacted]" }],
      error: { message: "wrapped", cause: { access_token: "[redacted]", refreshToken: "[redacted]" } },
      token: "[redacted]",
      POSTGRES_PASSWORD: "[redacted]",
      tokens_in: 12,
      max_tokens: 700,
      model: "gpt-test",
    });
    // The caller's values are left as they were.
    expect(fields.config.admin.password).toBe(SECRET);
    expect(fields.headers.Authorization).toBe(`Bearer ${SECRET}`);
  });
});
