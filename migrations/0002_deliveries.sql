CREATE TYPE "public"."delivery_kind" AS ENUM('turn', 'closing');--> statement-breakpoint
CREATE TABLE "deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"session_id" uuid NOT NULL,
	"chat_id" bigint NOT NULL,
	"kind" "delivery_kind" NOT NULL,
	"message_id" bigint,
	"turn_index" integer,
	"status" "delivery_status" DEFAULT 'pending' NOT NULL,
	"telegram_message_ids" jsonb,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone
);
--> statement-breakpoint
DROP INDEX "messages_delivery_idx";--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "deliveries_message_unique" ON "deliveries" USING btree ("message_id");--> statement-breakpoint
CREATE UNIQUE INDEX "deliveries_closing_unique" ON "deliveries" USING btree ("session_id") WHERE "deliveries"."kind" = 'closing';--> statement-breakpoint
CREATE INDEX "deliveries_session_turn_idx" ON "deliveries" USING btree ("session_id","turn_index");--> statement-breakpoint
CREATE INDEX "deliveries_open_idx" ON "deliveries" USING btree ("chat_id","created_at") WHERE "deliveries"."kind" = 'closing' and "deliveries"."status" = 'pending';--> statement-breakpoint
-- Delivery state moves from the core's tables to the bot's own: every message of a chat's session and
-- every chat session's closing line keep their status and Telegram ids.
INSERT INTO "deliveries" ("session_id", "chat_id", "kind", "message_id", "turn_index", "status", "telegram_message_ids", "created_at", "delivered_at")
  SELECT m."session_id", s."chat_id", 'turn', m."id", m."turn_index", m."delivery_status", m."telegram_message_ids", m."created_at", m."delivered_at"
  FROM "messages" m JOIN "sessions" s ON s."id" = m."session_id"
  WHERE s."chat_id" IS NOT NULL;--> statement-breakpoint
INSERT INTO "deliveries" ("session_id", "chat_id", "kind", "status", "created_at", "delivered_at")
  SELECT "id", "chat_id", 'closing', "closing_delivery_status", "created_at",
    CASE WHEN "closing_delivery_status" = 'sent' THEN "finished_at" END
  FROM "sessions" WHERE "chat_id" IS NOT NULL;--> statement-breakpoint
-- "One open debate per chat" was a check before the insert: if two slipped through, the newest stays open.
UPDATE "sessions" SET "status" = 'stopped', "stop_reason" = 'error', "finished_at" = now(),
    "stop_detail" = 'another debate was open in the same chat'
  WHERE "status" IN ('created', 'running') AND "chat_id" IS NOT NULL AND "id" NOT IN (
    SELECT DISTINCT ON ("chat_id") "id" FROM "sessions"
    WHERE "status" IN ('created', 'running') AND "chat_id" IS NOT NULL
    ORDER BY "chat_id", "created_at" DESC, "id" DESC
  );--> statement-breakpoint
CREATE UNIQUE INDEX "sessions_one_open_per_chat" ON "sessions" USING btree ("chat_id") WHERE "sessions"."status" in ('created', 'running') and "sessions"."chat_id" is not null;--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "delivery_status";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "telegram_message_ids";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "delivered_at";--> statement-breakpoint
ALTER TABLE "sessions" DROP COLUMN "closing_delivery_status";