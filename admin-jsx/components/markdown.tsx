/** @jsxImportSource @kitajs/html */
/**
 * A tiny, safe Markdown subset for model answers: paragraphs and line breaks, headings, lists,
 * quotes, fenced code, `code`, **bold**, *italic*, ~~strike~~ and [links](https://…).
 *
 * Safety by construction: the text is never treated as HTML. Every piece of text goes through
 * `escapeHtml` (or a `safe` element) and only the elements created here reach the output; link
 * targets must be http(s) URLs. Anything else is shown literally.
 */
import { escapeHtml } from "@kitajs/html";
import { attr } from "./ui";

type Block =
  | { kind: "paragraph"; lines: string[] }
  | { kind: "heading"; level: number; text: string }
  | { kind: "list"; ordered: boolean; start: number; items: string[] }
  | { kind: "quote"; lines: string[] }
  | { kind: "code"; text: string }
  | { kind: "rule" };

const FENCE = /^\s{0,3}(```|~~~)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(?:\s*\1){2,}\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;

/** Splits text into blocks. Linear in the number of lines. */
export function parseBlocks(text: string): Block[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index]!;
    if (line.trim() === "") {
      index++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body: string[] = [];
      index++;
      while (index < lines.length && !lines[index]!.trimStart().startsWith(fence[1]!))
        body.push(lines[index++]!);
      index++; // the closing fence (or the end)
      blocks.push({ kind: "code", text: body.join("\n") });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ kind: "heading", level: heading[1]!.length, text: heading[2]! });
      index++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ kind: "rule" });
      index++;
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted: string[] = [];
      while (index < lines.length && QUOTE.test(lines[index]!)) quoted.push(QUOTE.exec(lines[index++]!)![1]!);
      blocks.push({ kind: "quote", lines: quoted });
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = NUMBERED.exec(line);
    if (bullet || numbered) {
      const ordered = !bullet;
      const pattern = ordered ? NUMBERED : BULLET;
      const items: string[] = [];
      while (index < lines.length) {
        const current = lines[index]!;
        const match = pattern.exec(current);
        if (match) {
          items.push(ordered ? match[2]! : match[1]!);
        } else if (current.trim() !== "" && /^\s+/.test(current) && items.length > 0) {
          // An indented continuation line belongs to the previous item.
          items[items.length - 1] += ` ${current.trim()}`;
        } else {
          break;
        }
        index++;
      }
      blocks.push({ kind: "list", ordered, start: numbered ? Number(numbered[1]) : 1, items });
      continue;
    }
    const paragraph: string[] = [];
    while (index < lines.length) {
      const current = lines[index]!;
      if (
        current.trim() === "" ||
        FENCE.test(current) ||
        HEADING.test(current) ||
        QUOTE.test(current) ||
        BULLET.test(current) ||
        (NUMBERED.test(current) && paragraph.length === 0) ||
        RULE.test(current)
      ) {
        break;
      }
      paragraph.push(current);
      index++;
    }
    if (paragraph.length === 0) {
      // Defensive: a line no rule consumed is shown as text rather than looping forever.
      paragraph.push(line);
      index++;
    }
    blocks.push({ kind: "paragraph", lines: paragraph });
  }
  return blocks;
}

// One line at a time (no span crosses a line), so a pathological line costs at most O(length²).
const INLINE =
  /`([^`\n]+)`|\*\*(?=\S)([^\n]+?)(?<=\S)\*\*|__(?=\S)([^\n]+?)(?<=\S)__|~~(?=\S)([^\n]+?)(?<=\S)~~|\*(?=[^\s*])([^\n]+?)(?<=[^\s*])\*|(?<![\p{L}\p{N}_])_(?=[^\s_])([^\n]+?)(?<=[^\s_])_(?![\p{L}\p{N}_])|\[([^\]\n]{1,500})\]\((https?:\/\/[^\s()<>"]{1,2000})\)/gu;
const MAX_DEPTH = 4;

/** Renders one line of inline Markdown; text is escaped, only known elements are produced. */
export function renderInline(text: string, depth = 0): JSX.Element {
  if (depth >= MAX_DEPTH) return escapeHtml(text);
  let output = "";
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    const start = match.index ?? 0;
    output += escapeHtml(text.slice(last, start));
    last = start + match[0].length;
    const [, code, bold, boldUnderscore, strike, italic, italicUnderscore, label, url] = match;
    if (code !== undefined) output += <code safe>{code}</code>;
    else if (bold !== undefined) output += <strong>{renderInline(bold, depth + 1)}</strong>;
    else if (boldUnderscore !== undefined)
      output += <strong>{renderInline(boldUnderscore, depth + 1)}</strong>;
    else if (strike !== undefined) output += <del>{renderInline(strike, depth + 1)}</del>;
    else if (italic !== undefined) output += <em>{renderInline(italic, depth + 1)}</em>;
    else if (italicUnderscore !== undefined) output += <em>{renderInline(italicUnderscore, depth + 1)}</em>;
    else if (label !== undefined && url !== undefined) {
      output += (
        <a href={attr(url)} rel="nofollow noopener noreferrer" target="_blank" safe>
          {label}
        </a>
      );
    }
  }
  output += escapeHtml(text.slice(last));
  return output;
}

function renderLines(lines: string[]): JSX.Element {
  return lines
    .map((line, index) => (index === 0 ? renderInline(line) : `<br/>${renderInline(line)}`))
    .join("");
}

function renderBlock(block: Block): JSX.Element {
  switch (block.kind) {
    case "paragraph":
      return <p>{renderLines(block.lines)}</p>;
    case "heading":
      // Model headings stay modest inside a transcript: h4–h6 at most.
      return block.level <= 2 ? (
        <h4>{renderInline(block.text)}</h4>
      ) : block.level === 3 ? (
        <h5>{renderInline(block.text)}</h5>
      ) : (
        <h6>{renderInline(block.text)}</h6>
      );
    case "list":
      return block.ordered ? (
        <ol start={block.start === 1 ? undefined : block.start}>
          {block.items.map((item) => (
            <li>{renderInline(item)}</li>
          ))}
        </ol>
      ) : (
        <ul>
          {block.items.map((item) => (
            <li>{renderInline(item)}</li>
          ))}
        </ul>
      );
    case "quote":
      return <blockquote>{renderLines(block.lines)}</blockquote>;
    case "code":
      return (
        <pre>
          <code safe>{block.text}</code>
        </pre>
      );
    case "rule":
      return <hr />;
  }
}

/** Model or user text as safe HTML. */
export function Markdown({ text, class: className }: { text: string; class?: string }): JSX.Element {
  return <div class={className ?? "md"}>{parseBlocks(text).map((block) => renderBlock(block))}</div>;
}
