/**
 * Entity hygiene: puts entities into the shape Telegram documents as valid, so what we store is what users
 * see. Ours because no library checks Telegram's nesting rules; offsets are UTF-16 code units.
 */
import type { TelegramEntity, TelegramEntityType, TelegramText } from "./telegram-text";

const WHITESPACE = /^\s$/u;
const NON_WHITESPACE = /\S/;

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** True when `index` falls between the two halves of a surrogate pair. */
export function splitsSurrogatePair(text: string, index: number): boolean {
  return (
    index > 0 &&
    index < text.length &&
    isHighSurrogate(text.charCodeAt(index - 1)) &&
    isLowSurrogate(text.charCodeAt(index))
  );
}

const SPLITTABLE_TYPES = new Set<TelegramEntityType>(["bold", "italic", "underline", "strikethrough"]);
const CODE_TYPES = new Set<TelegramEntityType>(["code", "pre"]);

function entityEnd(entity: TelegramEntity): number {
  return entity.offset + entity.length;
}

function withRange(entity: TelegramEntity, offset: number, length: number): TelegramEntity {
  return { ...entity, offset, length };
}

/** Outer entities first, so a single pass with a stack can check nesting. */
function compareEntities(left: TelegramEntity, right: TelegramEntity): number {
  return (
    left.offset - right.offset || right.length - left.length || typeRank(left.type) - typeRank(right.type)
  );
}

function typeRank(type: TelegramEntityType): number {
  if (type === "blockquote") return 0;
  if (type === "text_link") return 1;
  if (CODE_TYPES.has(type)) return 3;
  return 2;
}

/**
 * Puts entities into the shape Telegram documents as valid, so what we store is what users see:
 * in bounds, non-empty, never cutting a surrogate pair, never over whitespace only, properly nested,
 * code/pre never inside bold/italic/strike/link (bold is split around the code; a link wins over code),
 * no entity inside another of the same type, no nested blockquotes.
 */
export function normalizeEntities(text: string, entities: readonly TelegramEntity[]): TelegramEntity[] {
  const inBounds: TelegramEntity[] = [];
  for (const entity of entities) {
    if (!Number.isFinite(entity.offset) || !Number.isFinite(entity.length)) continue;
    let start = Math.max(0, Math.min(text.length, Math.trunc(entity.offset)));
    let end = Math.max(start, Math.min(text.length, Math.trunc(entity.offset + entity.length)));
    if (splitsSurrogatePair(text, start)) start--;
    if (splitsSurrogatePair(text, end)) end++;
    if (end > start) inBounds.push(withRange(entity, start, end - start));
  }

  const codes = inBounds.filter((entity) => CODE_TYPES.has(entity.type));
  const links = inBounds.filter((entity) => entity.type === "text_link");
  const isolated: TelegramEntity[] = [];
  for (const entity of inBounds) {
    if (CODE_TYPES.has(entity.type)) {
      const insideLink = links.some(
        (link) => link.offset < entityEnd(entity) && entity.offset < entityEnd(link),
      );
      if (!insideLink) isolated.push(entity);
      continue;
    }
    if (!SPLITTABLE_TYPES.has(entity.type)) {
      isolated.push(entity);
      continue;
    }
    // Cut the code ranges out of bold/italic/strike.
    let cursor = entity.offset;
    const end = entityEnd(entity);
    const inside = codes
      .filter((code) => code.offset < end && entityEnd(code) > entity.offset)
      .sort((left, right) => left.offset - right.offset);
    for (const code of inside) {
      if (code.offset > cursor) isolated.push(withRange(entity, cursor, code.offset - cursor));
      cursor = Math.max(cursor, entityEnd(code));
    }
    if (end > cursor) isolated.push(withRange(entity, cursor, end - cursor));
  }

  const visible = isolated
    .filter((entity) => NON_WHITESPACE.test(text.slice(entity.offset, entityEnd(entity))))
    .sort(compareEntities);

  const result: TelegramEntity[] = [];
  const open: TelegramEntity[] = [];
  for (const entity of visible) {
    while (open.length > 0 && entity.offset >= entityEnd(open[open.length - 1] as TelegramEntity)) open.pop();
    const parent = open[open.length - 1];
    if (parent) {
      const crosses = entityEnd(entity) > entityEnd(parent);
      const sameType = open.some((ancestor) => ancestor.type === entity.type);
      const insideCode = open.some((ancestor) => CODE_TYPES.has(ancestor.type));
      if (crosses || sameType || insideCode) continue;
    }
    result.push(entity);
    open.push(entity);
  }
  return result;
}

/** The part of `input` in [from, to), trimmed of whitespace, with entities clipped and re-based. */
export function sliceTelegramText(input: TelegramText, from: number, to: number): TelegramText {
  const { text } = input;
  let start = from;
  let end = to;
  while (start < end && WHITESPACE.test(text.charAt(start))) start++;
  while (end > start && WHITESPACE.test(text.charAt(end - 1))) end--;
  const clipped: TelegramEntity[] = [];
  for (const entity of input.entities) {
    const entityStart = Math.max(entity.offset, start);
    const entityStop = Math.min(entityEnd(entity), end);
    if (entityStop > entityStart)
      clipped.push(withRange(entity, entityStart - start, entityStop - entityStart));
  }
  const slice = text.slice(start, end);
  return { text: slice, entities: normalizeEntities(slice, clipped) };
}
