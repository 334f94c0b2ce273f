import { describe, expect, test } from "bun:test";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import {
  abortedError,
  classifyError,
  LlmError,
  parseRetryAfterMs,
  scrubSecrets,
} from "../../src/llm/llm-errors";
import { retryDelayMs } from "../../src/llm/openai-chat-model";

const KEY = "sk-proj-Abc123Def456Ghi789";

function apiError(status: number, message: string, headers: Record<string, string> = {}): APIError {
  return APIError.generate(
    status,
    { error: { message, type: "x", code: null } },
    undefined,
    new Headers(headers),
  );
}

describe("classifyError", () => {
  const cases: [number, LlmError["code"], boolean][] = [
    [400, "bad_request", false],
    [401, "auth", false],
    [402, "forbidden", false],
    [403, "forbidden", false],
    [404, "not_found", false],
    [408, "timeout", true],
    [409, "conflict", true],
    [422, "bad_request", false],
    [429, "rate_limited", true],
    [500, "server_error", true],
    [503, "server_error", true],
  ];
  for (const [status, code, retryable] of cases) {
    test(`HTTP ${status} → ${code}, retryable ${retryable}`, () => {
      const error = classifyError(apiError(status, "provider says no"));
      expect(error).toBeInstanceOf(LlmError);
      expect(error.code).toBe(code);
      expect(error.isRetryable).toBe(retryable);
      expect(error.status).toBe(status);
      // The provider's message, without the SDK's "401 " prefix.
      expect(error.message).toBe("provider says no");
    });
  }

  test("the API key never survives in the message", () => {
    const error = classifyError(apiError(401, `Incorrect API key provided: ${KEY}. Check it.`), KEY);
    expect(error.message).toContain("Incorrect API key provided");
    expect(error.message).not.toContain(KEY);
    expect(error.message).not.toContain("Abc123");
  });

  test("sk- looking tokens and bearer tokens are scrubbed even when not the configured key", () => {
    const message = scrubSecrets("bad key sk-other-999999999 and header Bearer abc.def.ghi", ["unrelated"]);
    expect(message).not.toContain("sk-other-999999999");
    expect(message).not.toContain("abc.def.ghi");
    expect(scrubSecrets("my key is hunter22 ok", ["hunter22"])).toBe("my key is [redacted] ok");
  });

  test("retry-after seconds from a 429", () => {
    const error = classifyError(apiError(429, "slow down", { "retry-after": "3" }));
    expect(error.retryAfterMs).toBe(3000);
  });

  test("connection failures are retryable network errors", () => {
    const error = classifyError(
      new APIConnectionError({ message: "Connection error.", cause: new Error("ECONNREFUSED") }),
    );
    expect(error.code).toBe("network");
    expect(error.isRetryable).toBe(true);
    expect(error.message).toContain("ECONNREFUSED");
    expect(classifyError(new APIConnectionTimeoutError()).code).toBe("timeout");
  });

  test("runtime socket errors mid-stream are network errors", () => {
    const socketError = Object.assign(new TypeError("The socket connection was closed unexpectedly"), {
      code: "ECONNRESET",
    });
    expect(classifyError(socketError)).toMatchObject({ code: "network", isRetryable: true });
    expect(classifyError(new SyntaxError("malformed JSON"))).toMatchObject({
      code: "unknown",
      isRetryable: false,
    });
  });

  test("user aborts keep the timeout distinction of the signal reason", () => {
    const aborted = Object.assign(new APIUserAbortError(), {
      cause: new DOMException("The operation timed out.", "TimeoutError"),
    });
    expect(classifyError(aborted).code).toBe("timeout");
    expect(classifyError(new APIUserAbortError()).code).toBe("aborted");
  });

  test("stream error events without a status use the error type", () => {
    const overloaded = new APIError(
      undefined,
      { message: "Overloaded", type: "server_error" },
      undefined,
      undefined,
    );
    expect(classifyError(overloaded)).toMatchObject({
      code: "server_error",
      isRetryable: true,
      message: "Overloaded",
    });
  });

  test("an LlmError is passed through, scrubbed", () => {
    const original = new LlmError({ code: "auth", message: `bad ${KEY}`, isRetryable: false, status: 401 });
    const classified = classifyError(original, KEY);
    expect(classified).toMatchObject({ code: "auth", status: 401 });
    expect(classified.message).not.toContain(KEY);
  });
});

describe("abortedError", () => {
  test("timeout reason → timeout, anything else → aborted", () => {
    const timedOut = new AbortController();
    timedOut.abort(new DOMException("timed out", "TimeoutError"));
    expect(abortedError(timedOut.signal).code).toBe("timeout");
    const stopped = new AbortController();
    stopped.abort();
    expect(abortedError(stopped.signal).code).toBe("aborted");
  });
});

describe("parseRetryAfterMs", () => {
  test("seconds, fractional seconds, milliseconds header and HTTP date", () => {
    expect(parseRetryAfterMs(new Headers({ "retry-after": "2" }))).toBe(2000);
    expect(parseRetryAfterMs(new Headers({ "retry-after": "0.5" }))).toBe(500);
    expect(parseRetryAfterMs(new Headers({ "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
    const now = Date.parse("2030-01-01T00:00:00Z");
    expect(parseRetryAfterMs(new Headers({ "retry-after": "Tue, 01 Jan 2030 00:00:07 GMT" }), now)).toBe(
      7000,
    );
    expect(parseRetryAfterMs(new Headers({ "retry-after": "Mon, 31 Dec 2029 00:00:00 GMT" }), now)).toBe(0);
  });

  test("absent or garbage gives undefined", () => {
    expect(parseRetryAfterMs(new Headers())).toBeUndefined();
    expect(parseRetryAfterMs(new Headers({ "retry-after": "soon" }))).toBeUndefined();
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
  });
});

describe("retryDelayMs", () => {
  const policy = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 8000 };

  test("exponential, capped, with jitter below the nominal delay", () => {
    expect(retryDelayMs(1, undefined, policy, () => 0)).toBe(500);
    expect(retryDelayMs(2, undefined, policy, () => 0)).toBe(1000);
    expect(retryDelayMs(3, undefined, policy, () => 0)).toBe(2000);
    expect(retryDelayMs(10, undefined, policy, () => 0)).toBe(8000);
    const jittered = retryDelayMs(2, undefined, policy, () => 0.999);
    expect(jittered).toBeGreaterThanOrEqual(750);
    expect(jittered).toBeLessThan(1000);
  });

  test("retry-after wins when longer than the backoff", () => {
    expect(retryDelayMs(1, 3000, policy, () => 0)).toBe(3000);
    expect(retryDelayMs(4, 100, policy, () => 0)).toBe(4000);
  });
});
