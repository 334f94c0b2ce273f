/**
 * Telegram text: plain text + entities (never `parse_mode`), from model Markdown, split into messages.
 * The entry point for delivery; the pieces live beside it:
 * markdown-to-telegram.ts (rendering), normalize-entities.ts (validity), split-telegram-text.ts (4096).
 */
import { FormattableString } from "@gramio/format";
import { markdownToTelegram } from "./markdown-to-telegram";
import { splitTelegramText } from "./split-telegram-text";

export { markdownToTelegram } from "./markdown-to-telegram";
export { normalizeEntities } from "./normalize-entities";
export { splitTelegramText, TELEGRAM_TEXT_LIMIT } from "./split-telegram-text";

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
  /** For `text_link` only: an http or https URL. */
  url?: string;
  /** For `pre` only: the fenced block's language. */
  language?: string;
}

/** Plain text plus entities: what `sendMessage({ chat_id, text, entities })` takes and the outbox stores. */
export interface TelegramText {
  text: string;
  entities: TelegramEntity[];
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

/**
 * A model's turn as Telegram messages: the bold header line, then its Markdown as entities, split at
 * 4096. The outbox posts these and the live draft shows the same, so a draft never differs in form.
 */
export function renderTurn(header: string, markdown: string): TelegramText[] {
  return splitTelegramText(withHeader(header, markdownToTelegram(markdown)));
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
