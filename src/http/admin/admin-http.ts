/**
 * HTTP plumbing of the admin: security headers and form fields. Pages are JSX rendered by
 * `@elysiajs/html`; these helpers only read requests.
 */

/**
 * Defence in depth: even if some text slipped through unescaped, no inline script or handler
 * could run (scripts come only from our own /admin/assets), and the admin cannot be framed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join("; ");

/** Headers of every admin response (pages carry CSRF tokens and operator data: never cached). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

/** A parsed form body: field name → values (a field may repeat). */
export type FormFields = Record<string, string | string[] | undefined>;

/** The largest form body the admin reads; bigger ones are refused with 413 before being read. */
export const MAX_FORM_BYTES = 64 * 1024;

/**
 * Reads a urlencoded form body of at most `limit` bytes; null when it is bigger. A declared
 * Content-Length over the limit is refused before a byte is read, and a chunked (or lying) body
 * is cut off once it passes the limit, so an oversized post never sits in memory. Any other
 * content type counts as an empty form (and is not read).
 */
export async function readFormBody(request: Request, limit = MAX_FORM_BYTES): Promise<FormFields | null> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (!Number.isFinite(declared) || declared > limit) return null;
  const type = request.headers.get("content-type") ?? "";
  if (!request.body || !/^application\/x-www-form-urlencoded\b/i.test(type)) return {};
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const form: FormFields = {};
  for (const [key, value] of new URLSearchParams(Buffer.concat(chunks).toString("utf8"))) {
    const previous = form[key];
    form[key] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return form;
}

/** The first value of a field, or "" when absent. */
export function field(form: FormFields, name: string): string {
  const value = form[name];
  if (Array.isArray(value)) return value[0] ?? "";
  return value ?? "";
}

/** A checkbox: present (any value but "0") means checked. */
export function checked(form: FormFields, name: string): boolean {
  const value = form[name];
  if (value === undefined) return false;
  const first = Array.isArray(value) ? value.at(-1) : value;
  return first !== undefined && first !== "0" && first !== "";
}

/** A positive page number from the query (1 when absent or invalid), capped to stay sane. */
export function pageNumber(value: unknown): number {
  const page = typeof value === "string" && /^\d{1,6}$/.test(value) ? Number(value) : 1;
  return Math.max(1, page);
}

/** A positive integer route id, or null. */
export function routeId(value: unknown): number | null {
  if (typeof value !== "string" || !/^\d{1,9}$/.test(value)) return null;
  const id = Number(value);
  return id > 0 ? id : null;
}

/** A same-admin path to return to after login; anything else (other hosts, `//x`) falls back. */
export function safeNext(value: string): string {
  if (!value.startsWith("/admin") || value.startsWith("//") || /[\\\r\n]/.test(value)) return "/admin";
  if (value.startsWith("/admin/login") || value.startsWith("/admin/logout")) return "/admin";
  return value;
}
