import { describe, expect, test } from "bun:test";
import { countTokens } from "gpt-tokenizer";
import {
  addCostUsd,
  compareCostUsd,
  computeCostUsd,
  parseScaledDecimal,
  ZERO_COST_USD,
} from "../../src/llm/pricing";
import { estimateUsage, normalizeUsage } from "../../src/llm/usage";

describe("normalizeUsage", () => {
  test("OpenAI shape: prompt tokens include cached ones, raw is kept", () => {
    const raw = {
      prompt_tokens: 1200,
      completion_tokens: 300,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    };
    expect(normalizeUsage(raw)).toEqual({
      input: 1200,
      cachedInput: 1024,
      output: 300,
      estimated: false,
      raw,
    });
  });

  test("OpenAI shape without details means nothing cached", () => {
    expect(normalizeUsage({ prompt_tokens: 10, completion_tokens: 5 })).toMatchObject({
      input: 10,
      cachedInput: 0,
      output: 5,
    });
  });

  test("DeepSeek shape: cache hit tokens are the cached input", () => {
    const raw = {
      prompt_tokens: 900,
      completion_tokens: 120,
      total_tokens: 1020,
      prompt_cache_hit_tokens: 640,
      prompt_cache_miss_tokens: 260,
    };
    expect(normalizeUsage(raw)).toEqual({ input: 900, cachedInput: 640, output: 120, estimated: false, raw });
  });

  test("DeepSeek shape without prompt_tokens sums hit and miss", () => {
    expect(
      normalizeUsage({ prompt_cache_hit_tokens: 30, prompt_cache_miss_tokens: 70, completion_tokens: 4 }),
    ).toMatchObject({ input: 100, cachedInput: 30, output: 4 });
  });

  test("cached never exceeds input", () => {
    expect(
      normalizeUsage({
        prompt_tokens: 5,
        completion_tokens: 1,
        prompt_tokens_details: { cached_tokens: 50 },
      }),
    ).toMatchObject({ input: 5, cachedInput: 5 });
  });

  test("no counts at all gives null so the caller estimates", () => {
    expect(normalizeUsage(null)).toBeNull();
    expect(normalizeUsage(undefined)).toBeNull();
    expect(normalizeUsage({})).toBeNull();
    expect(normalizeUsage({ prompt_tokens: "12" })).toBeNull();
  });
});

describe("estimateUsage", () => {
  test("counts with gpt-tokenizer and flags the estimate", () => {
    const messages = [
      { role: "system" as const, content: "You are a debater." },
      { role: "user" as const, content: "Should cities ban cars from their centres?" },
    ];
    const text = "Yes, mostly: the evidence on air quality and safety is strong.";
    const usage = estimateUsage(messages, text);
    expect(usage.estimated).toBe(true);
    expect(usage.cachedInput).toBe(0);
    expect(usage.output).toBe(countTokens(text));
    const contentTokens = countTokens(messages[0]!.content) + countTokens(messages[1]!.content);
    // Chat framing adds a few tokens per message on top of the content.
    expect(usage.input).toBeGreaterThan(contentTokens);
    expect(usage.input).toBeLessThan(contentTokens + 20);
  });

  test("text that looks like a special token is counted, not rejected", () => {
    const usage = estimateUsage([{ role: "user", content: "a <|endoftext|> b" }], "<|im_start|>");
    expect(usage.input).toBeGreaterThan(0);
    expect(usage.output).toBeGreaterThan(0);
  });

  test("empty answer costs zero output tokens", () => {
    expect(estimateUsage([], "").output).toBe(0);
  });
});

describe("computeCostUsd", () => {
  test("1,000,000 input tokens at 0.15 per 1M", () => {
    expect(
      computeCostUsd({ input: 1_000_000, cachedInput: 0, output: 0 }, { price_input_per_1m: 0.15 }),
    ).toBe("0.15000000");
  });

  test("OpenAI shape: cached tokens priced at the cached rate", () => {
    const usage = normalizeUsage({
      prompt_tokens: 1000,
      completion_tokens: 200,
      prompt_tokens_details: { cached_tokens: 400 },
    })!;
    // 600 × 2.5 + 400 × 1.25 + 200 × 10 = 1500 + 500 + 2000 per 1M → 0.004
    const cost = computeCostUsd(usage, {
      price_input_per_1m: 2.5,
      price_cached_input_per_1m: 1.25,
      price_output_per_1m: 10,
    });
    expect(cost).toBe("0.00400000");
  });

  test("DeepSeek shape: cache hits at the cached rate, misses at the input rate", () => {
    const usage = normalizeUsage({
      prompt_tokens: 1000,
      completion_tokens: 100,
      prompt_cache_hit_tokens: 600,
      prompt_cache_miss_tokens: 400,
    })!;
    // 400 × 0.27 + 600 × 0.07 + 100 × 1.1 = 108 + 42 + 110 = 260 per 1M
    const cost = computeCostUsd(usage, {
      price_input_per_1m: 0.27,
      price_cached_input_per_1m: 0.07,
      price_output_per_1m: 1.1,
    });
    expect(cost).toBe("0.00026000");
  });

  test("cached price defaults to the input price", () => {
    expect(
      computeCostUsd({ input: 2_000_000, cachedInput: 1_000_000, output: 0 }, { price_input_per_1m: 3 }),
    ).toBe("6.00000000");
  });

  test("no prices means zero cost", () => {
    expect(computeCostUsd({ input: 123_456, cachedInput: 0, output: 7890 }, {})).toBe(ZERO_COST_USD);
    expect(ZERO_COST_USD).toBe("0.00000000");
  });

  test("exact where floats are not", () => {
    // In floats 0.1 + 0.2 = 0.30000000000000004 and 3 × 0.1 = 0.30000000000000004.
    expect(
      computeCostUsd(
        { input: 1_000_000, cachedInput: 0, output: 1_000_000 },
        {
          price_input_per_1m: 0.1,
          price_output_per_1m: 0.2,
        },
      ),
    ).toBe("0.30000000");
    expect(computeCostUsd({ input: 3_000_000, cachedInput: 0, output: 0 }, { price_input_per_1m: 0.1 })).toBe(
      "0.30000000",
    );
    // 1.1 × 1.1 in floats is 1.2100000000000002.
    expect(
      computeCostUsd({ input: 0, cachedInput: 0, output: 1_100_000 }, { price_output_per_1m: 1.1 }),
    ).toBe("1.21000000");
  });

  test("rounds half up at the 8th decimal", () => {
    // 1 token at 0.005 per 1M = 0.000000005 → 0.00000001
    expect(computeCostUsd({ input: 1, cachedInput: 0, output: 0 }, { price_input_per_1m: 0.005 })).toBe(
      "0.00000001",
    );
    // 1 token at 0.0049 per 1M = 0.0000000049 → 0.00000000
    expect(computeCostUsd({ input: 1, cachedInput: 0, output: 0 }, { price_input_per_1m: 0.0049 })).toBe(
      "0.00000000",
    );
    // 12345 tokens at 0.15 = 0.00185175 exactly
    expect(computeCostUsd({ input: 12_345, cachedInput: 0, output: 0 }, { price_input_per_1m: 0.15 })).toBe(
      "0.00185175",
    );
  });

  test("tiny prices in exponent notation and large token counts", () => {
    expect(
      computeCostUsd({ input: 1_000_000, cachedInput: 0, output: 0 }, { price_input_per_1m: 1e-7 }),
    ).toBe("0.00000010");
    expect(
      computeCostUsd({ input: 9_000_000_000, cachedInput: 0, output: 0 }, { price_input_per_1m: 60 }),
    ).toBe("540000.00000000");
  });

  test("prices stored as strings are accepted; invalid ones count as zero", () => {
    expect(
      computeCostUsd(
        { input: 1_000_000, cachedInput: 0, output: 0 },
        {
          price_input_per_1m: "0.25" as unknown as number,
        },
      ),
    ).toBe("0.25000000");
    expect(
      computeCostUsd({ input: 1_000_000, cachedInput: 0, output: 0 }, { price_input_per_1m: Number.NaN }),
    ).toBe("0.00000000");
    expect(computeCostUsd({ input: 1_000_000, cachedInput: 0, output: 0 }, { price_input_per_1m: -1 })).toBe(
      "0.00000000",
    );
  });

  test("cached above input is clamped, not billed twice", () => {
    expect(
      computeCostUsd(
        { input: 100, cachedInput: 500, output: 0 },
        {
          price_input_per_1m: 10_000,
          price_cached_input_per_1m: 1_000,
        },
      ),
    ).toBe("0.10000000");
  });
});

describe("addCostUsd / compareCostUsd", () => {
  test("adds exactly with 8 places", () => {
    expect(addCostUsd("0.10000000", "0.20000000")).toBe("0.30000000");
    expect(addCostUsd("0.00000001", "0.00000002")).toBe("0.00000003");
    expect(addCostUsd("0", "1.5")).toBe("1.50000000");
    expect(addCostUsd("9999999999.99999999", "0.00000001")).toBe("10000000000.00000000");
  });

  test("a thousand tiny additions do not drift", () => {
    let total = ZERO_COST_USD;
    for (let i = 0; i < 1000; i++) total = addCostUsd(total, "0.00000010");
    expect(total).toBe("0.00010000");
  });

  test("compares exactly", () => {
    expect(compareCostUsd("0.30000000", "0.3")).toBe(0);
    expect(compareCostUsd("0.29999999", "0.30000000")).toBe(-1);
    expect(compareCostUsd("1.00000001", "1")).toBe(1);
    expect(compareCostUsd("10", "9.99999999")).toBe(1);
  });

  test("rejects what is not an amount", () => {
    expect(() => addCostUsd("abc", "1")).toThrow(RangeError);
    expect(() => compareCostUsd("1", "")).toThrow(RangeError);
  });

  test("parseScaledDecimal handles signs, exponents and rounding", () => {
    expect(parseScaledDecimal("-1.5", 2)).toBe(-150n);
    expect(parseScaledDecimal("2.5e-3", 4)).toBe(25n);
    expect(parseScaledDecimal(".125", 2)).toBe(13n);
    expect(parseScaledDecimal("1e3", 0)).toBe(1000n);
    expect(parseScaledDecimal("nope", 2)).toBeNull();
    expect(parseScaledDecimal(Number.POSITIVE_INFINITY, 2)).toBeNull();
  });
});
