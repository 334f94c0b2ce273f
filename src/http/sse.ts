/**
 * Server-Sent Events of one debate session, shared by the API (`GET /api/sessions/:id/events`)
 * and the admin's live view; each door chooses its frames, this owns the plumbing: subscribe
 * before reading the session (an end in between is then seen one way or the other), keep-alive
 * comments, closing after `session-end` (or what the door says ends it), and letting go of the subscription when the client leaves.
 */
import type { Session } from "../db/schema";
import type { DebateEvent, DebateEventBus } from "../debate/debate-events";

/**
 * Whether a session still has something to stream: it is open, or it ended and the verdict asked
 * for afterwards is not written yet.
 */
export function streamsLive(session: Pick<Session, "status" | "verdictRequestedAt">): boolean {
  return session.status === "created" || session.status === "running" || session.verdictRequestedAt != null;
}

/**
 * Whether the stream of `session` (as it was when the stream opened) is over after `event`: at the
 * session's end; for an ended session waiting for its verdict, once the verdict's row is written
 * (or the note saying there is none: that step announces no new end).
 */
export function endsStream(event: DebateEvent, session: Pick<Session, "status">): boolean {
  if (event.type === "session-end") return true;
  const ended = session.status !== "created" && session.status !== "running";
  return (
    ended &&
    event.type === "message-created" &&
    (event.authorType === "verdict" || event.authorType === "system")
  );
}

/** One event frame: `event: <name>` and its JSON `data`. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface SessionEventStreamOptions<S> {
  events: DebateEventBus;
  sessionId: string;
  /** Closes the stream when the client goes away. */
  signal: AbortSignal;
  /** Interval of `: keep-alive` comments (proxies close silent connections). */
  keepAliveMs: number;
  /** Sent first as `retry:`: how long a browser waits before reconnecting. */
  retryMs?: number;
  /** Reads the session, after subscribing; a throw refuses the stream (and unsubscribes). */
  load(): Promise<S>;
  /** The frame to send when the session had already ended (the stream closes after it), else null. */
  ended(state: S): string | null;
  /** The frame of a live event, or null to skip it. */
  frame(event: DebateEvent): string | null;
  /** Whether the stream ends after this live event (sent first); default: after `session-end`. */
  closesAfter?(event: DebateEvent, state: S): boolean;
}

/** The loaded session state and the `text/event-stream` response that follows it live. */
export async function streamSessionEvents<S>(
  options: SessionEventStreamOptions<S>,
): Promise<{ state: S; response: Response }> {
  const queue: DebateEvent[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = options.events.subscribe((event) => {
    queue.push(event);
    wake?.();
  }, options.sessionId);
  let state: S;
  try {
    state = await options.load();
  } catch (error) {
    unsubscribe();
    throw error;
  }
  const closesAfter = options.closesAfter ?? ((event: DebateEvent) => event.type === "session-end");
  const encoder = new TextEncoder();
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      let keepAlive: ReturnType<typeof setInterval> | undefined;
      const onAbort = () => close();
      cleanup = () => {
        closed = true;
        wake = undefined;
        unsubscribe();
        clearInterval(keepAlive);
        options.signal.removeEventListener("abort", onAbort);
      };
      const close = () => {
        if (closed) return;
        cleanup();
        try {
          controller.close();
        } catch {
          // Already closed by the client.
        }
      };
      const send = (text: string) => {
        if (!closed) controller.enqueue(encoder.encode(text));
      };
      if (options.retryMs !== undefined) send(`retry: ${options.retryMs}\n\n`);
      const last = options.ended(state);
      if (last !== null) {
        send(last);
        close();
        return;
      }
      wake = () => {
        while (queue.length > 0 && !closed) {
          const event = queue.shift()!;
          const frame = options.frame(event);
          if (frame !== null) send(frame);
          if (closesAfter(event, state)) close();
        }
      };
      wake();
      keepAlive = setInterval(() => send(": keep-alive\n\n"), options.keepAliveMs);
      options.signal.addEventListener("abort", onAbort);
      if (options.signal.aborted) close();
    },
    cancel() {
      cleanup();
    },
  });
  const response = new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
  return { state, response };
}
