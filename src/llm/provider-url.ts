/**
 * Where a provider may be called: the rules every `base_url` must follow and the optional
 * `PROVIDER_HOSTS` allow-list. The catalog refuses a provider that breaks them, the seed refuses
 * env defaults that do, and the chat model refuses to call a stored row that does (rows written
 * before a rule or the allow-list existed). Hand-written because the rules are ours: the WHATWG
 * URL parser forgives what we must refuse (an empty `?` or `#`, tabs and newlines, backslashes).
 */

/** One `PROVIDER_HOSTS` entry: a host, or every subdomain of one (`*.example.com`), on one port. */
export interface HostPattern {
  /** Lower case, without the `*.`; IPv6 addresses keep their brackets (`[::1]`). */
  host: string;
  /** `*.example.com`: any subdomain of `host`, not `host` itself. */
  wildcard: boolean;
  /** null: the scheme's default port only (443 for https, 80 for http). */
  port: number | null;
}

/** What a `base_url` must be; reused in validation messages. */
export const BASE_URL_RULE = "an http(s) URL without user name, password, query (?) or fragment (#)";

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const IPV6 = /^\[[0-9a-f:.]+\]$/;
const PATTERN = /^(\*\.)?(\[[^\]]*\]|[^:]+)(?::(\d{1,5}))?$/;

/**
 * Parses `PROVIDER_HOSTS`: comma-separated `host`, `*.domain` or either with `:port`.
 * Empty text: an empty list (any host). Returns null when an entry is not one of those.
 */
export function parseHostPatterns(text: string): HostPattern[] | null {
  if (text.trim() === "") return [];
  const patterns: HostPattern[] = [];
  for (const entry of text.split(",")) {
    const match = PATTERN.exec(entry.trim().toLowerCase());
    if (!match) return null;
    const [, star, host = "", portText] = match;
    const port = portText === undefined ? null : Number(portText);
    if (port !== null && (port < 1 || port > 65535)) return null;
    if (!HOST_NAME.test(host) && !IPV6.test(host)) return null;
    // `*.0.0.1` would read as a wildcard over IP addresses: subdomains exist only under names.
    if (star && (IPV6.test(host) || /^\d+$/.test(host.split(".").at(-1) ?? ""))) return null;
    patterns.push({ host, wildcard: Boolean(star), port });
  }
  return patterns;
}

const defaultPort = (url: URL) => (url.protocol === "https:" ? 443 : 80);

/** Whether `url`'s host and port are on the list; an empty list allows every host. */
export function isHostAllowed(url: URL, patterns: readonly HostPattern[]): boolean {
  if (patterns.length === 0) return true;
  // `api.openai.com.` is the same host as `api.openai.com`.
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const port = url.port === "" ? defaultPort(url) : Number(url.port);
  return patterns.some(
    (pattern) =>
      (pattern.port ?? defaultPort(url)) === port &&
      (pattern.wildcard ? host.endsWith(`.${pattern.host}`) : host === pattern.host),
  );
}

/**
 * Parses a `base_url` that follows {@link BASE_URL_RULE}, or returns null. The raw text is checked
 * too: the parser drops an empty `?` or `#` (which would still swallow the SDK's path suffix),
 * strips tabs and newlines, and reads `\` as `/`.
 */
export function parseBaseUrl(raw: string): URL | null {
  const text = raw.trim();
  if (/[\s\\?#\p{Cc}]/u.test(text)) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  // `http://@host` parses with an empty user name: the authority of the text must hold no `@`.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)/i.exec(text)?.[1] ?? "";
  if (authority.includes("@") || url.username !== "" || url.password !== "") return null;
  if (url.hostname === "") return null;
  return url;
}

/** The host (and port, when not the default one) as an operator reads it in a message. */
export function hostLabel(url: URL): string {
  return url.port === "" ? url.hostname : `${url.hostname}:${url.port}`;
}

/**
 * Why a provider must not be called at `baseUrl`, in words safe to show (never the URL itself,
 * which may carry a password), or null when it may be called.
 */
export function baseUrlRefusal(baseUrl: string, patterns: readonly HostPattern[]): string | null {
  const url = parseBaseUrl(baseUrl);
  if (!url) return `base_url must be ${BASE_URL_RULE}`;
  if (!isHostAllowed(url, patterns))
    return `base_url host ${hostLabel(url)} is not allowed by PROVIDER_HOSTS`;
  return null;
}
