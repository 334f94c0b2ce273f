/**
 * Model Markdown → Telegram text + entities, walking the shared marked tokens with @gramio/format's builders.
 * Not `markdownToFormattable` from `@gramio/format/markdown`: it turns every link (tg:, javascript:) into a
 * text_link, strikes through a single `~` and passes its output unchecked to Telegram.
 */
import { blockquote, bold, code, FormattableString, italic, join, link, strikethrough } from "@gramio/format";
import type { MarkedToken, Token, Tokens } from "marked";
import { isUnclosedFence, linkTarget, markdownTokens } from "./markdown-tokens";
import { sliceTelegramText } from "./normalize-entities";
import type { TelegramEntity, TelegramText } from "./telegram-text";

type Piece = FormattableString | string;

/** Telegram shows the language as a label: words after it on the fence line are not part of it. */
const LANGUAGE = /^[\w#+.-]{1,32}$/;
const VISIBLE = /\S/;

function inline(tokens: Token[] = []): FormattableString {
  return join(tokens as MarkedToken[], inlinePiece, "");
}

function inlinePiece(token: MarkedToken): Piece {
  switch (token.type) {
    case "strong":
      return bold(inline(token.tokens));
    case "em":
      return italic(inline(token.tokens));
    case "del":
      return strikethrough(inline(token.tokens));
    case "codespan":
      return code(token.text);
    case "br":
      return "\n";
    case "link":
    case "image":
      return linkPiece(token);
    case "text":
      return token.tokens ? inline(token.tokens) : token.text;
    default:
      // HTML, escapes, task checkboxes: shown as written, never interpreted.
      return "text" in token ? token.text : token.raw;
  }
}

function linkPiece(token: Tokens.Link | Tokens.Image): Piece {
  const target = linkTarget(token);
  // A refused link keeps only its label: its URL, even as text, is what a disguised link wants shown.
  if (!target) return inline(token.tokens);
  const label = VISIBLE.test(token.text) ? inline(token.tokens) : token.href;
  const anchor = link(label, target.url);
  return target.host ? join([anchor, ` (${target.host})`], "") : anchor;
}

function pre(token: Tokens.Code): FormattableString {
  const language = token.lang?.trim().split(/\s/)[0] ?? "";
  return new FormattableString(token.text, [
    { type: "pre", offset: 0, length: token.text.length, ...(LANGUAGE.test(language) ? { language } : {}) },
  ]);
}

function list(token: Tokens.List, depth: number): FormattableString {
  const first = Number(token.start);
  const indent = "  ".repeat(depth);
  return join(
    token.items,
    (item, index) =>
      join([`${indent}${token.ordered ? `${first + index}.` : "•"} `, blocks(item.tokens, depth + 1)], ""),
    token.loose ? "\n\n" : "\n",
  );
}

function blockPiece(token: MarkedToken, depth: number): Piece {
  switch (token.type) {
    case "paragraph":
      return inline(token.tokens);
    case "heading":
      return bold(inline(token.tokens));
    case "blockquote":
      // Telegram forbids nested blockquotes: normalizeEntities drops the inner one, keeping its text.
      return blockquote(blocks(token.tokens, depth));
    case "code":
      return isUnclosedFence(token) ? token.raw.trimEnd() : pre(token);
    case "list":
      return list(token, depth);
    case "hr":
      return "———";
    default:
      // Tables, HTML blocks, link definitions: shown as written.
      return inlinePiece(token);
  }
}

/** Blocks one line apart, or a blank line apart where the source had one. */
function blocks(tokens: Token[], depth: number): FormattableString {
  const pieces: Piece[] = [];
  let gap = "\n";
  for (const token of tokens as MarkedToken[]) {
    if (token.type === "space") {
      gap = "\n\n";
      continue;
    }
    const piece = blockPiece(token, depth);
    if (!VISIBLE.test(piece.toString())) continue;
    if (pieces.length > 0) pieces.push(gap);
    pieces.push(piece);
    gap = "\n";
  }
  return join(pieces, "");
}

/**
 * Renders GFM into plain text + Telegram entities: bold, italic, `~~strike~~` (never a single `~`), code,
 * fenced code as `pre` with its language, headings as bold lines, "• " and "1. " list items, blockquotes,
 * `---` as "———". Only http(s) links become `text_link`, with the real host after a label that is not the
 * URL; any other link keeps its label as plain text. HTML stays literal text.
 *
 * We send `text` + `entities` and never `parse_mode`: with entities a stray `_` costs formatting, not the
 * message. Never throws; the result is trimmed, its entities valid, and may exceed 4096: split it.
 */
export function markdownToTelegram(markdown: string): TelegramText {
  // Lone surrogates cannot be encoded as UTF-8, so Telegram would reject them; U+FFFD keeps lengths.
  const source = String(markdown ?? "").toWellFormed();
  try {
    const { text, entities } = blocks(markdownTokens(source), 0);
    // The builders type entities as any MessageEntity; ours only produce TelegramEntity types.
    return sliceTelegramText({ text, entities: entities as TelegramEntity[] }, 0, text.length);
  } catch {
    // Only engine limits (a stack overflow) get here: the answer as plain text rather than lost.
    return { text: source.trim(), entities: [] };
  }
}
