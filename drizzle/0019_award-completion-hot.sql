DROP INDEX "awards_one_live_per_task";--> statement-breakpoint
DROP INDEX "awards_one_completed_per_task";--> statement-breakpoint
DROP INDEX "awards_watch_idx";--> statement-breakpoint
ALTER TABLE "awards" ADD COLUMN "open" boolean GENERATED ALWAYS AS (status in ('offered','agreed','completed')) STORED NOT NULL;--> statement-breakpoint
-- An award that ended clears its watch lease now (the watch index holds live A2A awards only),
-- and a task awarded by a queue claim holds the claim's lease (award expiry finds awarded tasks by
-- their lease): the rows written before this migration are brought in line.
UPDATE "awards" SET "watch_lease_until" = NULL WHERE NOT "live" AND "watch_lease_until" IS NOT NULL;--> statement-breakpoint
UPDATE "tasks" t SET "round_lease_until" = a."due_at" FROM "awards" a
  WHERE a."id" = t."award_id" AND t."live" AND t."state" = 'awarded' AND t."round_lease_until" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "awards_one_open_per_task" ON "awards" USING btree ("task_id") WHERE "awards"."open";--> statement-breakpoint
CREATE INDEX "awards_watch_idx" ON "awards" USING btree ("watch_lease_until") WHERE "awards"."watch_lease_until" is not null;--> statement-breakpoint
-- Its one reader was the one-completed-award index, which the open-award index replaces.
ALTER TABLE "awards" DROP COLUMN "completed";
