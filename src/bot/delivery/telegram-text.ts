/**
 * Model Markdown → Telegram text + entities, and splitting into messages.
 *
 * We send `text` + `entities` and never `parse_mode`: model output is arbitrary, and one stray `_` or `*`
 * makes Telegram reject a parse_mode message ("can't parse entities"). Entities cannot fail that way,
 * so a bad piece of Markdown only costs formatting, never the message.
 *
 * Offsets and lengths are UTF-16 code units (JavaScript string indices), which is what Telegram counts.
 */
import { FormattableString } from "@gramio/format";

/** Telegram's limit for a text message, in UTF-16 code units after entity parsing. */
export const TELEGRAM_TEXT_LIMIT = 4096;

/** The entity types this module produces (a subset of Telegram's MessageEntity types). */
export type TelegramEntityType =
  | "bold"
  | "italic"
  | "code"
  | "pre"
  | "text_link"
  | "underline"
  | "strikethrough"
  | "blockquote";

/** A Telegram MessageEntity subset we produce. Assignable to GramIO's `TelegramMessageEntity`. */
export interface TelegramEntity {
  type: TelegramEntityType;
  /** Start, in UTF-16 code units from the beginning of `text`. */
  offset: number;
  /** Length in UTF-16 code units; always > 0. */
  length: number;
  /** For `text_link` only: an http, https or tg URL. */
  url?: string;
  /** For `pre` only: the fenced block's language. */
  language?: string;
}

/** Plain text plus entities: what `sendMessage({ chat_id, text, entities })` takes and the outbox stores. */
export interface TelegramText {
  text: string;
  entities: TelegramEntity[];
}

// ---------------------------------------------------------------------------------------------------------
// Character helpers

const ASCII_PUNCTUATION = /^[!-/:-@[-`{-~]$/;
const WHITESPACE = /^\s$/u;
const WORD_CHARACTER = /^[\p{L}\p{N}]$/u;
const NON_WHITESPACE = /\S/;

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** True when `index` falls between the two halves of a surrogate pair. */
function splitsSurrogatePair(text: string, index: number): boolean {
  return (
    index > 0 &&
    index < text.length &&
    isHighSurrogate(text.charCodeAt(index - 1)) &&
    isLowSurrogate(text.charCodeAt(index))
  );
}

/** The whole code point ending just before `index` ("" at the start). */
function codePointBefore(text: string, index: number): string {
  if (index <= 0) return "";
  return splitsSurrogatePair(text, index - 1) ? text.slice(index - 2, index) : text.charAt(index - 1);
}

/** The whole code point starting at `index` ("" at the end). */
function codePointAt(text: string, index: number): string {
  const code = text.codePointAt(index);
  return code === undefined ? "" : String.fromCodePoint(code);
}

/** Start and end of the text count as whitespace, as in CommonMark's flanking rules. */
function isWhitespaceOrEdge(character: string): boolean {
  return character === "" || WHITESPACE.test(character);
}

function hasVisibleText(text: string): boolean {
  return NON_WHITESPACE.test(text);
}

// ---------------------------------------------------------------------------------------------------------
// Output builder

class TextBuilder {
  private readonly parts: string[] = [];
  length = 0;
  readonly entities: TelegramEntity[] = [];

  append(value: string): void {
    if (value.length === 0) return;
    this.parts.push(value);
    this.length += value.length;
  }

  /** Records an entity from `start` to the current end; empty ranges are skipped. */
  mark(type: TelegramEntityType, start: number, extra: { url?: string; language?: string } = {}): void {
    const length = this.length - start;
    if (length <= 0) return;
    const entity: TelegramEntity = { type, offset: start, length };
    if (extra.url !== undefined) entity.url = extra.url;
    if (extra.language !== undefined) entity.language = extra.language;
    this.entities.push(entity);
  }

  text(): string {
    return this.parts.join("");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Inline Markdown

type SpanType = "bold" | "italic" | "strikethrough" | "text_link";

type InlineNode =
  | { kind: "text"; value: string }
  | { kind: "code"; value: string }
  | { kind: "span"; type: SpanType; url?: string; children: InlineNode[] };

interface Delimiter {
  character: "*" | "_" | "~";
  /** Characters not yet used by a match. */
  length: number;
  originalLength: number;
  canOpen: boolean;
  canClose: boolean;
}

/** A doubly linked list lets emphasis matching replace a run of items by one span in O(1). */
interface Item {
  node: InlineNode | null;
  delimiter: Delimiter | null;
  previous: Item | null;
  next: Item | null;
}

/** Longest link label / destination we try to match; bounds the work a stray "[" can cause. */
const MAX_LINK_LABEL = 2000;
const MAX_LINK_DESTINATION = 2048;
const ALLOWED_LINK_PROTOCOLS = new Set(["http:", "https:", "tg:"]);
const AUTOLINK = /^<((?:https?|tg):\/\/[^\s<>]{1,2048})>/;

/**
 * Returns the URL Telegram may open, or undefined for anything else (javascript:, data:, relative paths,
 * hosts without a dot such as "localhost", which Telegram refuses as a text_link).
 */
function safeLinkUrl(destination: string): string | undefined {
  const trimmed = destination.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_LINK_DESTINATION) return undefined;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return undefined;
  }
  if (!ALLOWED_LINK_PROTOCOLS.has(url.protocol)) return undefined;
  if (url.protocol !== "tg:" && !url.hostname.includes(".")) return undefined;
  if (url.protocol === "tg:" && trimmed.length <= "tg://".length) return undefined;
  return url.protocol === "tg:" ? trimmed : url.href;
}

function backtickRunLength(source: string, start: number): number {
  let end = start;
  while (source.charCodeAt(end) === 96) end++;
  return end - start;
}

/** Index of the next backtick run of exactly `length`, or -1 (CommonMark code span rule). */
function findClosingBackticks(source: string, from: number, length: number): number {
  let index = source.indexOf("`", from);
  while (index !== -1) {
    const run = backtickRunLength(source, index);
    if (run === length) return index;
    index = source.indexOf("`", index + run);
  }
  return -1;
}

function normalizeCodeSpan(content: string): string {
  const flattened = content.replace(/\n/g, " ");
  // CommonMark strips one space on each side so that "`` `x` ``" can show backticks.
  if (
    flattened.length >= 2 &&
    flattened.startsWith(" ") &&
    flattened.endsWith(" ") &&
    hasVisibleText(flattened)
  ) {
    return flattened.slice(1, -1);
  }
  return flattened;
}

interface ParsedLink {
  label: string;
  destination: string;
  end: number;
}

/**
 * Parses `[label](destination "title")` starting at the "[" at `open`; null if it is not a whole link.
 * `lastClose` (the last ")" in the source) lets a run of stray "[" fail without scanning ahead.
 */
function parseLink(source: string, open: number, lastClose: number): ParsedLink | null {
  if (open > lastClose) return null;
  let depth = 0;
  let index = open;
  let close = -1;
  const labelLimit = Math.min(source.length, open + MAX_LINK_LABEL);
  while (index < labelLimit) {
    const character = source.charAt(index);
    if (character === "\\") {
      index += 2;
      continue;
    }
    if (character === "`") {
      // A code span inside the label may contain brackets; skip it whole.
      const run = backtickRunLength(source, index);
      const closing = findClosingBackticks(source, index + run, run);
      index = closing === -1 ? index + run : closing + run;
      continue;
    }
    if (character === "[") depth++;
    if (character === "]") {
      depth--;
      if (depth === 0) {
        close = index;
        break;
      }
    }
    index++;
  }
  if (close === -1 || source.charAt(close + 1) !== "(") return null;

  let position = close + 2;
  const destinationLimit = Math.min(source.length, position + MAX_LINK_DESTINATION);
  while (source.charAt(position) === " ") position++;
  let destination = "";
  if (source.charAt(position) === "<") {
    const end = source.indexOf(">", position + 1);
    if (end === -1 || end > destinationLimit) return null;
    destination = source.slice(position + 1, end);
    if (destination.includes("\n")) return null;
    position = end + 1;
  } else {
    let parentheses = 0;
    const start = position;
    while (position < destinationLimit) {
      const character = source.charAt(position);
      if (character === "\\" && ASCII_PUNCTUATION.test(source.charAt(position + 1))) {
        position += 2;
        continue;
      }
      if (WHITESPACE.test(character)) break;
      if (character === "(") parentheses++;
      if (character === ")") {
        if (parentheses === 0) break;
        parentheses--;
      }
      position++;
    }
    destination = source.slice(start, position).replace(/\\([!-/:-@[-`{-~])/g, "$1");
  }
  while (source.charAt(position) === " ") position++;
  // Optional title: "t", 't' or (t). It is never shown, so it is only skipped.
  const titleOpen = source.charAt(position);
  if (titleOpen === '"' || titleOpen === "'" || titleOpen === "(") {
    const titleClose = titleOpen === "(" ? ")" : titleOpen;
    const end = source.indexOf(titleClose, position + 1);
    if (end === -1 || end > destinationLimit) return null;
    position = end + 1;
    while (source.charAt(position) === " ") position++;
  }
  if (source.charAt(position) !== ")") return null;
  return { label: source.slice(open + 1, close), destination, end: position + 1 };
}

/**
 * Delimiter rules, deliberately a little looser than CommonMark for "*" and "~" (models write
 * "**Note:**text"), and stricter for "_": it never opens or closes next to a letter or digit, so
 * snake_case_name and __init__-like identifiers inside words stay literal.
 */
function makeDelimiter(source: string, start: number, length: number): Delimiter {
  const character = source.charAt(start) as Delimiter["character"];
  const before = codePointBefore(source, start);
  const after = codePointAt(source, start + length);
  let canOpen = !isWhitespaceOrEdge(after);
  let canClose = !isWhitespaceOrEdge(before);
  if (character === "_") {
    canOpen = canOpen && !WORD_CHARACTER.test(before);
    canClose = canClose && !WORD_CHARACTER.test(after);
  }
  return { character, length, originalLength: length, canOpen, canClose };
}

function itemNode(item: Item): InlineNode {
  if (item.node) return item.node;
  const delimiter = item.delimiter;
  return { kind: "text", value: delimiter ? delimiter.character.repeat(delimiter.length) : "" };
}

function unlink(item: Item): void {
  if (item.previous) item.previous.next = item.next;
  if (item.next) item.next.previous = item.previous;
}

/** Nearest usable opener on the stack, or -1. Applies CommonMark's "rule of 3" to keep `*a**b*` sane. */
function findOpener(openers: Item[], closer: Delimiter): number {
  for (let index = openers.length - 1; index >= 0; index--) {
    const opener = openers[index]?.delimiter;
    if (!opener || opener.character !== closer.character || opener.length === 0) continue;
    const bothWays = opener.canClose || closer.canOpen;
    const sum = opener.originalLength + closer.originalLength;
    if (bothWays && sum % 3 === 0 && !(opener.originalLength % 3 === 0 && closer.originalLength % 3 === 0)) {
      continue;
    }
    return index;
  }
  return -1;
}

/**
 * CommonMark's "process emphasis": closers are matched, left to right, with the nearest compatible opener,
 * which can only produce properly nested spans. Unmatched delimiters become literal text.
 */
function resolveEmphasis(head: Item): InlineNode[] {
  const openers: Item[] = [];
  let current = head.next;
  while (current) {
    const closer = current.delimiter;
    if (!closer) {
      current = current.next;
      continue;
    }
    if (closer.canClose) {
      while (closer.length > 0) {
        const openerIndex = findOpener(openers, closer);
        if (openerIndex === -1) break;
        const openerItem = openers[openerIndex];
        const opener = openerItem?.delimiter;
        if (!openerItem || !opener) break;
        const used = closer.character === "~" ? 2 : opener.length >= 2 && closer.length >= 2 ? 2 : 1;
        const type: SpanType = closer.character === "~" ? "strikethrough" : used === 2 ? "bold" : "italic";
        const children: InlineNode[] = [];
        for (let item = openerItem.next; item && item !== current; item = item.next)
          children.push(itemNode(item));
        const span: Item = {
          node: { kind: "span", type, children },
          delimiter: null,
          previous: openerItem,
          next: current,
        };
        openerItem.next = span;
        current.previous = span;
        // Openers between the pair can no longer match anything outside it.
        openers.length = openerIndex + 1;
        opener.length -= used;
        closer.length -= used;
        if (opener.length === 0) {
          unlink(openerItem);
          openers.pop();
        }
      }
      if (closer.length === 0) {
        const next = current.next;
        unlink(current);
        current = next;
        continue;
      }
    }
    if (closer.canOpen) openers.push(current);
    current = current.next;
  }
  const nodes: InlineNode[] = [];
  for (let item = head.next; item; item = item.next) nodes.push(itemNode(item));
  return nodes;
}

/** Parses one block's inline Markdown. `allowLinks` is false inside link labels (links cannot nest). */
function parseInline(source: string, allowLinks: boolean): InlineNode[] {
  const head: Item = { node: null, delimiter: null, previous: null, next: null };
  let tail = head;
  let buffer = "";
  const lastClose = allowLinks ? source.lastIndexOf(")") : -1;
  const push = (node: InlineNode | null, delimiter: Delimiter | null): void => {
    const item: Item = { node, delimiter, previous: tail, next: null };
    tail.next = item;
    tail = item;
  };
  const flush = (): void => {
    if (buffer.length > 0) push({ kind: "text", value: buffer }, null);
    buffer = "";
  };

  let index = 0;
  while (index < source.length) {
    const character = source.charAt(index);
    if (character === "\\" && ASCII_PUNCTUATION.test(source.charAt(index + 1))) {
      buffer += source.charAt(index + 1);
      index += 2;
      continue;
    }
    if (character === "`") {
      const run = backtickRunLength(source, index);
      const closing = findClosingBackticks(source, index + run, run);
      if (closing === -1) {
        buffer += source.slice(index, index + run);
      } else {
        flush();
        push({ kind: "code", value: normalizeCodeSpan(source.slice(index + run, closing)) }, null);
      }
      index = closing === -1 ? index + run : closing + run;
      continue;
    }
    const isImage = character === "!" && source.charAt(index + 1) === "[";
    if (allowLinks && (character === "[" || isImage)) {
      const link = parseLink(source, isImage ? index + 1 : index, lastClose);
      if (link) {
        flush();
        const url = safeLinkUrl(link.destination);
        let label = parseInline(link.label, false);
        if (!hasVisibleNodes(label)) {
          label = url ? [{ kind: "text", value: link.destination.trim() }] : [];
        }
        if (url) {
          push({ kind: "span", type: "text_link", url, children: label }, null);
        } else {
          // An unsafe or malformed URL keeps only the label, as plain inline content.
          for (const node of label) push(node, null);
        }
        index = link.end;
        continue;
      }
      buffer += isImage ? "![" : "[";
      index += isImage ? 2 : 1;
      continue;
    }
    if (character === "<") {
      const autolink = AUTOLINK.exec(source.slice(index, index + MAX_LINK_DESTINATION + 2));
      if (autolink?.[1]) {
        // Telegram links bare URLs by itself; the angle brackets only need to go.
        buffer += autolink[1];
        index += autolink[0].length;
        continue;
      }
    }
    if (character === "*" || character === "_" || character === "~") {
      let end = index;
      while (source.charAt(end) === character) end++;
      const length = end - index;
      // "~" strikes through only as "~~": a lone "~" means "approximately".
      if (character === "~" && length !== 2) {
        buffer += source.slice(index, end);
      } else {
        flush();
        push(null, makeDelimiter(source, index, length));
      }
      index = end;
      continue;
    }
    buffer += character;
    index++;
  }
  flush();
  return resolveEmphasis(head);
}

function hasVisibleNodes(nodes: InlineNode[]): boolean {
  return nodes.some((node) =>
    node.kind === "span" ? hasVisibleNodes(node.children) : hasVisibleText(node.value),
  );
}

function renderInline(builder: TextBuilder, nodes: InlineNode[]): void {
  for (const node of nodes) {
    if (node.kind === "text") {
      builder.append(node.value);
    } else if (node.kind === "code") {
      const start = builder.length;
      builder.append(node.value);
      builder.mark("code", start);
    } else {
      const start = builder.length;
      renderInline(builder, node.children);
      builder.mark(node.type, start, node.url === undefined ? {} : { url: node.url });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Block Markdown

const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})\s*([^`]*)$/;
const HEADING = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const THEMATIC_BREAK = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}>/;
const QUOTE_MARKERS = /^ {0,3}(?:>[ \t]?)+/;
const BULLET_ITEM = /^(\s*)[-*+][ \t]+(\S.*)$/;
const ORDERED_ITEM = /^(\s*)(\d{1,9})[.)][ \t]+(\S.*)$/;
const LANGUAGE = /^[\w#+.-]{1,32}$/;
const THEMATIC_BREAK_TEXT = "———";

function isBlockStart(line: string, allowQuotes: boolean): boolean {
  return (
    FENCE_OPEN.test(line) ||
    HEADING.test(line) ||
    THEMATIC_BREAK.test(line) ||
    (allowQuotes && QUOTE.test(line)) ||
    BULLET_ITEM.test(line) ||
    ORDERED_ITEM.test(line)
  );
}

/**
 * Renders block structure line by line. Line breaks inside paragraphs are kept (models use them for
 * layout, and Telegram shows them), and a blank line between blocks stays a blank line.
 */
function renderBlocks(builder: TextBuilder, lines: string[], allowQuotes: boolean): void {
  let hasOutput = false;
  let blankBefore = false;
  const beginBlock = (): void => {
    if (hasOutput) builder.append(blankBefore ? "\n\n" : "\n");
    hasOutput = true;
    blankBefore = false;
  };

  let index = 0;
  while (index < lines.length) {
    const line = lines[index] ?? "";
    if (!hasVisibleText(line)) {
      blankBefore = true;
      index++;
      continue;
    }

    const fence = FENCE_OPEN.exec(line);
    if (fence) {
      const indent = fence[1] ?? "";
      const marker = fence[2] ?? "```";
      const closeIndex = lines.findIndex((candidate, candidateIndex) => {
        if (candidateIndex <= index) return false;
        const trimmed = candidate.trim();
        return trimmed.length >= marker.length && trimmed === marker.charAt(0).repeat(trimmed.length);
      });
      if (closeIndex === -1) {
        // Unterminated fence (often a truncated answer): show the rest verbatim rather than mangle the
        // code with inline formatting.
        beginBlock();
        builder.append(lines.slice(index).join("\n").trimEnd());
        return;
      }
      const content = lines
        .slice(index + 1, closeIndex)
        .map((codeLine) => (codeLine.startsWith(indent) ? codeLine.slice(indent.length) : codeLine))
        .join("\n");
      if (hasVisibleText(content)) {
        beginBlock();
        const start = builder.length;
        builder.append(content);
        const language = (fence[3] ?? "").trim().split(/\s+/)[0] ?? "";
        builder.mark("pre", start, LANGUAGE.test(language) ? { language } : {});
      }
      index = closeIndex + 1;
      continue;
    }

    const heading = HEADING.exec(line);
    if (heading) {
      const content = (heading[1] ?? "").trim();
      if (hasVisibleText(content)) {
        beginBlock();
        const start = builder.length;
        renderInline(builder, parseInline(content, true));
        builder.mark("bold", start);
      }
      index++;
      continue;
    }

    if (THEMATIC_BREAK.test(line)) {
      beginBlock();
      builder.append(THEMATIC_BREAK_TEXT);
      index++;
      continue;
    }

    if (allowQuotes && QUOTE.test(line)) {
      const quoted: string[] = [];
      while (index < lines.length && QUOTE.test(lines[index] ?? "")) {
        quoted.push((lines[index] ?? "").replace(QUOTE_MARKERS, ""));
        index++;
      }
      if (quoted.some(hasVisibleText)) {
        beginBlock();
        const start = builder.length;
        // Telegram forbids nested blockquotes, so "> > x" is flattened into the outer quote.
        renderBlocks(builder, quoted, false);
        builder.mark("blockquote", start);
      }
      continue;
    }

    const bullet = BULLET_ITEM.exec(line);
    const ordered = bullet ? null : ORDERED_ITEM.exec(line);
    if (bullet || ordered) {
      beginBlock();
      const indent = (bullet ?? ordered)?.[1] ?? "";
      const marker = bullet ? "• " : `${ordered?.[2] ?? "1"}. `;
      builder.append(indent + marker);
      renderInline(builder, parseInline((bullet ? bullet[2] : ordered?.[3]) ?? "", true));
      index++;
      continue;
    }

    const paragraph: string[] = [];
    while (index < lines.length) {
      const paragraphLine = lines[index] ?? "";
      if (!hasVisibleText(paragraphLine)) break;
      if (paragraph.length > 0 && isBlockStart(paragraphLine, allowQuotes)) break;
      paragraph.push(paragraphLine.trimEnd());
      index++;
    }
    beginBlock();
    renderInline(builder, parseInline(paragraph.join("\n"), true));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Entity hygiene

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
    .filter((entity) => hasVisibleText(text.slice(entity.offset, entityEnd(entity))))
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
function sliceTelegramText(input: TelegramText, from: number, to: number): TelegramText {
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

// ---------------------------------------------------------------------------------------------------------
// Public API

/**
 * Parses a safe subset of Markdown into plain text + Telegram entities:
 * bold `**x**` / `__x__`, italic `*x*` / `_x_`, `~~strike~~`, `` `inline code` ``, fenced code with
 * language, `[label](url)` (only http/https/tg URLs become `text_link`; any other URL keeps the label
 * only), `# heading` → bold line, `- `/`* `/`+ ` items → "• ", `1. ` items kept, `> quote` → blockquote,
 * `---` → a "———" separator. HTML is not interpreted: `<script>` stays literal text.
 *
 * Never throws: unbalanced or odd markup degrades to literal text. Offsets/lengths are UTF-16 code units.
 * The result is trimmed and may be longer than 4096: pass it through {@link splitTelegramText}.
 */
export function markdownToTelegram(markdown: string): TelegramText {
  const source = typeof markdown === "string" ? markdown : String(markdown ?? "");
  // Lone surrogates cannot be encoded as UTF-8, so Telegram would reject them; U+FFFD keeps lengths.
  const normalized = source.toWellFormed().replace(/\r\n?/g, "\n");
  try {
    const builder = new TextBuilder();
    renderBlocks(builder, normalized.split("\n"), true);
    const text = builder.text();
    return sliceTelegramText({ text, entities: builder.entities }, 0, text.length);
  } catch {
    // Only reachable through engine limits (e.g. a stack overflow on absurd nesting): fall back to the
    // source as plain text rather than lose the answer.
    return { text: normalized.trim(), entities: [] };
  }
}

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

/**
 * Prepends a bold header line (e.g. "🤖 ChatGPT · Optimist · round 1/5"), a blank line, then the body,
 * shifting the body's entities by the header's UTF-16 length + 2. Line breaks in the header become spaces.
 */
export function withHeader(header: string, body: TelegramText): TelegramText {
  const title = header.toWellFormed().replace(/\s+/g, " ").trim();
  const bodyEntities = body.entities.map((entity) => ({ ...entity }));
  if (title.length === 0) return { text: body.text, entities: bodyEntities };
  const headerEntity: TelegramEntity = { type: "bold", offset: 0, length: title.length };
  if (body.text.length === 0) return { text: title, entities: [headerEntity] };
  const shift = title.length + 2;
  return {
    text: `${title}\n\n${body.text}`,
    entities: [headerEntity, ...bodyEntities.map((entity) => ({ ...entity, offset: entity.offset + shift }))],
  };
}

/** Plain-text fallback: the same text without entities (for when Telegram still rejects the entities). */
export function plain(input: TelegramText): TelegramText {
  return { text: input.text, entities: [] };
}

/**
 * Wraps the result for GramIO helpers that take a `FormattableString` (e.g. `context.send(...)`).
 * `bot.api.sendMessage({ chat_id, text, entities })` works with a plain {@link TelegramText} too —
 * just never add `parse_mode` next to entities.
 */
export function toFormattable(input: TelegramText): FormattableString {
  return new FormattableString(
    input.text,
    input.entities.map((entity) => ({ ...entity })),
  );
}
