ALTER TABLE "tasks" ADD COLUMN "callback_key" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "callback_due_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "callback_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "tasks_callback_due_idx" ON "tasks" USING btree ("callback_due_at") WHERE "tasks"."callback_due_at" is not null;