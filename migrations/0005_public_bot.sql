DROP INDEX "sessions_user_idx";--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "last_seen_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "blocked" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "allowed" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "debates_per_day" integer;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "cost_per_day_usd" numeric(18, 8);--> statement-breakpoint
CREATE INDEX "sessions_user_created_idx" ON "sessions" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "sessions_created_idx" ON "sessions" USING btree ("created_at");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_debates_per_day_nonnegative" CHECK ("users"."debates_per_day" >= 0);--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_cost_per_day_nonnegative" CHECK ("users"."cost_per_day_usd" >= 0);