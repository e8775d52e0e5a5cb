CREATE TYPE "public"."agent_status" AS ENUM('active', 'draining', 'deregistered');--> statement-breakpoint
CREATE TYPE "public"."award_status" AS ENUM('offered', 'agreed', 'completed', 'failed', 'refused', 'expired', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."task_state" AS ENUM('pending', 'bidding', 'awarded', 'queued', 'completed', 'failed', 'cancelled');--> statement-breakpoint
CREATE TABLE "agents" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"endpoint" text NOT NULL,
	"capabilities" jsonb NOT NULL,
	"capability_names" text[] NOT NULL,
	"max_concurrency" integer NOT NULL,
	"description" text,
	"status" "agent_status" DEFAULT 'active' NOT NULL,
	"token_hash" text NOT NULL,
	"running" integer DEFAULT 0 NOT NULL,
	"last_heartbeat_at" timestamp with time zone,
	"cfps" integer DEFAULT 0 NOT NULL,
	"proposals" integer DEFAULT 0 NOT NULL,
	"refusals" integer DEFAULT 0 NOT NULL,
	"no_replies" integer DEFAULT 0 NOT NULL,
	"awards" integer DEFAULT 0 NOT NULL,
	"completions" integer DEFAULT 0 NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "awards" (
	"id" uuid PRIMARY KEY NOT NULL,
	"task_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"round" integer NOT NULL,
	"bid_id" uuid,
	"kind" text NOT NULL,
	"cost" double precision,
	"eta_ms" integer,
	"status" "award_status" DEFAULT 'offered' NOT NULL,
	"awarded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"output" jsonb,
	"reason" text,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "bids" (
	"id" uuid PRIMARY KEY NOT NULL,
	"task_id" uuid NOT NULL,
	"round" integer NOT NULL,
	"agent_id" uuid NOT NULL,
	"type" text NOT NULL,
	"cost" double precision,
	"eta_ms" integer,
	"confidence" double precision,
	"reason" text,
	"outcome" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"task_id" uuid,
	"agent_id" uuid,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"capability" text NOT NULL,
	"input" jsonb NOT NULL,
	"budget" double precision,
	"deadline" timestamp with time zone,
	"bid_window_ms" integer NOT NULL,
	"max_attempts" integer NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"weights" jsonb NOT NULL,
	"callback_url" text,
	"state" "task_state" DEFAULT 'pending' NOT NULL,
	"round" integer DEFAULT 0 NOT NULL,
	"reply_by" timestamp with time zone,
	"round_owner" text,
	"round_lease_until" timestamp with time zone,
	"award_id" uuid,
	"excluded_agents" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"queued_reason" text,
	"requeues" integer DEFAULT 0 NOT NULL,
	"next_auction_at" timestamp with time zone,
	"output" jsonb,
	"error" jsonb,
	"idempotency_key" text,
	"request_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "awards" ADD CONSTRAINT "awards_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "awards" ADD CONSTRAINT "awards_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bids" ADD CONSTRAINT "bids_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bids" ADD CONSTRAINT "bids_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "agents_name_key" ON "agents" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "agents_token_hash_key" ON "agents" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "agents_capability_names_idx" ON "agents" USING gin ("capability_names");--> statement-breakpoint
CREATE UNIQUE INDEX "awards_one_live_per_task" ON "awards" USING btree ("task_id") WHERE "awards"."status" in ('offered','agreed');--> statement-breakpoint
CREATE UNIQUE INDEX "awards_one_completed_per_task" ON "awards" USING btree ("task_id") WHERE "awards"."status" = 'completed';--> statement-breakpoint
CREATE INDEX "awards_due_idx" ON "awards" USING btree ("due_at") WHERE "awards"."status" in ('offered','agreed');--> statement-breakpoint
CREATE INDEX "awards_agent_idx" ON "awards" USING btree ("agent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "bids_task_round_agent_key" ON "bids" USING btree ("task_id","round","agent_id");--> statement-breakpoint
CREATE INDEX "events_task_idx" ON "events" USING btree ("task_id","id");--> statement-breakpoint
CREATE INDEX "events_agent_idx" ON "events" USING btree ("agent_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_idempotency_key_key" ON "tasks" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "tasks_state_idx" ON "tasks" USING btree ("state","id");--> statement-breakpoint
CREATE INDEX "tasks_capability_idx" ON "tasks" USING btree ("capability","id");--> statement-breakpoint
CREATE INDEX "tasks_queue_idx" ON "tasks" USING btree ("capability","priority" DESC NULLS LAST,"created_at") WHERE "tasks"."state" = 'queued';--> statement-breakpoint
CREATE INDEX "tasks_round_lease_idx" ON "tasks" USING btree ("round_lease_until") WHERE "tasks"."state" = 'bidding';--> statement-breakpoint
CREATE INDEX "tasks_deadline_idx" ON "tasks" USING btree ("deadline") WHERE "tasks"."deadline" is not null and "tasks"."state" in ('pending','bidding','awarded','queued');