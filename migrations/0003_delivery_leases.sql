ALTER TABLE "deliveries" ADD COLUMN "lease_token" text;--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "lease_until" timestamp with time zone;