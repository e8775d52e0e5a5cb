ALTER TYPE "public"."agent_status" ADD VALUE 'inactive';--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "protocol" text DEFAULT 'cnp' NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "standing_offer" jsonb;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "last_seen_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "awards" ADD COLUMN "remote_task_id" text;--> statement-breakpoint
ALTER TABLE "awards" ADD COLUMN "watch_owner" text;--> statement-breakpoint
ALTER TABLE "awards" ADD COLUMN "watch_lease_until" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "awards_watch_idx" ON "awards" USING btree ("watch_lease_until") WHERE "awards"."remote_task_id" is not null and "awards"."status" in ('offered','agreed');