/** What Bun's server tells about a connection (absent when the app is driven by `handle`). */
export interface PeerInfo {
  requestIP(request: Request): { address: string } | null;
}

/**
 * The address of the client behind `trustedProxies` reverse proxies (TRUST_PROXY). Each proxy
 * appends the address it received the request from to X-Forwarded-For, so the right-most
 * `trustedProxies` entries were written by our proxies and the one they name last is the client;
 * anything further left came from the client and is not believed. Without trusted proxies the
 * header is ignored and the connection's own address is used. Hand-written: `proxy-addr` works on
 * Node's request objects, and this is the one rule we need.
 */
export function clientAddress(request: Request, peer: PeerInfo | null, trustedProxies: number): string {
  if (trustedProxies > 0) {
    const entries = (request.headers.get("x-forwarded-for") ?? "")
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean);
    if (entries.length > 0) return entries[Math.max(0, entries.length - trustedProxies)]!;
  }
  try {
    return peer?.requestIP(request)?.address ?? "local";
  } catch {
    return "local";
  }
}
