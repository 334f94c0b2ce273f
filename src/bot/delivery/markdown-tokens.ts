/**
 * The one Markdown parser for model (and user) text: `marked`'s GFM lexer, shared by the Telegram renderer
 * (markdown-to-telegram.ts) and the admin renderer (admin-jsx/components/markdown.tsx), so both read the
 * same text the same way. What is ours is only policy: which links may be followed and a bound on work.
 */
import { getDefaults, Lexer, type Token, Tokenizer, type Tokens, type TokensList } from "marked";

/**
 * Past this nesting (emphasis in emphasis, quote in quote, list in list) the rest stays literal text.
 * marked re-scans the remaining text at every level, so hostile nesting costs length × depth: 4 000 nested
 * `**` take ~16 s and block the event loop. Real answers nest 3–4 levels.
 */
const MAX_NESTING = 12;
/** Longer text is shown as written: even flat, a hostile 100 000 characters keep marked busy for seconds. */
const MAX_MARKDOWN_LENGTH = 50_000;

const literalText = (src: string): Tokens.Text => ({ type: "text", raw: src, text: src });
const literalParagraph = (src: string): Tokens.Paragraph => ({
  type: "paragraph",
  raw: src,
  text: src,
  tokens: [literalText(src)],
});

/** GFM strikes through with one `~` too, but models write "~5 min" for "about five minutes". */
class ModelTokenizer extends Tokenizer {
  override del(src: string, maskedSrc: string, prevChar?: string): Tokens.Del | undefined {
    return src.startsWith("~~") ? super.del(src, maskedSrc, prevChar) : undefined;
  }
}

class BoundedLexer extends Lexer {
  private depth = 0;

  override blockTokens(src: string, tokens?: Token[], lastParagraphClipped?: boolean): Token[];
  override blockTokens(src: string, tokens?: TokensList, lastParagraphClipped?: boolean): TokensList;
  override blockTokens(src: string, tokens: Token[] = [], lastParagraphClipped?: boolean): Token[] {
    return this.nested(tokens, literalParagraph(src), () =>
      super.blockTokens(src, tokens, lastParagraphClipped),
    );
  }

  override inlineTokens(src: string, tokens: Token[] = []): Token[] {
    return this.nested(tokens, literalText(src), () => super.inlineTokens(src, tokens));
  }

  private nested(tokens: Token[], literal: Token, lex: () => Token[]): Token[] {
    if (this.depth >= MAX_NESTING) {
      tokens.push(literal);
      return tokens;
    }
    this.depth++;
    try {
      return lex();
    } finally {
      this.depth--;
    }
  }
}

/** GFM block tokens with their inline tokens. May throw only on engine limits; callers fall back to text. */
export function markdownTokens(markdown: string): Token[] {
  if (markdown.length > MAX_MARKDOWN_LENGTH) return [literalParagraph(markdown)];
  return new BoundedLexer({ ...getDefaults(), gfm: true, tokenizer: new ModelTokenizer() }).lex(markdown);
}

/** Where a link may lead, and the host to show next to a label that does not show it. */
export interface LinkTarget {
  url: string;
  host?: string;
}

const withoutScheme = (value: string): string =>
  value
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\//, "")
    .replace(/\/$/, "");

/**
 * Only http(s) links to a dotted host survive (Telegram refuses `localhost`-like hosts in a text_link).
 * `tg:`, `javascript:`, `mailto:`, `data:` and relative links give undefined: the caller keeps the label as
 * plain text. A label that is not the URL (or its host) gets the real host shown after it, so
 * `[Official support](https://evil.example)` cannot pass for something else.
 */
export function linkTarget(token: Tokens.Link | Tokens.Image): LinkTarget | undefined {
  let url: URL;
  try {
    url = new URL(token.href.trim());
  } catch {
    return undefined;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname.includes("."))
    return undefined;
  const label = withoutScheme(token.text);
  const showsUrl = label === "" || label === url.hostname || label === withoutScheme(token.href);
  return showsUrl ? { url: url.href } : { url: url.href, host: url.hostname };
}

/** An opened fence never closed (often a cut-off answer): shown as written rather than as code. */
export function isUnclosedFence(token: Tokens.Code): boolean {
  if (token.codeBlockStyle === "indented") return false;
  const lines = token.raw.trimEnd().split("\n");
  const fence = /^ *([`~]{3,})/.exec(lines[0] ?? "")?.[1] ?? "";
  const closing = lines.length > 1 ? (lines[lines.length - 1] ?? "").trim() : "";
  return !closing.startsWith(fence) || /[^`~]/.test(closing);
}
