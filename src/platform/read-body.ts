/** One mebibyte: the unit of the doors' body limits. */
export const MIB = 1024 * 1024;

/**
 * Reads a request body of at most `limit` bytes; null when it is bigger. A declared Content-Length
 * over the limit is refused before a byte is read, and a chunked (or lying) body is cut off once it
 * passes the limit, so an oversized post never sits in memory. Hand-written because neither Bun's
 * `Request` nor Elysia reads a body with a cap (Bun's own cap is one per server).
 */
export async function readBody(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (!Number.isFinite(declared) || declared > limit) return null;
  if (!request.body) return new Uint8Array(0);
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
  return Buffer.concat(chunks);
}
