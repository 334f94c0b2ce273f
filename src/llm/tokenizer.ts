/**
 * gpt-tokenizer (o200k), loaded on first use: its tables take ≈ 65 MB of memory, and most turns
 * never need an exact count (a prompt whose byte length fits the limit is not counted, and
 * providers report usage). Topics and answers are untrusted text: a special-token look-alike
 * (`<|endoftext|>`) in them is plain text, where gpt-tokenizer's default would throw and fail every
 * later turn of the debate.
 */
import { createRequire } from "node:module";

type GptTokenizer = typeof import("gpt-tokenizer");

const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };
const requireModule = createRequire(import.meta.url);
let loaded: GptTokenizer | undefined;

function gptTokenizer(): GptTokenizer {
  loaded ??= requireModule("gpt-tokenizer") as GptTokenizer;
  return loaded;
}

/** Tokens of plain text. */
export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : gptTokenizer().countTokens(text, PLAIN_TEXT);
}

/** The tokens of plain text. */
export function encodeText(text: string): number[] {
  return gptTokenizer().encode(text, PLAIN_TEXT);
}

/** The text of tokens. */
export function decodeTokens(tokens: readonly number[]): string {
  return gptTokenizer().decode(tokens);
}
