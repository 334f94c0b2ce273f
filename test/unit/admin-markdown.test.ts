import { describe, expect, test } from "bun:test";
import { Markdown, parseBlocks, renderInline } from "../../admin-jsx/components/markdown";

const render = (text: string) => Markdown({ text }) as string;

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
    ];
    for (const text of hostile) {
      const html = render(text);
      expect(html).not.toMatch(/<(script|img|svg|iframe|style|b|i)[\s>]/);
      expect(html).not.toContain('javascript:alert(1)"');
      expect(html).not.toMatch(/href="(?!https?:)/);
      expect(html).not.toContain('onmouseover=alert(1)"');
    }
    expect(render("<script>alert(1)</script>")).toBe(
      '<div class="md"><p>&lt;script&gt;alert(1)&lt;/script&gt;</p></div>',
    );
  });

  test("inline formatting, links and code", () => {
    expect(renderInline("**bold** and *it* and _it2_ and ~~gone~~ and `x < y`")).toBe(
      "<strong>bold</strong> and <em>it</em> and <em>it2</em> and <del>gone</del> and <code>x &lt; y</code>",
    );
    expect(renderInline("**bold _and italic_**")).toBe("<strong>bold <em>and italic</em></strong>");
    expect(renderInline("see [docs](https://example.com/a?b=1&c=2)")).toBe(
      'see <a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer" target="_blank">docs</a>',
    );
    // snake_case words and lone stars stay as they are.
    expect(renderInline("snake_case_name and 2 * 3 * 4")).toBe("snake_case_name and 2 * 3 * 4");
  });

  test("blocks: paragraphs, line breaks, headings, lists, quotes, code, rules", () => {
    const html = render(
      "# Title\n\nFirst line\nsecond line\n\n- one\n- two\n  continued\n\n3. three\n4. four\n\n> quoted\n\n```js\nlet a = '<b>';\n```\n\n---",
    );
    expect(html).toBe(
      '<div class="md"><h4>Title</h4><p>First line<br/>second line</p><ul><li>one</li><li>two continued</li></ul>' +
        '<ol start="3"><li>three</li><li>four</li></ol><blockquote>quoted</blockquote>' +
        "<pre><code>let a = &#x27;&lt;b&gt;&#x27;;</code></pre><hr/></div>",
    );
  });

  test("pathological input stays fast and never loops", () => {
    const started = performance.now();
    render(`${"*a ".repeat(3000)}\n${"_".repeat(5000)}\n${"[".repeat(2000)}\n\`\`\`\nunclosed`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(parseBlocks("").length).toBe(0);
    expect(parseBlocks("\n\n\n").length).toBe(0);
  });
});
