import { and, asc, eq } from "drizzle-orm";
import { type Delivery, deliveries } from "../../src/bot/delivery/delivery-table";
import type { Db } from "../../src/platform/db";

/** The bot's delivery rows of a session: its turns by message id, and its closing line. */
export async function deliveriesOf(
  db: Db,
  sessionId: string,
): Promise<{ byMessage: Map<number, Delivery>; closing: Delivery | undefined; turns: Delivery[] }> {
  const rows = await db
    .select()
    .from(deliveries)
    .where(eq(deliveries.sessionId, sessionId))
    .orderBy(asc(deliveries.turnIndex));
  const turns = rows.filter((row) => row.kind === "turn");
  return {
    byMessage: new Map(turns.map((row) => [row.messageId!, row])),
    closing: rows.find((row) => row.kind === "closing"),
    turns,
  };
}

/** The closing row's status of a session, or undefined while the bot has not tracked it. */
export async function closingStatus(db: Db, sessionId: string) {
  const [row] = await db
    .select({ status: deliveries.status })
    .from(deliveries)
    .where(and(eq(deliveries.sessionId, sessionId), eq(deliveries.kind, "closing")));
  return row?.status;
}
