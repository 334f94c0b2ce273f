import { describe, expect, test } from "bun:test";
import { FormattableString } from "@gramio/format";
import {
  markdownToTelegram,
  normalizeEntities,
  plain,
  splitTelegramText,
  TELEGRAM_TEXT_LIMIT,
  type TelegramEntity,
  type TelegramText,
  toFormattable,
  withHeader,
} from "../../src/bot/delivery/telegram-text";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function covered(input: TelegramText, entity: TelegramEntity): string {
  return input.text.slice(entity.offset, entity.offset + entity.length);
}

/** Entities as [type, covered text] pairs: easy to read, and proves offsets point at the right characters. */
function spans(input: TelegramText): [string, string][] {
  return input.entities.map((entity) => [entity.type, covered(input, entity)]);
}

function splitsPair(text: string, index: number): boolean {
  const before = text.charCodeAt(index - 1);
  const after = text.charCodeAt(index);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}

/** Everything Telegram checks (and a few things it would silently "fix"), in one place. */
function expectValidTelegramText(input: TelegramText, limit = Number.POSITIVE_INFINITY): void {
  expect(input.text.length).toBeLessThanOrEqual(limit);
  expect(LONE_SURROGATE.test(input.text)).toBe(false);
  for (const entity of input.entities) {
    expect(Number.isInteger(entity.offset)).toBe(true);
    expect(Number.isInteger(entity.length)).toBe(true);
    expect(entity.offset).toBeGreaterThanOrEqual(0);
    expect(entity.length).toBeGreaterThan(0);
    expect(entity.offset + entity.length).toBeLessThanOrEqual(input.text.length);
    expect(splitsPair(input.text, entity.offset)).toBe(false);
    expect(splitsPair(input.text, entity.offset + entity.length)).toBe(false);
    expect(covered(input, entity)).toMatch(/\S/);
    if (entity.type === "text_link") expect(entity.url).toMatch(/^https?:\/\/[^/]+\.[^/]+/);
  }
  // Well nested: sorted outer-first, every entity ends inside the innermost entity that contains its start.
  const sorted = [...input.entities].sort(
    (left, right) => left.offset - right.offset || right.length - left.length,
  );
  const open: TelegramEntity[] = [];
  for (const entity of sorted) {
    while (open.length > 0) {
      const top = open[open.length - 1] as TelegramEntity;
      if (entity.offset < top.offset + top.length) break;
      open.pop();
    }
    const parent = open[open.length - 1];
    if (parent) {
      expect(entity.offset + entity.length).toBeLessThanOrEqual(parent.offset + parent.length);
      expect(["code", "pre"]).not.toContain(parent.type);
      if (entity.type === "code" || entity.type === "pre") {
        expect(open.every((ancestor) => ancestor.type === "blockquote")).toBe(true);
      }
      expect(open.some((ancestor) => ancestor.type === entity.type)).toBe(false);
    }
    open.push(entity);
  }
}

/** Chunks must be the original text in order, losing only whitespace at the cuts. */
function expectRejoins(original: string, chunks: TelegramText[]): void {
  let position = 0;
  for (const chunk of chunks) {
    while (/\s/.test(original.charAt(position))) position++;
    expect(original.slice(position, position + chunk.text.length)).toBe(chunk.text);
    position += chunk.text.length;
  }
  expect(original.slice(position).trim()).toBe("");
}

/** mulberry32: tiny seeded PRNG so the random test is the same on every run. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

describe("markdownToTelegram: constructs", () => {
  test("bold with ** and __", () => {
    const result = markdownToTelegram("a **bold** and __also__ z");
    expect(result.text).toBe("a bold and also z");
    expect(result.entities).toEqual([
      { type: "bold", offset: 2, length: 4 },
      { type: "bold", offset: 11, length: 4 },
    ]);
  });

  test("italic with * and _", () => {
    const result = markdownToTelegram("*one* and _two_");
    expect(result.text).toBe("one and two");
    expect(result.entities).toEqual([
      { type: "italic", offset: 0, length: 3 },
      { type: "italic", offset: 8, length: 3 },
    ]);
  });

  test("bold and italic nest, and ***x*** gives both on the same characters", () => {
    const nested = markdownToTelegram("**bold *inner* bold**");
    expect(nested.text).toBe("bold inner bold");
    expect(spans(nested)).toEqual([
      ["bold", "bold inner bold"],
      ["italic", "inner"],
    ]);
    const both = markdownToTelegram("***both***");
    expect(both.text).toBe("both");
    expect(spans(both).sort()).toEqual([
      ["bold", "both"],
      ["italic", "both"],
    ]);
  });

  test("strikethrough needs exactly two tildes", () => {
    const result = markdownToTelegram("~~gone~~ in ~5 min");
    expect(result.text).toBe("gone in ~5 min");
    expect(result.entities).toEqual([{ type: "strikethrough", offset: 0, length: 4 }]);
  });

  test("inline code keeps markup inside literal", () => {
    const result = markdownToTelegram("run `a **b** _c_` now and ``x ` y``");
    expect(result.text).toBe("run a **b** _c_ now and x ` y");
    expect(spans(result)).toEqual([
      ["code", "a **b** _c_"],
      ["code", "x ` y"],
    ]);
  });

  test("fenced code with language becomes pre with language", () => {
    const result = markdownToTelegram("Look:\n\n```typescript\nconst a = **1**;\n  return a;\n```\n\nDone.");
    expect(result.text).toBe("Look:\n\nconst a = **1**;\n  return a;\n\nDone.");
    expect(result.entities).toEqual([{ type: "pre", offset: 7, length: 28, language: "typescript" }]);
    expect(covered(result, result.entities[0] as TelegramEntity)).toBe("const a = **1**;\n  return a;");
  });

  test("fenced code without language has no language field", () => {
    const result = markdownToTelegram("```\nplain\n```");
    expect(result).toEqual({ text: "plain", entities: [{ type: "pre", offset: 0, length: 5 }] });
  });

  test("http(s) links become text_link; a label that is not the URL gets the real host after it", () => {
    const result = markdownToTelegram("See [the docs](https://gramio.dev/x?a=1) or https://example.com/a.");
    expect(result.text).toBe("See the docs (gramio.dev) or https://example.com/a.");
    expect(result.entities).toEqual([
      { type: "text_link", offset: 4, length: 8, url: "https://gramio.dev/x?a=1" },
      { type: "text_link", offset: 29, length: 21, url: "https://example.com/a" },
    ]);
  });

  test("formatting inside a link label nests in the link", () => {
    const result = markdownToTelegram("[**bold** link](https://example.com)");
    expect(result.text).toBe("bold link (example.com)");
    expect(spans(result)).toEqual([
      ["text_link", "bold link"],
      ["bold", "bold"],
    ]);
  });

  test("headings become bold lines", () => {
    const result = markdownToTelegram("# Title\n## Sub *part* ##\nbody");
    expect(result.text).toBe("Title\nSub part\nbody");
    expect(spans(result)).toEqual([
      ["bold", "Title"],
      ["bold", "Sub part"],
      ["italic", "part"],
    ]);
  });

  test("lists become bullets and numbers", () => {
    const result = markdownToTelegram("- one\n* two **b**\n+ three\n  - nested\n1. first\n2) second");
    expect(result.text).toBe("• one\n• two b\n• three\n  • nested\n1. first\n2. second");
    expect(spans(result)).toEqual([["bold", "b"]]);
  });

  test("quotes become one blockquote, nested markers flattened", () => {
    const result = markdownToTelegram("Intro\n\n> first *line*\n> > second\n\nAfter");
    expect(result.text).toBe("Intro\n\nfirst line\nsecond\n\nAfter");
    expect(spans(result)).toEqual([
      ["blockquote", "first line\nsecond"],
      ["italic", "line"],
    ]);
  });

  test("paragraph and line breaks are kept; extra blank lines collapse; result is trimmed", () => {
    const result = markdownToTelegram("\n\n  first line  \nsecond line\n\n\n\nnext paragraph\n\n");
    expect(result.text).toBe("first line\nsecond line\n\nnext paragraph");
    expect(result.entities).toEqual([]);
  });

  test("backslash escapes show the character", () => {
    const result = markdownToTelegram("\\*not italic\\* and \\_no\\_");
    expect(result).toEqual({ text: "*not italic* and _no_", entities: [] });
  });

  test("thematic break becomes a separator line", () => {
    expect(markdownToTelegram("a\n\n---\n\nb").text).toBe("a\n\n———\n\nb");
  });

  test("code inside bold: bold is split around it (Telegram forbids code inside bold)", () => {
    const result = markdownToTelegram("**use `npm ci` here**");
    expect(result.text).toBe("use npm ci here");
    expect(spans(result)).toEqual([
      ["bold", "use "],
      ["code", "npm ci"],
      ["bold", " here"],
    ]);
  });

  test("emoji and Cyrillic offsets are UTF-16", () => {
    const result = markdownToTelegram("😀 **жирный 🚀** _курсив_");
    expect(result.text).toBe("😀 жирный 🚀 курсив");
    expect(result.entities).toEqual([
      { type: "bold", offset: 3, length: 9 },
      { type: "italic", offset: 13, length: 6 },
    ]);
    expectValidTelegramText(result);
  });

  test("angle-bracket autolinks lose their brackets", () => {
    expect(markdownToTelegram("<https://example.com/a>").text).toBe("https://example.com/a");
  });
});

describe("markdownToTelegram: hostile input", () => {
  test("unbalanced ** stays literal", () => {
    const result = markdownToTelegram("**never closed and *also*");
    expect(result.text).toBe("**never closed and also");
    expect(spans(result)).toEqual([["italic", "also"]]);
  });

  test("underscores inside words stay literal", () => {
    const result = markdownToTelegram("call snake_case_name or my_var_x, and ещё_одно_слово");
    expect(result).toEqual({ text: "call snake_case_name or my_var_x, and ещё_одно_слово", entities: [] });
    // An underscore after a letter cannot open, one before a letter cannot close.
    expect(markdownToTelegram("my_var_ here").entities).toEqual([]);
    expect(markdownToTelegram("_x y_z").entities).toEqual([]);
    expect(spans(markdownToTelegram("(_x y_)"))).toEqual([["italic", "x y"]]);
  });

  test("overlapping *_x*_ yields properly nested or no entities", () => {
    for (const source of ["*_x*_", "_*x_*", "**a _b** c_", "*a __b* c__", "~~a *b~~ c*"]) {
      const result = markdownToTelegram(source);
      expectValidTelegramText(result);
      expect(result.text.replace(/[*_~]/g, "")).toBe(source.replace(/[*_~]/g, ""));
    }
    expect(spans(markdownToTelegram("*_x*_"))).toEqual([["italic", "_x"]]);
  });

  test("javascript: and other non-http URLs keep only the label", () => {
    const result = markdownToTelegram(
      "[click](javascript:alert(1)) [data](data:text/html,x) [rel](/etc/passwd) [local](http://localhost) [ftp](ftp://a.b)",
    );
    expect(result).toEqual({ text: "click data rel local ftp", entities: [] });
  });

  test("HTML stays literal text", () => {
    const source = '<script>alert("x")</script> <b>not bold</b>';
    expect(markdownToTelegram(source)).toEqual({ text: source, entities: [] });
  });

  test("unterminated link stays literal", () => {
    expect(markdownToTelegram("[a](")).toEqual({ text: "[a](", entities: [] });
    // Only the bare URL inside is a link (GFM autolink), to itself.
    const result = markdownToTelegram("see [label](https://example.com");
    expect(result.text).toBe("see [label](https://example.com");
    expect(spans(result)).toEqual([["text_link", "https://example.com"]]);
  });

  test("unterminated fence keeps the rest verbatim", () => {
    const source = "```python\nprint(a*b*c)\n# not a heading";
    expect(markdownToTelegram(source)).toEqual({ text: source, entities: [] });
  });

  test("5000 backticks", () => {
    const source = "`".repeat(5000);
    const result = markdownToTelegram(source);
    expect(result).toEqual({ text: source, entities: [] });
    const inline = markdownToTelegram(`x ${source} y`);
    expect(inline).toEqual({ text: `x ${source} y`, entities: [] });
  });

  test("only asterisks", () => {
    for (const count of [1, 2, 3, 4, 7, 5000]) {
      const result = markdownToTelegram("*".repeat(count));
      expectValidTelegramText(result);
      expect(result.entities).toEqual([]);
    }
    expect(markdownToTelegram("**").text).toBe("**");
  });

  test("lone surrogates are replaced, not passed to Telegram", () => {
    const result = markdownToTelegram("bad \uD83D pair **b\uDE00**");
    expect(LONE_SURROGATE.test(result.text)).toBe(false);
    expectValidTelegramText(result);
  });

  test("long runs of stray markup stay fast", () => {
    const started = performance.now();
    for (const source of [
      "[".repeat(20_000),
      "*a ".repeat(7000),
      "_a *b ".repeat(4000),
      "[a](".repeat(5000),
    ]) {
      expectValidTelegramText(markdownToTelegram(source));
    }
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test("absurdly deep nesting never throws", () => {
    const depth = 20_000;
    const opening = Array.from({ length: depth }, (_, index) => `${index % 2 ? "__" : "**"}w`).join(" ");
    const closing = Array.from({ length: depth }, (_, index) => `w${(depth - 1 - index) % 2 ? "__" : "**"}`);
    const result = markdownToTelegram(`${opening} ${closing.join(" ")}`);
    expectValidTelegramText(result);
  });
});

describe("markdownToTelegram: one tilde, nesting, blocks", () => {
  test("a single ~ is never strikethrough, nor are three; only ~~x~~", () => {
    expect(markdownToTelegram("~a~ and ~one two~")).toEqual({ text: "~a~ and ~one two~", entities: [] });
    expect(markdownToTelegram("a ~~~b~~~ c")).toEqual({ text: "a ~~~b~~~ c", entities: [] });
    const result = markdownToTelegram("~x~ ~~y~~ ~z~");
    expect(result.text).toBe("~x~ y ~z~");
    expect(spans(result)).toEqual([["strikethrough", "y"]]);
  });

  test("three levels nest: bold > italic > strike, and a link around bold and italic", () => {
    const result = markdownToTelegram("**a *b ~~c~~ b* a** [x **y** *z*](https://example.com/p)");
    expect(result.text).toBe("a b c b a x y z (example.com)");
    expect(spans(result)).toEqual([
      ["bold", "a b c b a"],
      ["italic", "b c b"],
      ["strikethrough", "c"],
      ["text_link", "x y z"],
      ["bold", "y"],
      ["italic", "z"],
    ]);
    expectValidTelegramText(result);
  });

  test("a blockquote holds inline entities, code and a nested list", () => {
    const result = markdownToTelegram("> **b** `c`\n> - x\n>   - y");
    expect(result.text).toBe("b c\n• x\n  • y");
    expect(spans(result)).toEqual([
      ["blockquote", "b c\n• x\n  • y"],
      ["bold", "b"],
      ["code", "c"],
    ]);
  });

  test("ordered lists keep their start number; a loose list keeps its blank lines", () => {
    expect(markdownToTelegram("3. a\n4. b").text).toBe("3. a\n4. b");
    expect(markdownToTelegram("- a\n\n- b").text).toBe("• a\n\n• b");
    expect(markdownToTelegram("1. **a**\n   - b").text).toBe("1. a\n  • b");
  });

  test("pre keeps only a plausible language; an empty fence and an indented block", () => {
    expect(markdownToTelegram("```js extra words\nx\n```").entities).toEqual([
      { type: "pre", offset: 0, length: 1, language: "js" },
    ]);
    expect(markdownToTelegram("```{weird}\nx\n```").entities).toEqual([
      { type: "pre", offset: 0, length: 1 },
    ]);
    expect(markdownToTelegram("~~~c++\nint a;\n~~~").entities).toEqual([
      { type: "pre", offset: 0, length: 6, language: "c++" },
    ]);
    expect(markdownToTelegram("```\n```\nafter")).toEqual({ text: "after", entities: [] });
    expect(markdownToTelegram("    indented code\n\npara")).toEqual({
      text: "indented code\n\npara",
      entities: [{ type: "pre", offset: 0, length: 13 }],
    });
    expect(markdownToTelegram("    a = 1\n    b = 2").entities).toEqual([
      { type: "pre", offset: 0, length: 11 },
    ]);
    // Neither another marker nor a fence with words after it closes a fence.
    for (const unclosed of ["```\ncode\n~~~", "```\ncode\n``` words", "````\ncode\n```"]) {
      expect(markdownToTelegram(unclosed)).toEqual({ text: unclosed, entities: [] });
    }
    expect(markdownToTelegram("```\ncode\n`````").entities).toEqual([{ type: "pre", offset: 0, length: 4 }]);
  });

  test("a blank line in the source stays one; blocks without one are a line apart", () => {
    expect(markdownToTelegram("para\n\n# Head\nbody\n- item\n\n\n> quote\n***\nend").text).toBe(
      "para\n\nHead\nbody\n• item\n\nquote\n———\nend",
    );
  });

  test("headings of every level are bold; empty ones vanish", () => {
    const result = markdownToTelegram("###### six\n#\ntext");
    expect(result.text).toBe("six\ntext");
    expect(spans(result)).toEqual([["bold", "six"]]);
  });

  test("hard line breaks and tables", () => {
    expect(markdownToTelegram("line  \nnext").text).toBe("line\nnext");
    const table = "| a | b |\n|---|---|\n| 1 | 2 |";
    expect(markdownToTelegram(table)).toEqual({ text: table, entities: [] });
  });

  test("UTF-16 offsets with CJK, emoji and a ZWJ sequence", () => {
    const result = markdownToTelegram("**中文** 😀 _👨‍👩‍👧 family_ [链接](https://example.com)");
    expect(result.text).toBe("中文 😀 👨‍👩‍👧 family 链接 (example.com)");
    expect(result.entities).toEqual([
      { type: "bold", offset: 0, length: 2 },
      { type: "italic", offset: 6, length: 15 },
      { type: "text_link", offset: 22, length: 2, url: "https://example.com/" },
    ]);
    expectValidTelegramText(result);
  });
});

describe("markdownToTelegram: links (no disguised or foreign-scheme links)", () => {
  test("a tg:// link in a model answer keeps only its label, never a hidden link", () => {
    const answer = "For help ask [Official support](tg://resolve?domain=evil_bot) now.";
    expect(markdownToTelegram(answer)).toEqual({ text: "For help ask Official support now.", entities: [] });
    expect(markdownToTelegram("[me](tg://user?id=42) <tg://resolve?domain=x>").entities).toEqual([]);
    expect(markdownToTelegram("a [](tg://resolve?domain=evil_bot) b")).toEqual({
      text: "a  b",
      entities: [],
    });
  });

  test("javascript:, mailto:, file:, data:, vbscript:, ftp:, relative and dotless hosts give plain text", () => {
    const result = markdownToTelegram(
      "[a](javascript:alert(1)) [b](mailto:x@y.z) <x@y.z> [c](file:///etc/passwd) [d](data:text/html,x) " +
        "[e](vbscript:x) [f](ftp://a.b/c) [g](/relative) [h](//a.b/c) [i](https://localhost/x) [j](JAVASCRIPT:x)",
    );
    expect(result).toEqual({ text: "a b x@y.z c d e f g h i j", entities: [] });
  });

  test("a disguised http link shows its real host after the label", () => {
    const result = markdownToTelegram(
      "[paypal.com](https://evil.example/login) and [Support](http://a.evil.example)",
    );
    expect(result.text).toBe("paypal.com (evil.example) and Support (a.evil.example)");
    expect(result.entities).toEqual([
      { type: "text_link", offset: 0, length: 10, url: "https://evil.example/login" },
      { type: "text_link", offset: 30, length: 7, url: "http://a.evil.example/" },
    ]);
  });

  test("no host after a label that is the URL, the URL without its scheme, or the host itself", () => {
    for (const source of [
      "[https://example.com/a](https://example.com/a)",
      "[example.com/a](https://example.com/a)",
      "[Example.com](https://example.com/a/b)",
      "[www.example.com](https://www.example.com/)",
      "[](https://example.com/a)",
      "www.example.com",
    ]) {
      const result = markdownToTelegram(source);
      expect(result.text).not.toContain("(");
      expect(result.entities).toHaveLength(1);
      expect(result.entities[0]?.type).toBe("text_link");
    }
    expect(markdownToTelegram("[](https://example.com/a)").text).toBe("https://example.com/a");
    // "notexample.com" is not "example.com": containment is not enough.
    expect(markdownToTelegram("[notexample.com](https://example.com)").text).toBe(
      "notexample.com (example.com)",
    );
  });

  test("internationalised hosts are shown in punycode, so look-alike letters cannot hide", () => {
    const result = markdownToTelegram("[Сбербанк](https://сбербанк.рф/)");
    expect(result.text).toBe("Сбербанк (xn--80abap1arsf.xn--p1ai)");
    expect(result.entities[0]?.url).toBe("https://xn--80abap1arsf.xn--p1ai/");
  });

  test("an image becomes a link labelled with its alt text", () => {
    expect(markdownToTelegram("![chart](https://a.example/c.png)")).toEqual({
      text: "chart (a.example)",
      entities: [{ type: "text_link", offset: 0, length: 5, url: "https://a.example/c.png" }],
    });
    expect(markdownToTelegram("![x](javascript:alert(1))")).toEqual({ text: "x", entities: [] });
  });
});

describe("markdownToTelegram: malformed input never throws", () => {
  test("odd fragments render to valid text", () => {
    for (const source of [
      "",
      " ",
      "[",
      "](",
      "<",
      "<!--",
      "<div",
      "\\",
      "#",
      ">",
      "- ",
      "1.",
      "|",
      "| a |\n|",
      "```",
      "~~~",
      "**`**`",
      "[a](<b)",
      "[a](https://e.com 'unclosed)",
      "*".repeat(3) + "_".repeat(3) + "~".repeat(3),
      "\u0000\u0007\u200b",
    ]) {
      expect(() => markdownToTelegram(source)).not.toThrow();
      expectValidTelegramText(markdownToTelegram(source));
    }
    expect(markdownToTelegram(undefined as unknown as string)).toEqual({ text: "", entities: [] });
  });

  test("nesting past the bound stays literal text instead of costing length × depth", () => {
    const depth = 40;
    const quotes = markdownToTelegram(`${"> ".repeat(depth)}deep`);
    expect(quotes.text).toContain("deep");
    expect(quotes.text).toContain(">");
    expectValidTelegramText(quotes);
    const nested = Array.from({ length: depth }, (_, index) => (index % 2 ? "_" : "**")).join("");
    const emphasis = markdownToTelegram(`${nested}x${[...nested.matchAll(/\*\*|_/g)].reverse().join("")}`);
    expect(emphasis.text).toContain("x");
    expect(emphasis.text).toMatch(/[*_]/);
    expectValidTelegramText(emphasis);
    // Shallow nesting is still fully formatted.
    expect(markdownToTelegram("> > > **_x_**").entities.map((entity) => entity.type)).toEqual([
      "blockquote",
      "bold",
      "italic",
    ]);
  });

  test("very long text is delivered as written, quickly", () => {
    const source = `${"**b** ".repeat(10_000)}end`;
    const started = performance.now();
    const result = markdownToTelegram(source);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(result).toEqual({ text: source, entities: [] });
  });
});

describe("normalizeEntities", () => {
  test("clamps, drops empty/whitespace-only, widens over surrogate halves, drops crossings", () => {
    const text = "ab 😀 cd";
    const result = normalizeEntities(text, [
      { type: "underline", offset: 6, length: 100 },
      { type: "code", offset: 4, length: 1 },
      { type: "bold", offset: -5, length: 7 },
      { type: "italic", offset: 2, length: 1 },
      { type: "strikethrough", offset: 1, length: 0 },
      { type: "italic", offset: 1, length: 5 },
    ]);
    expect(result).toEqual([
      { type: "bold", offset: 0, length: 2 },
      { type: "code", offset: 3, length: 2 },
      { type: "underline", offset: 6, length: 2 },
    ]);
    expectValidTelegramText({ text, entities: result });
  });

  test("an entity edge inside a surrogate pair is widened to the whole emoji", () => {
    expect(
      normalizeEntities("x😀y", [
        { type: "bold", offset: 1, length: 1 },
        { type: "italic", offset: 2, length: 2 },
      ]),
    ).toEqual([
      { type: "italic", offset: 1, length: 3 },
      { type: "bold", offset: 1, length: 2 },
    ]);
  });

  test("drops an entity inside another of the same type and anything inside code", () => {
    const text = "bold inside bold";
    const result = normalizeEntities(text, [
      { type: "bold", offset: 0, length: 16 },
      { type: "bold", offset: 5, length: 6 },
      { type: "code", offset: 12, length: 4 },
      { type: "italic", offset: 12, length: 2 },
    ]);
    expect(result).toEqual([
      { type: "bold", offset: 0, length: 12 },
      { type: "code", offset: 12, length: 4 },
    ]);
  });

  test("a link wins over code inside it", () => {
    const result = markdownToTelegram("[`code` link](https://example.com)");
    expect(spans(result)).toEqual([["text_link", "code link"]]);
  });
});

describe("splitTelegramText", () => {
  const paragraph = (index: number): string =>
    `Paragraph ${index}: ${"The quick brown fox jumps over the lazy dog. ".repeat(8 + (index % 7))}`.trim();

  test("short text is one trimmed chunk", () => {
    const input = { text: "  hello **x**  ", entities: [{ type: "bold" as const, offset: 8, length: 5 }] };
    expect(splitTelegramText(input)).toEqual([
      { text: "hello **x**", entities: [{ type: "bold", offset: 6, length: 5 }] },
    ]);
    expect(splitTelegramText({ text: " \n\n ", entities: [] })).toEqual([]);
  });

  test("10 000-char answer splits at paragraph boundaries, ≤ 4096 each", () => {
    const markdown = Array.from({ length: 40 }, (_, index) => `**Point ${index}.** ${paragraph(index)}`).join(
      "\n\n",
    );
    const rendered = markdownToTelegram(markdown);
    expect(rendered.text.length).toBeGreaterThan(10_000);
    const chunks = splitTelegramText(rendered);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    let position = 0;
    for (const [index, chunk] of chunks.entries()) {
      expectValidTelegramText(chunk, TELEGRAM_TEXT_LIMIT);
      position = rendered.text.indexOf(chunk.text, position) + chunk.text.length;
      if (index < chunks.length - 1) expect(rendered.text.slice(position, position + 2)).toBe("\n\n");
      expect(chunk.text.startsWith("Point")).toBe(true);
      expect(chunk.entities[0]).toEqual({ type: "bold", offset: 0, length: chunk.text.indexOf(".") + 1 });
    }
    expectRejoins(rendered.text, chunks);
    const boldCount = chunks.reduce((sum, chunk) => sum + chunk.entities.length, 0);
    expect(boldCount).toBe(40);
  });

  test("prefers line breaks, then sentence ends, then spaces", () => {
    const lines = splitTelegramText({ text: "first line here\nsecond line here", entities: [] }, 20);
    expect(lines.map((chunk) => chunk.text)).toEqual(["first line here", "second line here"]);
    const sentences = splitTelegramText(
      { text: "One sentence here. Another one! And more", entities: [] },
      32,
    );
    expect(sentences.map((chunk) => chunk.text)).toEqual(["One sentence here. Another one!", "And more"]);
    const words = splitTelegramText({ text: "alpha beta gamma delta epsilon", entities: [] }, 12);
    expect(words.map((chunk) => chunk.text)).toEqual(["alpha beta", "gamma delta", "epsilon"]);
  });

  test("Cyrillic text splits at sentence ends", () => {
    const text = "Это предложение о дебатах моделей. ".repeat(300).trim();
    const chunks = splitTelegramText({ text, entities: [] });
    expect(chunks.length).toBe(3);
    for (const chunk of chunks) {
      expectValidTelegramText(chunk, TELEGRAM_TEXT_LIMIT);
      expect(chunk.text.endsWith(".")).toBe(true);
    }
    expectRejoins(text, chunks);
  });

  test("an emoji at the cut point is never split", () => {
    const text = `${"a".repeat(4095)}😀${"b".repeat(10)}`;
    const chunks = splitTelegramText({ text, entities: [] });
    expect(chunks.map((chunk) => chunk.text.length)).toEqual([4095, 12]);
    for (const chunk of chunks) expect(LONE_SURROGATE.test(chunk.text)).toBe(false);
    expectRejoins(text, chunks);
  });

  test("a ZWJ emoji sequence at the cut point stays whole", () => {
    const family = "👨‍👩‍👧";
    const text = `${"a".repeat(4093)}${family}tail`;
    const chunks = splitTelegramText({ text, entities: [] });
    expect(chunks[0]?.text).toBe("a".repeat(4093));
    expect(chunks[1]?.text).toBe(`${family}tail`);
  });

  test("one giant word is hard-cut at the limit", () => {
    const text = "x".repeat(10_000);
    const chunks = splitTelegramText({ text, entities: [{ type: "code", offset: 0, length: 10_000 }] });
    expect(chunks.map((chunk) => chunk.text.length)).toEqual([4096, 4096, 1808]);
    for (const chunk of chunks) {
      expect(chunk.entities).toEqual([{ type: "code", offset: 0, length: chunk.text.length }]);
    }
  });

  test("an entity crossing a boundary becomes two valid entities", () => {
    const markdown = `Intro **${"bold words ".repeat(30).trim()}** outro`;
    const rendered = markdownToTelegram(markdown);
    const chunks = splitTelegramText(rendered, 100);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expectValidTelegramText(chunk, 100);
    const first = chunks[0] as TelegramText;
    const last = chunks[chunks.length - 1] as TelegramText;
    expect(first.text.startsWith("Intro bold")).toBe(true);
    expect(first.entities).toEqual([{ type: "bold", offset: 6, length: first.text.length - 6 }]);
    expect(last.text.endsWith("words outro")).toBe(true);
    expect(last.entities).toEqual([{ type: "bold", offset: 0, length: last.text.length - " outro".length }]);
    expectRejoins(rendered.text, chunks);
  });

  test("a pre block split across chunks keeps its language in both parts", () => {
    const code = Array.from({ length: 30 }, (_, index) => `line_${index} = ${index}`).join("\n");
    const rendered = markdownToTelegram(`\`\`\`python\n${code}\n\`\`\``);
    const chunks = splitTelegramText(rendered, 200);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      expect(chunk.entities).toEqual([
        { type: "pre", offset: 0, length: chunk.text.length, language: "python" },
      ]);
    }
  });

  test("exactly 4096 UTF-16 units is one message; 4097 is two", () => {
    expect(
      splitTelegramText({ text: "a".repeat(4096), entities: [] }).map((chunk) => chunk.text.length),
    ).toEqual([4096]);
    expect(
      splitTelegramText({ text: "a".repeat(4097), entities: [] }).map((chunk) => chunk.text.length),
    ).toEqual([4096, 1]);
    // 2048 emoji are 4096 units: one message, although only 2048 code points.
    const emoji = "😀".repeat(2048);
    expect(splitTelegramText({ text: emoji, entities: [] })).toEqual([{ text: emoji, entities: [] }]);
    expect(splitTelegramText({ text: `${emoji}x`, entities: [] }).map((chunk) => chunk.text.length)).toEqual([
      4096, 1,
    ]);
  });

  test("the limit counts rendered text, not Markdown markup", () => {
    const rendered = markdownToTelegram(`**${"a".repeat(4096)}**`);
    expect(splitTelegramText(rendered)).toEqual([
      { text: "a".repeat(4096), entities: [{ type: "bold", offset: 0, length: 4096 }] },
    ]);
    const header = "🤖 Bot · round 1/5";
    const body = markdownToTelegram(`_${"b".repeat(4096 - header.length - 2)}_`);
    const chunks = splitTelegramText(withHeader(header, body));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.text.length).toBe(4096);
    expect(chunks[0]?.entities.map((entity) => entity.type)).toEqual(["bold", "italic"]);
  });

  test("a link and a bold span crossing a hard cut next to an emoji become valid parts in both chunks", () => {
    // The limit falls between the halves of the third emoji: the cut moves before it.
    const text = `${"a".repeat(4091)}😀😀😀${"b".repeat(10)}`;
    const chunks = splitTelegramText({
      text,
      entities: [
        { type: "text_link", offset: 4000, length: 107, url: "https://example.com/" },
        { type: "bold", offset: 4080, length: 27 },
      ],
    });
    expect(chunks.map((chunk) => chunk.text)).toEqual([`${"a".repeat(4091)}😀😀`, `😀${"b".repeat(10)}`]);
    expect(chunks[0]?.entities).toEqual([
      { type: "text_link", offset: 4000, length: 95, url: "https://example.com/" },
      { type: "bold", offset: 4080, length: 15 },
    ]);
    expect(chunks[1]?.entities).toEqual([
      { type: "text_link", offset: 0, length: 12, url: "https://example.com/" },
      { type: "bold", offset: 0, length: 12 },
    ]);
    for (const chunk of chunks) expectValidTelegramText(chunk, TELEGRAM_TEXT_LIMIT);
    expectRejoins(text, chunks);
  });

  test("a flag (two regional indicators) at the cut stays whole", () => {
    const text = `${"a".repeat(4094)}🇺🇦tail`;
    const chunks = splitTelegramText({ text, entities: [] });
    expect(chunks.map((chunk) => chunk.text)).toEqual(["a".repeat(4094), "🇺🇦tail"]);
  });

  test("rejects a limit that cannot hold an emoji", () => {
    expect(() => splitTelegramText({ text: "x", entities: [] }, 1)).toThrow(RangeError);
    expect(() => splitTelegramText({ text: "x", entities: [] }, 2.5)).toThrow(RangeError);
  });
});

describe("withHeader, plain, toFormattable", () => {
  test("header is bold, body entities shift by header UTF-16 length + 2", () => {
    const body = markdownToTelegram("Hi **there**");
    const header = "🤖 ChatGPT · Optimist · round 1/5";
    const result = withHeader(header, body);
    expect(header.length).toBe(33);
    expect(result.text).toBe(`${header}\n\nHi there`);
    expect(result.entities).toEqual([
      { type: "bold", offset: 0, length: 33 },
      { type: "bold", offset: 38, length: 5 },
    ]);
    expect(spans(result)).toEqual([
      ["bold", header],
      ["bold", "there"],
    ]);
    expect(body.entities).toEqual([{ type: "bold", offset: 3, length: 5 }]);
    expectValidTelegramText(result);
  });

  test("empty body gives only the header; blank header gives only the body; newlines flattened", () => {
    expect(withHeader("Title", { text: "", entities: [] })).toEqual({
      text: "Title",
      entities: [{ type: "bold", offset: 0, length: 5 }],
    });
    expect(withHeader("  ", { text: "body", entities: [] })).toEqual({ text: "body", entities: [] });
    expect(withHeader("a\nb", { text: "c", entities: [] }).text).toBe("a b\n\nc");
  });

  test("header then split keeps every chunk within the limit", () => {
    const body = markdownToTelegram("word ".repeat(2000));
    const chunks = splitTelegramText(withHeader("🤖 DeepSeek · Skeptic · round 2/5", body));
    expect(chunks.length).toBe(3);
    for (const chunk of chunks) expectValidTelegramText(chunk, TELEGRAM_TEXT_LIMIT);
    expect(spans(chunks[0] as TelegramText)).toEqual([["bold", "🤖 DeepSeek · Skeptic · round 2/5"]]);
  });

  test("plain drops entities and keeps text", () => {
    const input = markdownToTelegram("**x** y");
    expect(plain(input)).toEqual({ text: "x y", entities: [] });
    expect(input.entities.length).toBe(1);
  });

  test("toFormattable produces a GramIO FormattableString with the same text and entities", () => {
    const input = markdownToTelegram("**x** [y](https://example.com)");
    const formattable = toFormattable(input);
    expect(formattable).toBeInstanceOf(FormattableString);
    expect(formattable.text).toBe(input.text);
    expect(formattable.entities).toEqual(input.entities);
  });
});

describe("property: random Markdown never breaks the rules", () => {
  const pieces = [
    "*",
    "**",
    "***",
    "_",
    "__",
    "~",
    "~~",
    "`",
    "```",
    "```js\n",
    "[",
    "]",
    "(",
    ")",
    "](",
    "](https://example.com)",
    "(javascript:alert(1))",
    "<script>",
    "#",
    "# ",
    "> ",
    "- ",
    "* ",
    "1. ",
    "\n",
    "\n\n",
    " ",
    "  ",
    "\\",
    "!",
    ".",
    "? ",
    "😀",
    "👨‍👩‍👧",
    "🇺🇦",
    "привет",
    "мир",
    "word",
    "snake_case",
    "tg://user?id=1",
    "\t",
    "\uD83D",
  ];

  test("200 seeded random strings: no throw, entities valid, chunks within limit", () => {
    const random = createRandom(20_240_611);
    for (let run = 0; run < 200; run++) {
      const count = Math.floor(random() * 120);
      let source = "";
      for (let index = 0; index < count; index++)
        source += pieces[Math.floor(random() * pieces.length)] ?? "";
      const rendered = markdownToTelegram(source);
      expectValidTelegramText(rendered);
      const limit = 2 + Math.floor(random() * 60);
      const chunks = splitTelegramText(rendered, limit);
      for (const chunk of chunks) {
        expect(chunk.text.length).toBeGreaterThan(0);
        expectValidTelegramText(chunk, limit);
      }
      expectRejoins(rendered.text, chunks);
      for (const chunk of splitTelegramText(withHeader("🤖 Bot · round 1/5", rendered), limit)) {
        expectValidTelegramText(chunk, limit);
      }
    }
  });
});
