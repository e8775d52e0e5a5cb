ALTER TABLE "tasks" ADD COLUMN "parent_id" uuid;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "parent_award_id" uuid;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "parent_agent_id" uuid;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "children" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
CREATE INDEX "tasks_parent_award_idx" ON "tasks" USING btree ("parent_award_id") WHERE "tasks"."parent_award_id" is not null;