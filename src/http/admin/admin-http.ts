/**
 * HTTP plumbing of the admin: security headers and form fields. Pages are JSX rendered by
 * `@elysiajs/html`; these helpers only read requests.
 */

import { readBody } from "../../platform/read-body";

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
 * Reads a urlencoded form body of at most `limit` bytes; null when it is bigger (see
 * {@link readBody}: never read past the limit). Any other content type counts as an empty form,
 * and is not read.
 */
export async function readFormBody(request: Request, limit = MAX_FORM_BYTES): Promise<FormFields | null> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) return {};
  const body = await readBody(request, limit);
  if (!body) return null;
  const form: FormFields = {};
  for (const [key, value] of new URLSearchParams(new TextDecoder().decode(body))) {
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
