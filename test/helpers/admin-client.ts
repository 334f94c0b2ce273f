/**
 * A tiny browser stand-in for admin route tests: keeps cookies, finds the CSRF token in the last
 * page, posts urlencoded forms, and follows nothing by itself (tests assert on redirects).
 */

export type Handler = (request: Request) => Promise<Response> | Response;

export interface AdminResponse {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
}

export const ADMIN_ORIGIN = "http://admin.test";

/** The value of the first `name="_csrf"` hidden input of a page. */
export function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error("no CSRF token in the page");
  return match[1]!;
}

export class AdminClient {
  readonly cookies = new Map<string, string>();
  lastPage = "";

  constructor(
    private readonly handle: Handler,
    private readonly origin = ADMIN_ORIGIN,
  ) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  private remember(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const index = pair.indexOf("=");
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute));
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(method: string, path: string, body?: URLSearchParams, headers: Record<string, string> = {}) {
    const response = await this.handle(
      new Request(`${this.origin}${path}`, {
        method,
        headers: {
          ...(this.cookies.size > 0 ? { cookie: this.cookieHeader() } : {}),
          ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
          ...headers,
        },
        body,
        redirect: "manual",
      }),
    );
    this.remember(response.headers);
    const text = await response.text();
    const result: AdminResponse = {
      status: response.status,
      headers: response.headers,
      text,
      location: response.headers.get("location"),
    };
    if (
      (response.headers.get("content-type") ?? "").startsWith("text/html") &&
      text.includes('name="_csrf"')
    ) {
      this.lastPage = text;
    }
    return result;
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request("GET", path, undefined, headers);
  }

  /** Posts a form; the CSRF token of the last page is added unless `_csrf` is given (null: none). */
  post(path: string, fields: Record<string, string | string[]> = {}, csrf?: string | null) {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) {
      for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
    }
    if (csrf !== null && !("_csrf" in fields)) body.set("_csrf", csrf ?? csrfFrom(this.lastPage));
    return this.request("POST", path, body);
  }

  /** Signs in through the real form; returns the POST's response. */
  async login(username: string, password: string) {
    const form = await this.get("/admin/login");
    if (form.status !== 200) throw new Error(`login page answered ${form.status}`);
    return this.post("/admin/login", { username, password });
  }
}

/** The admin credentials of the test apps. */
export const ADMIN_USERNAME = "admin";
export const ADMIN_PASSWORD = "admin-password-for-tests";
