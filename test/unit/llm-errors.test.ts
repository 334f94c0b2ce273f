import { describe, expect, test } from "bun:test";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import {
  abortedError,
  classifyError,
  LlmError,
  parseRetryAfterMs,
  publicFailureLine,
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
    [302, "redirect", false],
    [307, "redirect", false],
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

describe("scrubSecrets", () => {
  const leaks: [string, string, string][] = [
    ["OpenAI project key", "Incorrect API key provided: sk-proj-AbC123dEf456GhI789jKl.", "sk-proj-AbC123"],
    ["DeepSeek key", "Authentication Fails (sk-0123456789abcdef0123456789abcdef)", "0123456789abcdef"],
    ["URL-encoded sk key", "GET /proxy?target=sk%2DAbc123Def456Ghi789", "Abc123Def456"],
    ["bearer header", "echo: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9"],
    ["URL-encoded bearer", "header=Bearer%20abcdef123456", "abcdef123456"],
    ["api_key in a URL", "fetch https://x.example/v1?api_key=hunter2hunter2&alt=json", "hunter2hunter2"],
    ["Google-style key= in a URL", "https://x.example/v1/models?key=AIzaSyA1b2C3d4", "AIzaSyA1b2C3d4"],
    ["percent-encoded api_key", "u=https%3A%2F%2Fx%2F%3Fapi_key%3Dtopsecret99", "topsecret99"],
    ["JSON token field", '{"token": "opaque-but-secret"}', "opaque-but-secret"],
    ["generic long token", "key rejected: hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "AbCdEfGhIjKlMnOp"],
    ["organisation id", "You are not a member of organization org-XyZ123456789abcdEFGH.", "org-XyZ123"],
    ["project id", "Project `proj_AbCdEfGh12345678` has no access", "proj_AbCdEfGh"],
  ];
  for (const [label, message, secret] of leaks) {
    test(`scrubs ${label}`, () => {
      const scrubbed = scrubSecrets(message);
      expect(scrubbed).not.toContain(secret);
      expect(scrubbed).toContain("[redacted]");
    });
  }

  test("a known secret is scrubbed as is and URL-encoded", () => {
    const secret = "my+key/with=chars";
    const scrubbed = scrubSecrets(`a ${secret} b ${encodeURIComponent(secret)} c`, [secret]);
    expect(scrubbed).toBe("a [redacted] b [redacted] c");
  });

  test("ordinary error text survives: model names, UUIDs, counts, balances", () => {
    for (const message of [
      "The model `gpt-4o-mini-2024-07-18-preview-extended` does not exist",
      "request 123e4567-e89b-12d3-a456-426614174000 failed",
      "max_tokens: 16 is too small; tokens: 5",
      "Insufficient Balance",
    ]) {
      expect(scrubSecrets(message)).toBe(message);
    }
  });
});

describe("failure kinds and public lines", () => {
  const error = (init: Partial<ConstructorParameters<typeof LlmError>[0]> & { code: LlmError["code"] }) =>
    new LlmError({
      message: "Project proj_secret123456 in org-abcdefgh1234: Insufficient Balance",
      isRetryable: false,
      ...init,
    });

  const lines: [LlmError, LlmError["kind"], string, string][] = [
    [error({ code: "timeout" }), "timeout", "the provider timed out", "провайдер не ответил вовремя"],
    [
      error({ code: "network" }),
      "network",
      "network error reaching the provider",
      "сетевая ошибка при обращении к провайдеру",
    ],
    [
      error({ code: "auth", status: 401 }),
      "bad_key",
      "the provider rejected the API key (HTTP 401)",
      "провайдер отклонил API-ключ (HTTP 401)",
    ],
    [
      error({ code: "key_unreadable" }),
      "bad_key",
      "its API key cannot be used",
      "его API-ключ не удаётся использовать",
    ],
    [
      error({ code: "rate_limited", status: 429 }),
      "rate_limited",
      "the provider is rate limiting requests (HTTP 429)",
      "провайдер ограничивает частоту запросов (HTTP 429)",
    ],
    [
      error({ code: "forbidden", status: 403 }),
      "refused",
      "the provider refused the request (HTTP 403)",
      "провайдер отказал в запросе (HTTP 403)",
    ],
    [
      error({ code: "forbidden", status: 402 }),
      "refused",
      "the provider refused the request (HTTP 402)",
      "провайдер отказал в запросе (HTTP 402)",
    ],
    [
      error({ code: "refused" }),
      "refused",
      "the server's settings do not allow calling this provider",
      "настройки сервера не разрешают обращаться к этому провайдеру",
    ],
    [
      error({ code: "server_error", status: 503 }),
      "http",
      "the provider had an internal error (HTTP 503)",
      "внутренняя ошибка провайдера (HTTP 503)",
    ],
    [
      error({ code: "not_found", status: 404 }),
      "http",
      "the provider does not know this model or address (HTTP 404)",
      "провайдер не знает такой модели или адреса (HTTP 404)",
    ],
    [
      error({ code: "redirect", status: 302 }),
      "http",
      "the provider answered with a redirect (HTTP 302), which is not followed",
      "провайдер ответил перенаправлением (HTTP 302), по нему не переходим",
    ],
    [
      error({ code: "bad_request", status: 400 }),
      "http",
      "the provider returned an error (HTTP 400)",
      "провайдер вернул ошибку (HTTP 400)",
    ],
    [
      error({ code: "unknown" }),
      "unknown",
      "the provider call failed",
      "не удалось получить ответ провайдера",
    ],
  ];
  for (const [failure, kind, en, ru] of lines) {
    test(`${failure.code}${failure.status ? ` ${failure.status}` : ""} → ${kind}`, () => {
      expect(failure.kind).toBe(kind);
      expect(publicFailureLine(failure, "en")).toBe(en);
      expect(publicFailureLine(failure, "ru")).toBe(ru);
    });
  }

  test("the line never carries the provider's text, whatever was thrown", () => {
    const raw = apiError(402, "Insufficient Balance for org-abcdefgh1234");
    expect(publicFailureLine(raw, "en")).toBe("the provider refused the request (HTTP 402)");
    expect(publicFailureLine(new Error("boom"), "ru")).toBe("не удалось получить ответ провайдера");
  });

  test("a refusal by our own fetch guard keeps its code through the SDK's connection error", () => {
    const refusal = new LlmError({
      code: "refused",
      message: "Not sent: another origin.",
      isRetryable: false,
    });
    const wrapped = new APIConnectionError({ message: "Connection error.", cause: refusal });
    expect(classifyError(wrapped)).toMatchObject({ code: "refused", kind: "refused", isRetryable: false });
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
