/**
 * Exact money arithmetic for LLM costs.
 *
 * Costs are stored in numeric(18,8) columns and compared against the session cost
 * limit, so they are computed with BigInt fixed-point arithmetic, never with
 * floats (0.1 + 0.2 must be 0.3, and a sum of thousands of tiny turn costs must
 * not drift). Amounts travel as decimal strings with exactly 8 decimal places.
 */

import type { ProviderParams, TokenUsage } from "./chat-model";

/** Decimal places of a stored cost (numeric(18,8)). */
export const COST_SCALE = 8;

/**
 * Prices are carried with this many decimals before multiplying, far more than any
 * real per-1M price has, so the product is exact before the final rounding.
 */
const PRICE_SCALE = 18;
const TOKENS_PER_PRICE_UNIT = 1_000_000n;

const DECIMAL_PATTERN = /^([+-])?(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

function pow10(exponent: number): bigint {
  return 10n ** BigInt(exponent);
}

/** Divides rounding half away from zero (how numeric rounds in Postgres). */
function divideRounded(numerator: bigint, denominator: bigint): bigint {
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  let quotient = n / d;
  if ((n % d) * 2n >= d) quotient += 1n;
  return negative ? -quotient : quotient;
}

/**
 * Parses a decimal (string or number, exponent notation allowed) into an integer
 * scaled by 10^scale, rounding half away from zero. Returns null when not a number.
 */
export function parseScaledDecimal(value: string | number, scale: number): bigint | null {
  if (typeof value === "number" && !Number.isFinite(value)) return null;
  // String(number) is the shortest round-tripping decimal, so 0.15 parses as exactly 0.15.
  const match = DECIMAL_PATTERN.exec(String(value).trim());
  if (!match) return null;
  const [, sign, intPart = "", fracPart = "", exponentText] = match;
  if (intPart === "" && fracPart === "") return null;
  const digits = BigInt(`${intPart}${fracPart}` || "0");
  // value = digits × 10^(exponent − fracLength); we want value × 10^scale.
  const shift = scale + Number(exponentText ?? 0) - fracPart.length;
  const scaled = shift >= 0 ? digits * pow10(shift) : divideRounded(digits, pow10(-shift));
  return sign === "-" ? -scaled : scaled;
}

/** Formats an integer scaled by 10^scale as a decimal string with exactly `scale` places. */
export function formatScaledDecimal(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, "0");
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return `${negative ? "-" : ""}${whole}${scale > 0 ? `.${fraction}` : ""}`;
}

/**
 * A price from provider params as an integer scaled by 10^PRICE_SCALE. Missing,
 * malformed or negative prices count as 0: params are validated where they are
 * entered, and a turn the provider already billed must still be recorded.
 */
function priceUnits(price: unknown): bigint | undefined {
  if (typeof price !== "number" && typeof price !== "string") return undefined;
  const units = parseScaledDecimal(price, PRICE_SCALE);
  return units === null || units < 0n ? undefined : units;
}

function tokenCount(value: number): bigint {
  return Number.isFinite(value) && value > 0 ? BigInt(Math.floor(value)) : 0n;
}

/**
 * Cost of one call in USD, as a decimal string with exactly 8 places:
 * (input − cached)·price_input + cached·price_cached_input + output·price_output,
 * all prices per 1M tokens. The cached price defaults to the input price.
 */
export function computeCostUsd(
  usage: Pick<TokenUsage, "input" | "cachedInput" | "output">,
  params: ProviderParams,
): string {
  const inputPrice = priceUnits(params.price_input_per_1m) ?? 0n;
  const cachedPrice = priceUnits(params.price_cached_input_per_1m) ?? inputPrice;
  const outputPrice = priceUnits(params.price_output_per_1m) ?? 0n;

  const input = tokenCount(usage.input);
  // Cached tokens are part of the input; a provider reporting more is clamped rather than billed twice.
  const cached = tokenCount(Math.min(usage.cachedInput, usage.input));
  const output = tokenCount(usage.output);

  // Units of 10^-(PRICE_SCALE) USD × tokens; divide by 1M tokens and rescale once, at the end.
  const total = (input - cached) * inputPrice + cached * cachedPrice + output * outputPrice;
  const cost = divideRounded(total, TOKENS_PER_PRICE_UNIT * pow10(PRICE_SCALE - COST_SCALE));
  return formatScaledDecimal(cost, COST_SCALE);
}

function costUnits(value: string, label: string): bigint {
  const units = parseScaledDecimal(value, COST_SCALE);
  if (units === null) throw new RangeError(`${label} is not a decimal amount: ${JSON.stringify(value)}`);
  return units;
}

/** Exact sum of two USD amounts (decimal strings, e.g. from numeric columns), 8 places. */
export function addCostUsd(a: string, b: string): string {
  return formatScaledDecimal(costUnits(a, "a") + costUnits(b, "b"), COST_SCALE);
}

/** Exact difference a − b of two USD amounts, 8 places. */
export function subtractCostUsd(a: string, b: string): string {
  return formatScaledDecimal(costUnits(a, "a") - costUnits(b, "b"), COST_SCALE);
}

/** Compares two USD amounts exactly (to 8 places): -1 when a < b, 0 when equal, 1 when a > b. */
export function compareCostUsd(a: string, b: string): -1 | 0 | 1 {
  const left = costUnits(a, "a");
  const right = costUnits(b, "b");
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Zero USD in the stored format. */
export const ZERO_COST_USD = formatScaledDecimal(0n, COST_SCALE);
