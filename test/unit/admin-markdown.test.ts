import { describe, expect, test } from "bun:test";
import { Markdown } from "../../admin-jsx/components/markdown";
import { markdownToTelegram } from "../../src/bot/delivery/telegram-text";

const render = (text: string) => Markdown({ text }) as string;
/** The HTML of a one-paragraph text, without the wrapper and the paragraph. */
const inline = (text: string) =>
  render(text)
    .replace(/^<div class="md"><p>/, "")
    .replace(/<\/p><\/div>$/, "");
const REL = 'rel="nofollow noopener noreferrer" target="_blank"';

describe("safe Markdown subset", () => {
  test("HTML in the text is always shown literally", () => {
    const hostile = [
      "<script>alert(1)</script>",
      "<img src=x onerror=alert(1)>",
      '"><svg onload=alert(1)>',
      "**<b>bold</b>**",
      "`<i>code</i>`",
      "[x](javascript:alert(1))",
      '[x](https://e.com/"onmouseover=alert(1))',
      "```\n</code></pre><script>alert(1)</script>\n```",
      "> <iframe src=//evil>",
      "- <a href=javascript:alert(1)>x</a>",
      "# <style>*{}</style>",
      "<div>\n<script>alert(1)</script>\n</div>",
      "![x](https://e.com/a.png)",
      '[x](https://e.com/ "title"><script>alert(1)</script>)',
      "[<img src=x>](https://e.com/)",
      '<https://e.com/"onload=x>',
    ];
    for (const text of hostile) {
      const html = render(text)
        .replace(/^<div class="md">/, "")
        .replace(/<\/div>$/, "");
      expect(html).not.toMatch(/<(script|img|svg|iframe|style|b|i|div)[\s>]/);
      expect(html).not.toContain('javascript:alert(1)"');
      expect(html).not.toMatch(/href="(?!https?:)/);
      // No attribute but the ones made here: a quote in a URL is percent-encoded inside href.
      expect(html).not.toMatch(/<[^>]*\son[a-z]+=/);
      expect(html).not.toMatch(/<[^>]*"[a-z-]+=/);
    }
    expect(render("<script>alert(1)</script>")).toBe(
      '<div class="md"><p>&lt;script&gt;alert(1)&lt;/script&gt;</p></div>',
    );
  });

  test("inline formatting, links and code", () => {
    expect(inline("**bold** and *it* and _it2_ and ~~gone~~ and `x < y`")).toBe(
      "<strong>bold</strong> and <em>it</em> and <em>it2</em> and <del>gone</del> and <code>x &lt; y</code>",
    );
    expect(inline("**bold _and italic_**")).toBe("<strong>bold <em>and italic</em></strong>");
    expect(inline("see [docs](https://example.com/a?b=1&c=2)")).toBe(
      `see <a href="https://example.com/a?b=1&amp;c=2" ${REL}>docs</a> (example.com)`,
    );
    expect(inline("hard  \nbreak and back\\\nslash")).toBe("hard<br/>break and back<br/>slash");
    // snake_case words and lone stars stay as they are.
    expect(inline("snake_case_name and 2 * 3 * 4")).toBe("snake_case_name and 2 * 3 * 4");
  });

  test("a single ~ is never strikethrough", () => {
    expect(inline("~a~ in ~5 min, ~~b~~")).toBe("~a~ in ~5 min, <del>b</del>");
  });

  test("blocks: paragraphs, line breaks, headings, lists, quotes, code, rules", () => {
    const html = render(
      "# Title\n\nFirst line\nsecond line\n\n- one\n- two\n  continued\n\n3. three\n4. four\n\n> quoted\n\n```js\nlet a = '<b>';\n```\n\n---",
    );
    expect(html).toBe(
      '<div class="md"><h4>Title</h4><p>First line<br/>second line</p><ul><li>one</li><li>two<br/>continued</li></ul>' +
        '<ol start="3"><li>three</li><li>four</li></ol><blockquote><p>quoted</p></blockquote>' +
        "<pre><code>let a = &#x27;&lt;b&gt;&#x27;;</code></pre><hr/></div>",
    );
  });

  test("heading levels, nested and loose lists, an ordered list from 1, nested quotes", () => {
    expect(render("## two\n### three\n###### six")).toBe(
      '<div class="md"><h4>two</h4><h5>three</h5><h6>six</h6></div>',
    );
    expect(render("1. *a*\n   - b\n2. c")).toBe(
      '<div class="md"><ol><li><em>a</em><ul><li>b</li></ul></li><li>c</li></ol></div>',
    );
    expect(render("- a\n\n- b")).toBe('<div class="md"><ul><li><p>a</p></li><li><p>b</p></li></ul></div>');
    expect(render("> a\n> > **b**")).toBe(
      '<div class="md"><blockquote><p>a</p><blockquote><p><strong>b</strong></p></blockquote></blockquote></div>',
    );
  });

  test("an unclosed fence is shown as written, as in Telegram", () => {
    expect(render("```python\nprint(a*b)\n<b>")).toBe(
      '<div class="md"><p>```python<br/>print(a*b)<br/>&lt;b&gt;</p></div>',
    );
  });

  test("pathological input stays fast and never loops", () => {
    const started = performance.now();
    render(`${"*a ".repeat(3000)}\n${"_".repeat(5000)}\n${"[".repeat(2000)}\n\`\`\`\nunclosed`);
    render(`${"> ".repeat(200)}x ${"**a ".repeat(200)}${" b**".repeat(200)}`);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(render("")).toBe('<div class="md"></div>');
    expect(render("\n\n\n")).toBe('<div class="md"></div>');
    expect(Markdown({ text: "x", class: "md small" })).toBe('<div class="md small"><p>x</p></div>');
  });
});

describe("links: only http(s), never disguised", () => {
  test("tg:, javascript:, mailto:, data:, file: and relative links are plain text", () => {
    const html = inline(
      "[Official support](tg://resolve?domain=evil_bot) [a](javascript:alert(1)) [b](mailto:x@y.z) <x@y.z> " +
        "[c](data:text/html,x) [d](file:///etc/passwd) [e](/relative) [f](https://localhost/)",
    );
    expect(html).toBe("Official support a b x@y.z c d e f");
    expect(inline("a [](tg://resolve?domain=evil_bot) b")).toBe("a  b");
  });

  test("a label that is not the URL gets the real host after the link; one that is the URL does not", () => {
    expect(inline("[Official support](https://evil.example/help)")).toBe(
      `<a href="https://evil.example/help" ${REL}>Official support</a> (evil.example)`,
    );
    expect(inline("[<b>x</b>](https://e.example/)")).toBe(
      `<a href="https://e.example/" ${REL}>&lt;b&gt;x&lt;/b&gt;</a> (e.example)`,
    );
    expect(inline("https://example.com/a")).toBe(
      `<a href="https://example.com/a" ${REL}>https://example.com/a</a>`,
    );
    expect(inline("[](https://example.com/a)")).toBe(
      `<a href="https://example.com/a" ${REL}>https://example.com/a</a>`,
    );
    expect(inline("[example.com](https://example.com/x)")).toBe(
      `<a href="https://example.com/x" ${REL}>example.com</a>`,
    );
  });

  test("the admin and Telegram make the same link decisions from the same tokens", () => {
    for (const link of [
      "[a](tg://resolve?domain=x)",
      "[a](https://e.example/)",
      "[e.example](https://e.example/)",
      "[a](mailto:x@e.example)",
      "![a](https://e.example/p.png)",
      "https://e.example/x",
      "[a](http://localhost/)",
    ]) {
      const telegram = markdownToTelegram(link);
      const html = inline(link);
      expect(html.includes("<a ")).toBe(telegram.entities.some((entity) => entity.type === "text_link"));
      expect(html.replace(/<[^>]+>/g, "")).toBe(telegram.text);
    }
  });
});
