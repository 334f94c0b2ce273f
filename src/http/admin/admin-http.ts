/**
 * HTTP plumbing of the admin: HTML responses with security headers, redirects, form fields.
 * Routes return `Response` objects built here, so the admin renders correctly whether or not the
 * host app also uses `@elysiajs/html`.
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

const securityHeaders: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  // Pages carry CSRF tokens and operator data: never cached.
  "cache-control": "no-store",
};

function buildHeaders(base: Record<string, string>, extra?: HeadersInit, cookies?: string[]): Headers {
  const headers = new Headers(base);
  if (extra) {
    new Headers(extra).forEach((value, key) => {
      headers.set(key, value);
    });
  }
  for (const cookie of cookies ?? []) headers.append("set-cookie", cookie);
  return headers;
}

/** A full page (doctype added) or, with `fragment`, a piece of one. */
export function htmlResponse(
  body: string,
  options: { status?: number; headers?: HeadersInit; cookies?: string[]; fragment?: boolean } = {},
): Response {
  const text = options.fragment ? body : `<!doctype html>${body}`;
  return new Response(text, {
    status: options.status ?? 200,
    headers: buildHeaders(
      { "content-type": "text/html; charset=utf-8", ...securityHeaders },
      options.headers,
      options.cookies,
    ),
  });
}

/** 303 See Other: after a POST the browser GETs the target (no resubmission on reload). */
export function redirect(location: string, options: { cookies?: string[] } = {}): Response {
  return new Response(null, {
    status: 303,
    headers: buildHeaders({ location, "cache-control": "no-store" }, undefined, options.cookies),
  });
}

export function textResponse(text: string, status: number): Response {
  return new Response(text, {
    status,
    headers: buildHeaders({ "content-type": "text/plain; charset=utf-8", ...securityHeaders }),
  });
}

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
