/**
 * A run resumed from Postgres decides like the run that stopped: here, a process that died right
 * after excluding the second-to-last participant (nothing else in memory survives).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { messages, sessionParticipants } from "../../src/db/schema";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack({ startEngine: false });
});
afterAll(async () => {
  await stack.stop();
});

/** A running session whose first participant was excluded (with a notice) just before a crash. */
async function sessionAfterExclusion(reason: string) {
  const created = await stack.debate.createSession({ topic: `Resumed after: ${reason}`, maxRounds: 3 });
  await stack.debate.startSession(created.session.id);
  const [first] = created.participants;
  await stack.db
    .update(sessionParticipants)
    .set({ status: "excluded", exclusionReason: reason })
    .where(eq(sessionParticipants.id, first!.id));
  await stack.db.insert(messages).values({
    sessionId: created.session.id,
    turnIndex: 0,
    round: 1,
    authorType: "system",
    authorName: "system",
    participantId: first!.id,
    content: "excluded",
  });
  return created.session.id;
}

describe("a run resumed after an exclusion", () => {
  test("ends with turn_timeout when the last one excluded had timed out twice, no_participants otherwise", async () => {
    const timedOut = await sessionAfterExclusion("timed out twice in a row");
    const removed = await sessionAfterExclusion("provider removed");
    const ends = [timedOut, removed].map((id) => stack.recordEvents(id));
    await stack.app.start();
    const [timedOutEnd, removedEnd] = await Promise.all(
      ends.map((recorder) => recorder.waitFor("session-end")),
    );
    expect(timedOutEnd).toMatchObject({ status: "stopped", stopReason: "turn_timeout" });
    expect(removedEnd).toMatchObject({ status: "stopped", stopReason: "no_participants" });
    expect((await stack.debate.getSession(timedOut)).session.stopReason).toBe("turn_timeout");
    // Nothing was asked of the remaining participant.
    expect(stack.fakeLlm.requests).toHaveLength(0);
    for (const recorder of ends) recorder.stop();
  });
});
