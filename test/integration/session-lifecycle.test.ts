/**
 * The lifecycle owner's guarantees that live in Postgres: one open session per chat (a partial
 * unique index, so two doors or instances racing cannot both open one), a `created` session left
 * behind by a crash no longer blocking its chat, and the migration that moved delivery state out of
 * the core's tables.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq, inArray, sql } from "drizzle-orm";
import { sessions } from "../../src/db/schema";
import { DebateError } from "../../src/debate/debate-errors";
import { STALE_CREATED_MS } from "../../src/debate/session-store";
import { migrationsFolder, queryRows } from "../../src/platform/db";
import { createTestDatabase } from "../helpers/test-db";
import { createTestStack, type TestStack } from "../helpers/test-stack";

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.stop();
});

describe("one open session per chat", () => {
  test("topics sent at the same instant through two instances: exactly one session opens per chat", async () => {
    const other = await stack.instance({ start: false });
    const chats = [9101, 9102, 9103, 9104, 9105];
    const outcomes = await Promise.all(
      chats.flatMap((chatId) =>
        [stack.debate, other.services.debate].map((debate) =>
          debate.createSession({ topic: `Race in ${chatId}`, chatId, source: "telegram" }).then(
            (detail) => ({ chatId, id: detail.session.id }),
            (error: unknown) => ({ chatId, error }),
          ),
        ),
      ),
    );
    for (const chatId of chats) {
      const mine = outcomes.filter((outcome) => outcome.chatId === chatId);
      const opened = mine.filter((outcome) => "id" in outcome);
      const refused = mine.filter((outcome) => "error" in outcome);
      expect(opened).toHaveLength(1);
      expect(refused).toHaveLength(1);
      const error = (refused[0] as { error: unknown }).error;
      expect(error).toBeInstanceOf(DebateError);
      expect((error as DebateError).code).toBe("chat_busy");
      expect((error as DebateError).details?.sessionId).toBe((opened[0] as { id: string }).id);
    }
    const open = await stack.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(inArray(sessions.chatId, chats), inArray(sessions.status, ["created", "running"])));
    expect(open).toHaveLength(chats.length);
  });

  test("a session that ended frees its chat; sessions without a chat never collide", async () => {
    const first = await stack.debate.createSession({ topic: "First", chatId: 9201 });
    await stack.debate.stopSession(first.session.id, "user");
    const second = await stack.debate.createSession({ topic: "Second", chatId: 9201 });
    expect(second.session.status).toBe("created");
    const api = await Promise.all([1, 2, 3].map((n) => stack.debate.createSession({ topic: `API ${n}` })));
    expect(new Set(api.map((detail) => detail.session.id)).size).toBe(3);
  });

  test("a created session older than the stale limit no longer blocks its chat: it ends, announced", async () => {
    const stale = await stack.debate.createSession({ topic: "Never started", chatId: 9301 });
    const recorder = stack.recordEvents(stale.session.id);
    await expect(stack.debate.createSession({ topic: "Too soon", chatId: 9301 })).rejects.toMatchObject({
      code: "chat_busy",
    });
    await stack.db
      .update(sessions)
      .set({ createdAt: new Date(Date.now() - STALE_CREATED_MS - 1000) })
      .where(eq(sessions.id, stale.session.id));
    const fresh = await stack.debate.createSession({ topic: "Now it opens", chatId: 9301 });
    expect(fresh.session.status).toBe("created");
    const ended = await stack.debate.getSessionRow(stale.session.id);
    expect(ended).toMatchObject({ status: "failed", stopReason: "error", stopDetail: "never started" });
    expect(await recorder.waitFor("session-end")).toMatchObject({ status: "failed", stopReason: "error" });
    recorder.stop();
  });
});

describe("migration 0002", () => {
  test("delivery state moves to the bot's deliveries table, rows intact; a duplicate open session is closed", async () => {
    const database = await createTestDatabase({ empty: true });
    try {
      const run = async (file: string) => {
        const text = readFileSync(join(migrationsFolder, file), "utf8");
        for (const statement of text.split("--> statement-breakpoint")) {
          if (statement.trim()) await queryRows(database.database.db, sql.raw(statement));
        }
      };
      await run("0000_init.sql");
      await run("0001_providers_notify.sql");
      const db = database.database.db;
      // Rows as the previous version wrote them: a delivered chat debate, an API one, and two open
      // sessions in one chat (possible before the index).
      await queryRows(
        db,
        sql.raw(`
        insert into sessions (id, chat_id, topic, status, stop_reason, max_rounds, closing_delivery_status, finished_at, created_at) values
          ('00000000-0000-4000-8000-000000000001', 42, 'Chat debate', 'finished', 'max_rounds', 1, 'sent', now(), now() - interval '3 hours'),
          ('00000000-0000-4000-8000-000000000002', null, 'API debate', 'finished', 'max_rounds', 1, 'skipped', now(), now() - interval '2 hours'),
          ('00000000-0000-4000-8000-000000000003', 43, 'Older open', 'running', null, 1, 'pending', null, now() - interval '1 hour'),
          ('00000000-0000-4000-8000-000000000004', 43, 'Newer open', 'running', null, 1, 'pending', null, now());
        insert into messages (session_id, turn_index, round, author_type, author_name, content, delivery_status, telegram_message_ids, delivered_at) values
          ('00000000-0000-4000-8000-000000000001', 0, 1, 'model', 'ChatGPT', 'one', 'sent', '[101, 102]', now()),
          ('00000000-0000-4000-8000-000000000001', 1, 1, 'summary', 'Summary', 'sum', 'skipped', null, null),
          ('00000000-0000-4000-8000-000000000002', 0, 1, 'model', 'ChatGPT', 'api', 'pending', null, null),
          ('00000000-0000-4000-8000-000000000004', 0, 1, 'model', 'DeepSeek', 'two', 'pending', null, null);
      `),
      );
      await run("0002_deliveries.sql");
      const rows = await queryRows<{
        session_id: string;
        chat_id: number;
        kind: string;
        turn_index: number | null;
        status: string;
        telegram_message_ids: number[] | null;
      }>(
        db,
        sql`select session_id, chat_id::int, kind::text, turn_index, status::text, telegram_message_ids
            from deliveries order by session_id, kind desc, turn_index`,
      );
      expect(rows).toEqual([
        {
          session_id: "00000000-0000-4000-8000-000000000001",
          chat_id: 42,
          kind: "turn",
          turn_index: 0,
          status: "sent",
          telegram_message_ids: [101, 102],
        },
        {
          session_id: "00000000-0000-4000-8000-000000000001",
          chat_id: 42,
          kind: "turn",
          turn_index: 1,
          status: "skipped",
          telegram_message_ids: null,
        },
        {
          session_id: "00000000-0000-4000-8000-000000000001",
          chat_id: 42,
          kind: "closing",
          turn_index: null,
          status: "sent",
          telegram_message_ids: null,
        },
        {
          session_id: "00000000-0000-4000-8000-000000000003",
          chat_id: 43,
          kind: "closing",
          turn_index: null,
          status: "pending",
          telegram_message_ids: null,
        },
        {
          session_id: "00000000-0000-4000-8000-000000000004",
          chat_id: 43,
          kind: "turn",
          turn_index: 0,
          status: "pending",
          telegram_message_ids: null,
        },
        {
          session_id: "00000000-0000-4000-8000-000000000004",
          chat_id: 43,
          kind: "closing",
          turn_index: null,
          status: "pending",
          telegram_message_ids: null,
        },
      ]);
      const statuses = await queryRows<{ topic: string; status: string; stop_reason: string | null }>(
        db,
        sql`select topic, status::text, stop_reason::text from sessions where chat_id = 43 order by created_at`,
      );
      expect(statuses).toEqual([
        { topic: "Older open", status: "stopped", stop_reason: "error" },
        { topic: "Newer open", status: "running", stop_reason: null },
      ]);
      const columns = await queryRows<{ column_name: string }>(
        db,
        sql`select column_name from information_schema.columns
            where table_name in ('messages', 'sessions') and column_name like '%deliver%'`,
      );
      expect(columns).toEqual([]);
    } finally {
      await database.drop();
    }
  });
});
