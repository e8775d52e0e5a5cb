ALTER TABLE "agent_stat_deltas" ALTER COLUMN "agent_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_stat_deltas" ADD COLUMN "batch" jsonb;