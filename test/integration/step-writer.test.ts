import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { asc, eq } from "drizzle-orm";
import { messages, sessionParticipants, sessions } from "../../src/db/schema";
import {
  createStepWriter,
  draftMessages,
  InterjectionsAhead,
  SessionMovedOn,
  type Step,
} from "../../src/debate/step-writer";
import { createTestDatabase, type TestDatabase } from "../helpers/test-db";

let testDatabase: TestDatabase;
const db = () => testDatabase.database.db;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
});
afterAll(async () => {
  await testDatabase.drop();
});

async function runningSession(topic: string) {
  const [session] = await db()
    .insert(sessions)
    .values({ topic, status: "running", maxRounds: 3, currentRound: 1, startedAt: new Date() })
    .returning();
  const participants = await db()
    .insert(sessionParticipants)
    .values([
      { sessionId: session!.id, displayName: "A", orderIndex: 0 },
      { sessionId: session!.id, displayName: "B", orderIndex: 1 },
    ])
    .returning();
  return { session: session!, participants };
}

const turn = (participantId: number, content: string): Step => ({
  messages: [
    {
      round: 1,
      authorType: "model",
      authorName: "A",
      participantId,
      content,
      tokensIn: 10,
      tokensOut: 5,
      cost: "0.00001500",
      latencyMs: 7,
    },
  ],
  cursor: { currentRound: 1, nextOrderIndex: 1 },
});

/** A step with its first message at turn index 0. */
const at = (sessionId: string, step: Step) => ({
  sessionId,
  step,
  drafts: draftMessages(sessionId, 0, step),
});

const rowsOf = (sessionId: string) =>
  db().select().from(messages).where(eq(messages.sessionId, sessionId)).orderBy(asc(messages.turnIndex));

describe("step writer", () => {
  test("steps of several sessions written together each land, and the in-memory rows match the stored ones", async () => {
    const a = await runningSession("batch a");
    const b = await runningSession("batch b");
    const write = createStepWriter(db());
    const [writtenA, writtenB] = await Promise.all([
      write(at(a.session.id, turn(a.participants[0]!.id, "from a"))),
      write(at(b.session.id, turn(b.participants[0]!.id, "from b"))),
    ]);
    expect(await rowsOf(a.session.id)).toEqual(writtenA.messages);
    expect(await rowsOf(b.session.id)).toEqual(writtenB.messages);
    expect(writtenA.messages[0]).toMatchObject({
      content: "from a",
      cost: "0.00001500",
    });
    const [storedA] = await db().select().from(sessions).where(eq(sessions.id, a.session.id));
    expect(storedA).toMatchObject({
      status: "running",
      currentRound: 1,
      nextOrderIndex: 1,
      finishedAt: null,
    });
  });

  test("a taken turn index fails only its own step; the batch's other step is written once", async () => {
    const a = await runningSession("conflict a");
    const b = await runningSession("conflict b");
    const write = createStepWriter(db());
    // Another holder already wrote b's turn 0.
    await write(at(b.session.id, turn(b.participants[0]!.id, "first holder")));
    const [outcomeA, outcomeB] = await Promise.allSettled([
      write(at(a.session.id, turn(a.participants[0]!.id, "only a"))),
      write(at(b.session.id, turn(b.participants[0]!.id, "stale holder"))),
    ]);
    expect(outcomeA.status).toBe("fulfilled");
    expect(outcomeB.status === "rejected" && outcomeB.reason).toBeInstanceOf(SessionMovedOn);
    expect((await rowsOf(a.session.id)).map((row) => row.content)).toEqual(["only a"]);
    expect((await rowsOf(b.session.id)).map((row) => row.content)).toEqual(["first holder"]);
  });

  test("a session stopped meanwhile gets nothing written, while a step ending another one ends it", async () => {
    const stopped = await runningSession("stopped");
    const ending = await runningSession("ending");
    await db()
      .update(sessions)
      .set({ status: "stopped", stopReason: "user", finishedAt: new Date() })
      .where(eq(sessions.id, stopped.session.id));
    const write = createStepWriter(db());
    const excludeB: Step = {
      messages: [
        { round: 1, authorType: "system", authorName: "system", participantId: null, content: "B is out" },
      ],
      participants: [
        { id: ending.participants[1]!.id, set: { status: "excluded", exclusionReason: "loop" } },
      ],
      end: { status: "stopped", reason: "no_participants" },
    };
    const [outcomeStopped, outcomeEnding] = await Promise.allSettled([
      write(at(stopped.session.id, turn(stopped.participants[0]!.id, "late"))),
      write(at(ending.session.id, excludeB)),
    ]);
    expect(outcomeStopped.status === "rejected" && outcomeStopped.reason).toBeInstanceOf(SessionMovedOn);
    expect(await rowsOf(stopped.session.id)).toHaveLength(0);
    expect(outcomeEnding.status).toBe("fulfilled");
    const [endedRow] = await db().select().from(sessions).where(eq(sessions.id, ending.session.id));
    expect(endedRow).toMatchObject({ status: "stopped", stopReason: "no_participants", currentRound: 1 });
    expect(outcomeEnding.status === "fulfilled" && outcomeEnding.value.finishedAt).toEqual(
      endedRow!.finishedAt,
    );
    const participants = await db()
      .select()
      .from(sessionParticipants)
      .where(eq(sessionParticipants.sessionId, ending.session.id))
      .orderBy(asc(sessionParticipants.orderIndex));
    expect(participants.map((row) => [row.status, row.exclusionReason])).toEqual([
      ["active", null],
      ["excluded", "loop"],
    ]);
    expect((await rowsOf(ending.session.id)).map((row) => [row.authorType, row.cost])).toEqual([
      ["system", "0.00000000"],
    ]);
  });

  test("an interjection at the step's index hands it back instead of passing for another holder's turn", async () => {
    const write = createStepWriter(db());
    const { session, participants } = await runningSession("Interjected");
    const [interjection] = await db()
      .insert(messages)
      .values({
        sessionId: session.id,
        turnIndex: 0,
        round: 1,
        authorType: "user",
        authorName: "User",
        content: "Q?",
      })
      .returning();
    const refused = await write(at(session.id, turn(participants[0]!.id, "mine"))).catch((error) => error);
    expect(refused).toBeInstanceOf(InterjectionsAhead);
    expect((refused as InterjectionsAhead).rows.map((row) => row.id)).toEqual([interjection!.id]);
    // Written after it, the step lands.
    const step = turn(participants[0]!.id, "mine");
    await write({ sessionId: session.id, step, drafts: draftMessages(session.id, 1, step) });
    expect((await rowsOf(session.id)).map((row) => [row.turnIndex, row.authorType])).toEqual([
      [0, "user"],
      [1, "model"],
    ]);
    // A model row at the index is another holder's turn.
    const again = turn(participants[1]!.id, "theirs");
    await expect(
      write({ sessionId: session.id, step: again, drafts: draftMessages(session.id, 1, again) }),
    ).rejects.toBeInstanceOf(SessionMovedOn);
  });

  test("an ended session takes a verdict's step only while a verdict is requested, which the step clears", async () => {
    const write = createStepWriter(db());
    const { session } = await runningSession("Judged later");
    await db()
      .update(sessions)
      .set({ status: "stopped", stopReason: "user", finishedAt: new Date() })
      .where(eq(sessions.id, session.id));
    const verdict: Step = {
      messages: [{ round: 1, authorType: "verdict", authorName: "M", participantId: null, content: "V" }],
      verdictDone: true,
    };
    await expect(write(at(session.id, verdict))).rejects.toBeInstanceOf(SessionMovedOn);
    await db().update(sessions).set({ verdictRequestedAt: new Date() }).where(eq(sessions.id, session.id));
    // An ordinary step is still refused: the session is not running.
    await expect(write(at(session.id, turn(1, "late")))).rejects.toBeInstanceOf(SessionMovedOn);
    await write(at(session.id, verdict));
    const [row] = await db().select().from(sessions).where(eq(sessions.id, session.id));
    expect(row).toMatchObject({ status: "stopped", stopReason: "user", verdictRequestedAt: null });
    expect((await rowsOf(session.id)).map((message) => message.authorType)).toEqual(["verdict"]);
  });
});
