import { describe, expect, test } from "bun:test";
import { attachmentResponse, contentDisposition } from "../../src/http/attachment";

/** The filename a client reads from the header: `filename*` when present (RFC 6266), else `filename`. */
function filenameOf(header: string): string {
  const extended = /filename\*=UTF-8''([^;]+)/.exec(header)?.[1];
  if (extended) return decodeURIComponent(extended);
  return /filename="([^"]*)"/.exec(header)![1]!;
}

describe("Content-Disposition of an export", () => {
  test("an ASCII name is sent as is, quoted", () => {
    expect(contentDisposition("debate-7d0c5a56.md")).toBe('attachment; filename="debate-7d0c5a56.md"');
  });

  test("a name beyond ASCII keeps its letters in filename* and has an ASCII fallback", () => {
    const header = contentDisposition("Удалёнка навсегда? (итоги).md");
    expect(header).toStartWith('attachment; filename="');
    expect(/filename="([^"]*)"/.exec(header)![1]).toMatch(/^[\x20-\x7e]+$/);
    expect(filenameOf(header)).toBe("Удалёнка навсегда? (итоги).md");
    // attr-char only: nothing a header parser could split on.
    expect(/filename\*=UTF-8''([^;]+)/.exec(header)![1]).toMatch(/^[A-Za-z0-9%!#$&+.^_`|~-]+$/);
  });

  test("quotes, separators, control characters and line breaks never reach the header", () => {
    for (const name of [
      'a"b.md',
      "../../etc/passwd",
      "a\r\nSet-Cookie: x=1.md",
      "C:\\tmp\\x.json",
      "\u0000",
    ]) {
      const header = contentDisposition(name);
      expect(/[\r\n]/.test(header) || header.includes(String.fromCharCode(0))).toBe(false);
      const shown = filenameOf(header);
      expect(shown).not.toMatch(/[/\\"\r\n]/);
      expect(shown.length).toBeGreaterThan(0);
      // The response accepts it as a header value.
      expect(() => new Headers({ "content-disposition": header })).not.toThrow();
    }
  });

  test("the response carries the body, the core's content type and no caching", async () => {
    const response = attachmentResponse({
      filename: "x.md",
      contentType: "text/markdown; charset=utf-8",
      body: "# Тема\n",
    });
    expect(response.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="x.md"');
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.text()).toBe("# Тема\n");
  });
});
