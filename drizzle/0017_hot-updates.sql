ALTER TABLE "awards" DROP CONSTRAINT "awards_agent_id_agents_id_fk";
--> statement-breakpoint
ALTER TABLE "bids" DROP CONSTRAINT "bids_agent_id_agents_id_fk";
--> statement-breakpoint
DROP INDEX "agent_stat_deltas_agent_idx";--> statement-breakpoint
DROP INDEX "awards_due_idx";--> statement-breakpoint
DROP INDEX "tasks_state_idx";--> statement-breakpoint
DROP INDEX "tasks_waiting_owner_idx";--> statement-breakpoint
DROP INDEX "awards_one_live_per_task";--> statement-breakpoint
DROP INDEX "awards_one_completed_per_task";--> statement-breakpoint
DROP INDEX "awards_watch_idx";--> statement-breakpoint
DROP INDEX "events_agent_idx";--> statement-breakpoint
DROP INDEX "tasks_idempotency_key_key";--> statement-breakpoint
DROP INDEX "tasks_queue_idx";--> statement-breakpoint
DROP INDEX "tasks_next_auction_idx";--> statement-breakpoint
DROP INDEX "tasks_round_lease_idx";--> statement-breakpoint
DROP INDEX "tasks_deadline_idx";--> statement-breakpoint
ALTER TABLE "awards" ADD COLUMN "live" boolean GENERATED ALWAYS AS (status in ('offered','agreed')) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "awards" ADD COLUMN "completed" boolean GENERATED ALWAYS AS (status = 'completed') STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "live" boolean GENERATED ALWAYS AS (state not in ('completed','failed','cancelled')) STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "tasks_live_owner_idx" ON "tasks" USING btree ("callback_key") WHERE "tasks"."live";--> statement-breakpoint
CREATE UNIQUE INDEX "awards_one_live_per_task" ON "awards" USING btree ("task_id") WHERE "awards"."live";--> statement-breakpoint
CREATE UNIQUE INDEX "awards_one_completed_per_task" ON "awards" USING btree ("task_id") WHERE "awards"."completed";--> statement-breakpoint
CREATE INDEX "awards_watch_idx" ON "awards" USING btree ("watch_lease_until") WHERE "awards"."remote_task_id" is not null and "awards"."live";--> statement-breakpoint
CREATE INDEX "events_agent_idx" ON "events" USING btree ("agent_id","id") WHERE "events"."agent_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_idempotency_key_key" ON "tasks" USING btree ("idempotency_key") WHERE "tasks"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "tasks_queue_idx" ON "tasks" USING btree ("capability","priority" DESC NULLS LAST,"created_at") WHERE "tasks"."next_auction_at" is not null and "tasks"."live";--> statement-breakpoint
CREATE INDEX "tasks_next_auction_idx" ON "tasks" USING btree ("next_auction_at") WHERE "tasks"."next_auction_at" is not null and "tasks"."live";--> statement-breakpoint
CREATE INDEX "tasks_round_lease_idx" ON "tasks" USING btree ("round_lease_until") WHERE "tasks"."live";--> statement-breakpoint
CREATE INDEX "tasks_deadline_idx" ON "tasks" USING btree ("deadline") WHERE "tasks"."deadline" is not null and "tasks"."live";--> statement-breakpoint
-- Room on each page for a row's next versions, so an update that changes no indexed column is HOT.
ALTER TABLE "tasks" SET (fillfactor = 70);--> statement-breakpoint
ALTER TABLE "awards" SET (fillfactor = 70);--> statement-breakpoint
ALTER TABLE "bids" SET (fillfactor = 70);
