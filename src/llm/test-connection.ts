/**
 * "Test connection" for the admin and the API: one tiny real call that proves the base URL, key and
 * model id work. A failure is reported by its classification (kind, status) in our own words: the
 * target's body is not ours to reflect (a base_url pointed at any server would read it back).
 */

import type { ChatModel } from "./chat-model";
import {
  classifyError,
  type LlmError,
  type LlmErrorCode,
  type LlmFailureKind,
  publicFailureLine,
} from "./llm-errors";

/** Outcome of {@link testConnection}. */
export type TestConnectionResult =
  | { ok: true; latencyMs: number; sample: string }
  | {
      ok: false;
      /** Safe to show to whoever asked: classification and our wording only. */
      error: { code: LlmErrorCode; kind: LlmFailureKind; message: string; status?: number };
      /** The full error, its provider text scrubbed of secrets: for the log, not for the caller. */
      cause: LlmError;
    };

/** The prompt sent; short so the check costs next to nothing. */
export const TEST_CONNECTION_PROMPT = "Reply with: ok";
/** Small, but not so small that models with a few tokens of preamble return nothing. */
const TEST_CONNECTION_MAX_TOKENS = 16;
/** Used when the caller gives no signal: an admin waiting on a page should not wait forever. */
const DEFAULT_TIMEOUT_MS = 20_000;
const SAMPLE_MAX_LENGTH = 200;
/** Errors raised before anything was sent: their messages are ours and say what to fix. */
const OWN_MESSAGE_CODES: ReadonlySet<LlmErrorCode> = new Set(["refused", "key_unreadable"]);

/** Sends a one-line prompt through `model` and reports latency and a sample of the answer, or the error. */
export async function testConnection(model: ChatModel, signal?: AbortSignal): Promise<TestConnectionResult> {
  try {
    const result = await model.complete({
      messages: [{ role: "user", content: TEST_CONNECTION_PROMPT }],
      maxTokens: TEST_CONNECTION_MAX_TOKENS,
      signal: signal ?? AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
    });
    return { ok: true, latencyMs: result.latencyMs, sample: result.text.trim().slice(0, SAMPLE_MAX_LENGTH) };
  } catch (thrown) {
    const error = classifyError(thrown, model.provider.apiKey);
    const message = OWN_MESSAGE_CODES.has(error.code) ? error.message : publicFailureLine(error, "en");
    return {
      ok: false,
      error: {
        code: error.code,
        kind: error.kind,
        message,
        ...(error.status === undefined ? {} : { status: error.status }),
      },
      cause: error,
    };
  }
}
