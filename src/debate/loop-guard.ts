/** Loop guard: spots empty answers and near-duplicates of recent turns. */

/** Lower-cased words without punctuation: formatting changes do not hide a repeat. */
export function normalizeForComparison(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, " ")
    .split(/\s+/)
    .filter(Boolean);
}

function shingles(words: string[], size: number): Set<string> {
  const result = new Set<string>();
  if (words.length < size) {
    if (words.length > 0) result.add(words.join(" "));
    return result;
  }
  for (let index = 0; index + size <= words.length; index++)
    result.add(words.slice(index, index + size).join(" "));
  return result;
}

/** Word 3-shingles of a text: what {@link judgeAnswer} compares. */
export const shinglesOf = (text: string): ReadonlySet<string> => shingles(normalizeForComparison(text), 3);

function jaccard(left: ReadonlySet<string>, right: ReadonlySet<string>): number {
  if (left.size === 0 || right.size === 0) return 0;
  let shared = 0;
  for (const item of left) if (right.has(item)) shared++;
  return shared / (left.size + right.size - shared);
}

/** Jaccard similarity of word 3-shingles, 0..1. */
export function similarity(a: string, b: string): number {
  return jaccard(shinglesOf(a), shinglesOf(b));
}

export type LoopVerdict = "ok" | "empty" | "repeat";

/** Threshold above which two answers count as the same answer. */
export const REPEAT_SIMILARITY = 0.8;

/**
 * Judges an answer against the recent turns (anyone's). `shinglesFor` lets a caller that judges
 * every turn reuse the shingles of turns it has seen before.
 */
export function judgeAnswer(
  text: string,
  recentTurns: readonly string[],
  shinglesFor: (text: string) => ReadonlySet<string> = shinglesOf,
): LoopVerdict {
  const answer = shinglesFor(text);
  if (answer.size === 0) return "empty";
  for (const previous of recentTurns)
    if (jaccard(answer, shinglesFor(previous)) >= REPEAT_SIMILARITY) return "repeat";
  return "ok";
}

/** Strikes after which a participant is excluded. */
export const MAX_LOOP_STRIKES = 2;
