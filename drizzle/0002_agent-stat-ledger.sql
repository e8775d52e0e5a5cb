CREATE TABLE "agent_stat_deltas" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"agent_id" uuid NOT NULL,
	"cfps" integer DEFAULT 0 NOT NULL,
	"proposals" integer DEFAULT 0 NOT NULL,
	"refusals" integer DEFAULT 0 NOT NULL,
	"no_replies" integer DEFAULT 0 NOT NULL,
	"awards" integer DEFAULT 0 NOT NULL,
	"completions" integer DEFAULT 0 NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "agent_stat_deltas_agent_idx" ON "agent_stat_deltas" USING btree ("agent_id");