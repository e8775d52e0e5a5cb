DROP INDEX "agents_name_key";--> statement-breakpoint
CREATE UNIQUE INDEX "agents_live_name_key" ON "agents" USING btree ("name") WHERE "agents"."status" <> 'deregistered';