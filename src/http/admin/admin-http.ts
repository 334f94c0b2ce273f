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

/** Elysia parses urlencoded bodies into an object; anything else (JSON, none) counts as empty. */
export function asForm(body: unknown): FormFields {
  if (!body || typeof body !== "object" || Array.isArray(body)) return {};
  const form: FormFields = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value === "string") form[key] = value;
    else if (Array.isArray(value))
      form[key] = value.filter((item): item is string => typeof item === "string");
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
