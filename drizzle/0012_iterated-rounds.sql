ALTER TABLE "bids" ADD COLUMN "iteration" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "iterations" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "shortlist" integer DEFAULT 3 NOT NULL;