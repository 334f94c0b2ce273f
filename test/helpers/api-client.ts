import type { Elysia } from "elysia";
import type { App } from "../../src/app";
import type { InstanceOverrides, TestStack } from "./test-stack";

export const TEST_API_TOKEN = "api-token-for-tests";

/** A parsed JSON value as tests read it: fields are accessed without ceremony. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON fields.
export type Json = any;

/** One answer, with the body read once (as text and, when it parses, as JSON). */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: Json;
}

export interface RequestOptions {
  /** Serialized with JSON.stringify unless a string (sent as is). */
  body?: unknown;
  /** Bearer token; `null` sends no Authorization header. Default: the test token. */
  token?: string | null;
  headers?: Record<string, string>;
}

/** The app's HTTP doors driven through `handle`, as a client of the API sees them. */
export interface ApiClient {
  /** The HTTP doors of the app answering now (the stack's current app, or the other instance). */
  readonly app: Elysia;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiAnswer>;
  /** Raw response (for streams). */
  fetch(method: string, path: string, options?: RequestOptions): Promise<Response>;
  /** Every response body read through `request`, for leak checks. */
  bodies: string[];
}

/**
 * The API of the stack's app (every door, as served), driven through `app.handle`; with overrides,
 * of another instance on the same stores (another API_TOKEN, a broken database…).
 */
export async function createApiClient(
  stack: TestStack,
  overrides?: InstanceOverrides & { start?: boolean },
): Promise<ApiClient> {
  const other: App | null = overrides ? await stack.instance(overrides) : null;
  // The stack's app is looked up per request: it changes when the stack restarts.
  const doors = () => (other ?? stack.app).http;
  const bodies: string[] = [];
  const fetchRaw = (method: string, path: string, options: RequestOptions = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? TEST_API_TOKEN : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    return doors().handle(new Request(`http://localhost${path}`, { method, headers, body }));
  };
  return {
    get app() {
      return doors();
    },
    fetch: fetchRaw,
    bodies,
    async request(method, path, options) {
      const response = await fetchRaw(method, path, options);
      const text = await response.text();
      bodies.push(text);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
  };
}

/** Reads a Server-Sent Events response to its end (or until `timeoutMs`) and parses the events. */
export async function readSse(
  response: Response,
  timeoutMs = 20_000,
): Promise<{ raw: string; events: { event: string; data: unknown }[]; ended: boolean }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let raw = "";
  let ended = false;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const next = await Promise.race([
      reader.read(),
      new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), deadline - Date.now())),
    ]);
    if (next === "timeout") break;
    if (next.done) {
      ended = true;
      break;
    }
    raw += decoder.decode(next.value, { stream: true });
  }
  if (!ended) await reader.cancel().catch(() => {});
  const events = raw
    .split("\n\n")
    .filter((block) => block.trim() !== "" && !block.startsWith(":"))
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((line) => line.startsWith("event: "))?.slice(7) ?? "message";
      const data = lines
        .filter((line) => line.startsWith("data: "))
        .map((line) => line.slice(6))
        .join("\n");
      return { event, data: JSON.parse(data) as unknown };
    });
  return { raw, events, ended };
}
