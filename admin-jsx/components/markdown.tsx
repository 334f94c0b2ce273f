/** @jsxImportSource @kitajs/html */
/**
 * Model or user Markdown as HTML, from the same marked tokens and link rules as the Telegram rendering
 * (src/bot/delivery/markdown-tokens.ts). Safe by construction: the text is never treated as HTML — every
 * piece of it is escaped, HTML in the text is shown as written, only the elements made here reach the page,
 * and links go only to http(s) URLs, with the real host shown after a label that is not the URL.
 */
import { escapeHtml } from "@kitajs/html";
import type { MarkedToken, Token, Tokens } from "marked";
import { isUnclosedFence, linkTarget, markdownTokens } from "../../src/bot/delivery/markdown-tokens";

const VISIBLE = /\S/;

function text(value: string): JSX.Element {
  return escapeHtml(value).replace(/\n/g, "<br/>");
}

function inline(tokens: Token[] = []): JSX.Element {
  return (tokens as MarkedToken[]).map(inlineHtml).join("");
}

function inlineHtml(token: MarkedToken): JSX.Element {
  switch (token.type) {
    case "strong":
      return <strong>{inline(token.tokens)}</strong>;
    case "em":
      return <em>{inline(token.tokens)}</em>;
    case "del":
      return <del>{inline(token.tokens)}</del>;
    case "codespan":
      return <code safe>{token.text}</code>;
    case "br":
      return <br />;
    case "link":
    case "image":
      return linkHtml(token);
    case "text":
      return token.tokens ? inline(token.tokens) : text(token.text);
    default:
      // HTML, escapes, task checkboxes: shown as written, never interpreted.
      return text("text" in token ? token.text : token.raw);
  }
}

function linkHtml(token: Tokens.Link | Tokens.Image): JSX.Element {
  const target = linkTarget(token);
  // A refused link keeps only its label, as in Telegram.
  if (!target) return inline(token.tokens);
  const label = VISIBLE.test(token.text) ? inline(token.tokens) : text(token.href);
  const anchor = (
    <a href={escapeHtml(target.url)} rel="nofollow noopener noreferrer" target="_blank">
      {label}
    </a>
  );
  return target.host ? [anchor, text(` (${target.host})`)].join("") : anchor;
}

function heading(token: Tokens.Heading): JSX.Element {
  const content = inline(token.tokens);
  // Model headings stay modest inside a transcript: h4–h6 at most.
  if (token.depth <= 2) return <h4>{content}</h4>;
  return token.depth === 3 ? <h5>{content}</h5> : <h6>{content}</h6>;
}

function list(token: Tokens.List): JSX.Element {
  const items = token.items.map((item) => <li>{blocks(item.tokens)}</li>);
  if (!token.ordered) return <ul>{items}</ul>;
  const start = typeof token.start === "number" && token.start !== 1 ? token.start : undefined;
  return <ol start={start}>{items}</ol>;
}

function blockHtml(token: MarkedToken): JSX.Element {
  switch (token.type) {
    case "space":
      return "";
    case "paragraph":
      return <p>{inline(token.tokens)}</p>;
    case "heading":
      return heading(token);
    case "blockquote":
      return <blockquote>{blocks(token.tokens)}</blockquote>;
    case "code":
      return isUnclosedFence(token) ? (
        <p>{text(token.raw.trimEnd())}</p>
      ) : (
        <pre>
          <code safe>{token.text}</code>
        </pre>
      );
    case "list":
      return list(token);
    case "hr":
      return <hr />;
    case "text":
      // A tight list item's text.
      return inlineHtml(token);
    default:
      // Tables, HTML blocks, link definitions: shown as written.
      return <p>{inlineHtml(token)}</p>;
  }
}

function blocks(tokens: Token[]): JSX.Element {
  return (tokens as MarkedToken[]).map(blockHtml).join("");
}

/** Model or user text as safe HTML. */
export function Markdown({
  text: markdown,
  class: className,
}: {
  text: string;
  class?: string;
}): JSX.Element {
  let html: JSX.Element;
  try {
    html = blocks(markdownTokens(String(markdown ?? "")));
  } catch {
    // Only engine limits (a stack overflow) get here: the text as written rather than an error page.
    html = <p>{text(String(markdown ?? ""))}</p>;
  }
  return <div class={className ?? "md"}>{html}</div>;
}
