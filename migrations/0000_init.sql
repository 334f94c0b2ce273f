CREATE TYPE "public"."author_type" AS ENUM('model', 'system', 'summary', 'user');--> statement-breakpoint
CREATE TYPE "public"."delivery_status" AS ENUM('pending', 'sent', 'skipped', 'failed');--> statement-breakpoint
CREATE TYPE "public"."participant_status" AS ENUM('active', 'excluded');--> statement-breakpoint
CREATE TYPE "public"."provider_type" AS ENUM('openai', 'deepseek', 'openai_compatible');--> statement-breakpoint
CREATE TYPE "public"."session_status" AS ENUM('created', 'running', 'finished', 'stopped', 'failed');--> statement-breakpoint
CREATE TYPE "public"."stop_reason" AS ENUM('user', 'admin', 'max_rounds', 'turn_timeout', 'session_timeout', 'token_limit', 'cost_limit', 'no_participants', 'error');--> statement-breakpoint
CREATE TABLE "audit_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text,
	"meta" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"session_id" uuid NOT NULL,
	"turn_index" integer NOT NULL,
	"round" integer NOT NULL,
	"author_type" "author_type" NOT NULL,
	"author_name" text NOT NULL,
	"participant_id" integer,
	"content" text NOT NULL,
	"tokens_in" integer DEFAULT 0 NOT NULL,
	"tokens_out" integer DEFAULT 0 NOT NULL,
	"cached_tokens" integer DEFAULT 0 NOT NULL,
	"cost" numeric(18, 8) DEFAULT '0' NOT NULL,
	"latency_ms" integer,
	"estimated" boolean DEFAULT false NOT NULL,
	"flagged" text,
	"summary_until" integer,
	"delivery_status" "delivery_status" DEFAULT 'pending' NOT NULL,
	"telegram_message_ids" jsonb,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "messages_session_turn_unique" UNIQUE("session_id","turn_index"),
	CONSTRAINT "messages_tokens_nonnegative" CHECK ("messages"."tokens_in" >= 0 and "messages"."tokens_out" >= 0 and "messages"."cached_tokens" >= 0),
	CONSTRAINT "messages_cost_nonnegative" CHECK ("messages"."cost" >= 0)
);
--> statement-breakpoint
CREATE TABLE "personalities" (
	"id" serial PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"instructions" text NOT NULL,
	"style" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "personalities_title_unique" UNIQUE("title")
);
--> statement-breakpoint
CREATE TABLE "providers" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"type" "provider_type" NOT NULL,
	"base_url" text NOT NULL,
	"api_key_encrypted" text,
	"model_id" text NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"order_index" integer DEFAULT 0 NOT NULL,
	"default_personality_id" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "providers_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "session_participants" (
	"id" serial PRIMARY KEY NOT NULL,
	"session_id" uuid NOT NULL,
	"provider_id" integer,
	"personality_id" integer,
	"display_name" text NOT NULL,
	"persona_title" text,
	"order_index" integer NOT NULL,
	"status" "participant_status" DEFAULT 'active' NOT NULL,
	"exclusion_reason" text,
	"consecutive_timeouts" integer DEFAULT 0 NOT NULL,
	"loop_strikes" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "session_participants_order_unique" UNIQUE("session_id","order_index")
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" integer,
	"chat_id" bigint,
	"topic" text NOT NULL,
	"status" "session_status" DEFAULT 'created' NOT NULL,
	"stop_reason" "stop_reason",
	"stop_detail" text,
	"source" text DEFAULT 'api' NOT NULL,
	"language" text DEFAULT 'ru' NOT NULL,
	"max_rounds" integer NOT NULL,
	"current_round" integer DEFAULT 0 NOT NULL,
	"next_order_index" integer DEFAULT 0 NOT NULL,
	"closing_delivery_status" "delivery_status" DEFAULT 'pending' NOT NULL,
	"limits" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "sessions_topic_length" CHECK (char_length("sessions"."topic") between 1 and 1000),
	CONSTRAINT "sessions_max_rounds_positive" CHECK ("sessions"."max_rounds" > 0),
	CONSTRAINT "sessions_current_round_nonnegative" CHECK ("sessions"."current_round" >= 0),
	CONSTRAINT "sessions_stop_reason_when_ended" CHECK (("sessions"."status" in ('created', 'running')) = ("sessions"."stop_reason" is null))
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" serial PRIMARY KEY NOT NULL,
	"telegram_id" bigint NOT NULL,
	"username" text,
	"language_code" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_telegram_id_unique" UNIQUE("telegram_id")
);
--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_participant_id_session_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."session_participants"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "providers" ADD CONSTRAINT "providers_default_personality_id_personalities_id_fk" FOREIGN KEY ("default_personality_id") REFERENCES "public"."personalities"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_participants" ADD CONSTRAINT "session_participants_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_participants" ADD CONSTRAINT "session_participants_provider_id_providers_id_fk" FOREIGN KEY ("provider_id") REFERENCES "public"."providers"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_participants" ADD CONSTRAINT "session_participants_personality_id_personalities_id_fk" FOREIGN KEY ("personality_id") REFERENCES "public"."personalities"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_logs_created_idx" ON "audit_logs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "messages_delivery_idx" ON "messages" USING btree ("delivery_status","session_id");--> statement-breakpoint
CREATE INDEX "providers_order_idx" ON "providers" USING btree ("order_index");--> statement-breakpoint
CREATE INDEX "sessions_status_idx" ON "sessions" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "sessions_chat_idx" ON "sessions" USING btree ("chat_id","status");--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" USING btree ("user_id");