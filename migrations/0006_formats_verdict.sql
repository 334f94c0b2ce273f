CREATE TYPE "public"."debate_format" AS ENUM('roundtable', 'pro_contra', 'socratic', 'delphi');--> statement-breakpoint
ALTER TYPE "public"."author_type" ADD VALUE 'verdict';--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "format" "debate_format" DEFAULT 'roundtable' NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "verdict" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "verdict_requested_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "resumed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "sessions_verdict_requested_idx" ON "sessions" USING btree ("verdict_requested_at") WHERE "sessions"."verdict_requested_at" is not null;