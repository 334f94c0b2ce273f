/**
 * A file to download (a session's export), as both operator doors send it: the content type the
 * core chose, and a `Content-Disposition: attachment` whose filename survives any characters the
 * core put in it (a topic may be Cyrillic, or carry quotes or a path).
 */

/** The formats a session exports to (`DebateService.exportSession`). */
export const EXPORT_FORMATS = ["md", "json"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const isExportFormat = (value: unknown): value is ExportFormat =>
  (EXPORT_FORMATS as readonly unknown[]).includes(value);

/** What the core hands a door to send as a file. */
export interface Attachment {
  filename: string;
  contentType: string;
  body: string;
}

/** Characters RFC 5987 lets through unencoded in `filename*` (`attr-char`). */
const encodeAttrChars = (value: string) =>
  encodeURIComponent(value).replace(/['()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): the quoted name is an ASCII fallback
 * for old clients (anything else becomes `_`), the extended one keeps the name exactly. Separators,
 * quotes and control characters never reach the header: no path, no header injection either way.
 */
export function contentDisposition(filename: string): string {
  const cleaned = filename.replace(/[\p{Cc}/\\"]+/gu, "_").trim() || "download";
  const fallback = cleaned.replace(/[^\x20-\x7e]|%/g, "_");
  const header = `attachment; filename="${fallback}"`;
  return fallback === cleaned ? header : `${header}; filename*=UTF-8''${encodeAttrChars(cleaned)}`;
}

/** The download response of `file`; `headers` add to it (the admin's security headers). */
export function attachmentResponse(file: Attachment, headers: Record<string, string> = {}): Response {
  return new Response(file.body, {
    headers: {
      ...headers,
      "content-type": file.contentType,
      "content-disposition": contentDisposition(file.filename),
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    },
  });
}
