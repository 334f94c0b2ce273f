/**
 * "Test connection" for the admin: one tiny real call that proves the base URL,
 * key and model id work, reporting the provider's own error when they don't.
 */

import type { ChatModel } from "./chat-model";
import { classifyError, type LlmErrorCode } from "./llm-errors";

/** Outcome of {@link testConnection}; errors are already scrubbed of the API key. */
export type TestConnectionResult =
  | { ok: true; latencyMs: number; sample: string }
  | { ok: false; error: { code: LlmErrorCode; message: string; status?: number } };

/** The prompt sent; short so the check costs next to nothing. */
export const TEST_CONNECTION_PROMPT = "Reply with: ok";
/** Small, but not so small that models with a few tokens of preamble return nothing. */
const TEST_CONNECTION_MAX_TOKENS = 16;
/** Used when the caller gives no signal: an admin waiting on a page should not wait forever. */
const DEFAULT_TIMEOUT_MS = 20_000;
const SAMPLE_MAX_LENGTH = 200;

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
    return {
      ok: false,
      error: {
        code: error.code,
        message: error.message,
        ...(error.status === undefined ? {} : { status: error.status }),
      },
    };
  }
}
