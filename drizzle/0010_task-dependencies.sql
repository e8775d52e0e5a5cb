ALTER TYPE "public"."task_state" ADD VALUE 'waiting' BEFORE 'pending';--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "depends_on" uuid[];--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "dependency_outputs" jsonb;