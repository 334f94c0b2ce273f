import { expect } from "bun:test";
import { eq } from "drizzle-orm";
import { countTokens } from "gpt-tokenizer";
import type { Message } from "../../src/db/schema";
import { sessions } from "../../src/db/schema";
import type { CreateSessionInput } from "../../src/debate/debate-service";
import { eventually } from "./eventually";
import type { FakeRequestRecord } from "./fake-openai-server";
import type { EventRecorder, TestStack } from "./test-stack";

/** Defaults of the runtime limits, written back before each test that changes some of them. */
export const defaultLimits = {
  MAX_ROUNDS: 5,
  TURN_TIMEOUT_SEC: 60,
  CONTEXT_TOKEN_LIMIT: 6000,
  SESSION_TIMEOUT_SEC: 1800,
  SESSION_TOKEN_LIMIT: 200_000,
  SESSION_COST_LIMIT_USD: "1.00",
};

/** Sets the runtime limits a session captures when it starts: the defaults with `overrides` on top. */
export async function setLimits(stack: TestStack, overrides: Partial<typeof defaultLimits> = {}) {
  await stack.settings.update({ ...defaultLimits, ...overrides }, "test");
}

/**
 * Creates and starts a debate, recording its events from before the start. Without a moderator's
 * verdict unless `input.verdict` asks for one: the tests using this are about the turns.
 */
export async function startDebate(
  stack: TestStack,
  input: CreateSessionInput,
): Promise<{ id: string; recorder: EventRecorder }> {
  const created = await stack.debate.createSession({ verdict: false, ...input });
  const recorder = stack.recordEvents(created.session.id);
  await stack.debate.startSession(created.session.id);
  return { id: created.session.id, recorder };
}

/** Summary calls are told "You summarise…" in their system prompt; turns are not. */
export const isSummaryRequest = (request: FakeRequestRecord) =>
  request.messages[0]?.content.startsWith("You summarise") === true;

/** Prompt size as the engine budgets it: gpt-tokenizer tokens of each content plus 4 per message. */
export function promptTokenCount(messages: readonly { content: string }[]): number {
  const plain = { disallowedSpecial: new Set<string>() };
  return messages.reduce((sum, message) => sum + countTokens(message.content, plain) + 4, 0);
}

export const modelTurns = (rows: readonly Message[]) => rows.filter((row) => row.authorType === "model");

/** Every message's turn_index is 0..n-1 in order: no gap, no duplicate. */
export function expectContiguousTurns(rows: readonly Message[]) {
  const indexes = [...rows].map((row) => row.turnIndex).sort((a, b) => a - b);
  expect(indexes).toEqual(indexes.map((_, position) => position));
}

/** Waits until the session's row has one of `wanted` statuses; resolves with the row. */
export async function sessionInStatus(
  stack: Pick<TestStack, "db">,
  sessionId: string,
  wanted: readonly string[],
  timeoutMs = 15_000,
) {
  let row: typeof sessions.$inferSelect | undefined;
  await eventually(
    async () => {
      [row] = await stack.db.select().from(sessions).where(eq(sessions.id, sessionId));
      return row !== undefined && wanted.includes(row.status);
    },
    { timeoutMs, message: () => `session ${sessionId} in ${wanted.join("/")} (is ${row?.status})` },
  );
  return row!;
}
