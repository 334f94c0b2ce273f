/**
 * Splitting into messages of at most 4096 UTF-16 code units (Telegram's count after entity parsing), at
 * paragraph, line, sentence or word boundaries, never inside a grapheme or a surrogate pair.
 */
import { sliceTelegramText, splitsSurrogatePair } from "./normalize-entities";
import type { TelegramText } from "./telegram-text";

/** Telegram's limit for a text message, in UTF-16 code units after entity parsing. */
export const TELEGRAM_TEXT_LIMIT = 4096;

const WHITESPACE = /^\s$/u;
/** Share of a chunk that a "nice" break must leave behind, so we do not send tiny messages. */
const MIN_NICE_BREAK_SHARE = 0.5;
/** How far around a hard cut we look for a grapheme boundary (keeps ZWJ emoji and flags whole). */
const GRAPHEME_WINDOW = 64;
const SENTENCE_END = /[.!?…]/;

let graphemeSegmenter: Intl.Segmenter | undefined;

/** Index of the whitespace after the last sentence end in [minimum, limit], or -1. */
function lastSentenceEnd(text: string, limit: number, minimum: number): number {
  for (let index = limit; index >= minimum; index--) {
    if (SENTENCE_END.test(text.charAt(index - 1)) && WHITESPACE.test(text.charAt(index))) return index;
  }
  return -1;
}

function lastWhitespace(text: string, limit: number, minimum: number): number {
  for (let index = limit; index >= minimum; index--) {
    if (WHITESPACE.test(text.charAt(index))) return index;
  }
  return -1;
}

/** A hard cut at or before `limit` that splits neither a surrogate pair nor (when possible) a grapheme. */
function hardCut(text: string, start: number, limit: number): number {
  const windowStart = Math.max(start, limit - GRAPHEME_WINDOW);
  const windowEnd = Math.min(text.length, limit + GRAPHEME_WINDOW);
  graphemeSegmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  let best = -1;
  for (const segment of graphemeSegmenter.segment(text.slice(windowStart, windowEnd))) {
    const position = windowStart + segment.index;
    if (position > limit) break;
    // The window's own start may be mid-grapheme, so it only counts when it is the chunk start.
    if (position > start && position > windowStart) best = position;
  }
  if (best > start) return best;
  return splitsSurrogatePair(text, limit) ? limit - 1 : limit;
}

/** Where to end the chunk that starts at `start`; the chunk is text[start, cut) and cut ≤ limit. */
function findCut(text: string, start: number, limit: number): number {
  for (const share of [MIN_NICE_BREAK_SHARE, 0]) {
    const minimum = start + Math.max(1, Math.floor((limit - start) * share));
    const paragraph = text.lastIndexOf("\n\n", limit);
    if (paragraph >= minimum) return paragraph;
    const line = text.lastIndexOf("\n", limit);
    if (line >= minimum) return line;
    const sentence = lastSentenceEnd(text, limit, minimum);
    if (sentence >= minimum) return sentence;
    const space = lastWhitespace(text, limit, minimum);
    if (space >= minimum) return space;
  }
  return hardCut(text, start, limit);
}

/**
 * Splits into chunks of at most `maxLength` (default 4096) UTF-16 units, preferring paragraph breaks,
 * then line breaks, then sentence ends (". ", "! ", "? ", "… "), then spaces; a hard cut is the last
 * resort and never splits a surrogate pair (nor, where avoidable, a grapheme such as a ZWJ emoji).
 * Entities are clipped and re-based per chunk (one crossing a boundary becomes two); chunks are trimmed
 * and never empty, so whitespace-only input gives `[]`. Apply {@link withHeader} before splitting.
 * @throws RangeError when `maxLength` is not an integer ≥ 2 (an emoji needs two units).
 */
export function splitTelegramText(
  input: TelegramText,
  maxLength: number = TELEGRAM_TEXT_LIMIT,
): TelegramText[] {
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new RangeError(`maxLength must be an integer >= 2, got ${maxLength}`);
  }
  const { text } = input;
  const chunks: TelegramText[] = [];
  let start = 0;
  while (start < text.length && WHITESPACE.test(text.charAt(start))) start++;
  let end = text.length;
  while (end > start && WHITESPACE.test(text.charAt(end - 1))) end--;

  while (start < end) {
    const cut = end - start <= maxLength ? end : findCut(text, start, start + maxLength);
    const chunk = sliceTelegramText(input, start, cut);
    if (chunk.text.length > 0) chunks.push(chunk);
    start = cut;
    while (start < end && WHITESPACE.test(text.charAt(start))) start++;
  }
  return chunks;
}
