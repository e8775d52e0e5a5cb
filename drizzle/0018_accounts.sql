CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"balance" bigint DEFAULT 0 NOT NULL,
	"earned" bigint DEFAULT 0 NOT NULL,
	"refunded" bigint DEFAULT 0 NOT NULL,
	"max_per_task" bigint,
	"max_per_day" bigint,
	"day" date,
	"day_held" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger_entries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"movement_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"account_id" text NOT NULL,
	"counterparty" text NOT NULL,
	"task_id" uuid,
	"award_id" uuid,
	"epoch" integer DEFAULT 0 NOT NULL,
	"amount" bigint NOT NULL,
	"memo" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "payer" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "held" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "holds" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "paid" bigint;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "refunded" bigint;--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_entries_movement_key" ON "ledger_entries" USING btree ("task_id",coalesce("award_id", '00000000-0000-0000-0000-000000000000'::uuid),"kind","epoch","account_id") WHERE "ledger_entries"."task_id" is not null;--> statement-breakpoint
CREATE INDEX "ledger_entries_account_idx" ON "ledger_entries" USING btree ("account_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_entries_admin_movement_key" ON "ledger_entries" USING btree ("movement_id","account_id") WHERE "ledger_entries"."task_id" is null;--> statement-breakpoint
-- The ledger's rules (ACCOUNTS=true), in the database so that every statement that changes a
-- task moves its money in the same statement: no path can forget to, and no crash can part the
-- two. A task submitted without accounts has no payer and none of this runs for it.

-- One movement: two entries that sum to zero, and the balances of the accounts they touch (a
-- task's escrow, `escrow:<id>`, has no row: its balance is the sum of its entries).
CREATE FUNCTION ledger_move(p_kind text, p_task uuid, p_award uuid, p_epoch int, p_from text, p_to text,
  p_amount bigint, p_memo text DEFAULT NULL, p_movement uuid DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  m uuid := coalesce(p_movement, gen_random_uuid());
BEGIN
  IF p_amount = 0 THEN RETURN; END IF;
  IF p_amount < 0 THEN
    RAISE EXCEPTION 'ledger: a % of % from % to % is negative', p_kind, p_amount, p_from, p_to;
  END IF;
  INSERT INTO ledger_entries (movement_id, kind, account_id, counterparty, task_id, award_id, epoch, amount, memo)
  VALUES (m, p_kind, p_from, p_to, p_task, p_award, p_epoch, -p_amount, p_memo),
         (m, p_kind, p_to, p_from, p_task, p_award, p_epoch, p_amount, p_memo);
  IF p_from NOT LIKE 'escrow:%' THEN
    INSERT INTO accounts AS a (id, kind, balance)
    VALUES (p_from, ledger_account_kind(p_from), -p_amount)
    ON CONFLICT (id) DO UPDATE SET balance = a.balance - p_amount, updated_at = now();
  END IF;
  IF p_to NOT LIKE 'escrow:%' THEN
    INSERT INTO accounts AS a (id, kind, balance, earned, refunded)
    VALUES (p_to, ledger_account_kind(p_to), p_amount,
      CASE WHEN p_kind = 'pay' THEN p_amount ELSE 0 END, CASE WHEN p_kind = 'release' THEN p_amount ELSE 0 END)
    ON CONFLICT (id) DO UPDATE SET balance = a.balance + p_amount,
      earned = a.earned + excluded.earned, refunded = a.refunded + excluded.refunded, updated_at = now();
  END IF;
END $$;
--> statement-breakpoint
CREATE FUNCTION ledger_account_kind(p_id text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_id LIKE 'agent:%' THEN 'agent' WHEN p_id = 'issuance' THEN 'system' ELSE 'client' END
$$;
--> statement-breakpoint
-- What the subtasks of award `p_award` on task `p_task` drew from its escrow and kept (held or
-- spent): the part of the holder's earnings already committed. A subtask's hold and release
-- carry the parent award they draw on, so this reads the parent's escrow alone (a few entries).
CREATE FUNCTION ledger_drawn(p_task uuid, p_award uuid) RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(-sum(amount), 0)::bigint FROM ledger_entries
  WHERE account_id = 'escrow:' || p_task AND award_id = p_award AND kind IN ('hold', 'release')
$$;
--> statement-breakpoint
-- A task's budget into its escrow: from the payer's account (a root task), or from the parent's
-- escrow within the holder's pending earnings on the parent award (a subtask). Not enough:
-- SQLSTATE CN001 (402 insufficient_funds); over one of the account's limits: CN002 (402).
CREATE FUNCTION ledger_hold(t tasks) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  b bigint := coalesce(t.budget, 0)::bigint;
  a accounts;
  p tasks;
  earnings bigint;
  drawn bigint;
  today date := (now() AT TIME ZONE 'UTC')::date;
  used bigint;
BEGIN
  IF t.parent_id IS NOT NULL THEN
    SELECT * INTO p FROM tasks WHERE id = t.parent_id FOR UPDATE;
    IF p.state <> 'awarded' OR p.award_id IS DISTINCT FROM t.parent_award_id THEN
      RAISE EXCEPTION USING ERRCODE = 'CN001',
        MESSAGE = 'the parent award has ended: there are no pending earnings to hold this subtask''s budget from';
    END IF;
    SELECT coalesce(cost, 0)::bigint INTO earnings FROM awards WHERE id = t.parent_award_id;
    drawn := ledger_drawn(p.id, t.parent_award_id);
    IF drawn + b > earnings THEN
      RAISE EXCEPTION USING ERRCODE = 'CN001',
        MESSAGE = format('the parent award''s pending earnings are %s (its cost %s less %s its subtasks drew); the budget needs %s',
          earnings - drawn, earnings, drawn, b);
    END IF;
    PERFORM ledger_move('hold', t.id, t.parent_award_id, t.holds, 'escrow:' || p.id, 'escrow:' || t.id, b);
  ELSE
    SELECT * INTO a FROM accounts WHERE id = t.payer FOR UPDATE;
    IF a.max_per_task IS NOT NULL AND b > a.max_per_task THEN
      RAISE EXCEPTION USING ERRCODE = 'CN002', MESSAGE = format(
        'the budget %s is over the account''s maxPerTask (%s)', b, a.max_per_task);
    END IF;
    used := CASE WHEN a.day = today THEN a.day_held ELSE 0 END;
    IF a.max_per_day IS NOT NULL AND used + b > a.max_per_day THEN
      RAISE EXCEPTION USING ERRCODE = 'CN002', MESSAGE = format(
        'the budget %s would take today''s holds over the account''s maxPerDay (%s held of %s)', b, used, a.max_per_day);
    END IF;
    IF coalesce(a.balance, 0) < b THEN
      RAISE EXCEPTION USING ERRCODE = 'CN001', MESSAGE = format(
        'the account %s has %s available; the budget needs %s', t.payer, coalesce(a.balance, 0), b);
    END IF;
    IF b > 0 THEN
      UPDATE accounts SET day = today, day_held = used + b WHERE id = t.payer;
    END IF;
    PERFORM ledger_move('hold', t.id, NULL, t.holds, t.payer, 'escrow:' || t.id, b);
  END IF;
  IF b > 0 THEN
    INSERT INTO events (task_id, agent_id, type, data) VALUES (t.id, NULL, 'ledger.held', jsonb_build_object(
      'amount', b, 'from', CASE WHEN t.parent_id IS NULL THEN t.payer ELSE 'escrow:' || t.parent_id END));
  END IF;
END $$;
--> statement-breakpoint
CREATE FUNCTION tasks_ledger_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ledger_hold(NEW);
  RETURN NULL;
END $$;
--> statement-breakpoint
-- After the insert (so a submission whose idempotency key was taken, and inserts nothing, holds nothing).
CREATE TRIGGER tasks_ledger_insert AFTER INSERT ON tasks FOR EACH ROW
  WHEN (NEW.payer IS NOT NULL) EXECUTE FUNCTION tasks_ledger_insert();
--> statement-breakpoint
-- A task's state or award changes: an award that ends without a result gives back what its
-- subtasks drew (from its holder); a retried task is held again; a task that ends pays its
-- award's cost less what the award's subtasks drew (completed) and releases what its escrow still
-- holds: to the payer, or to the parent's escrow while the parent award it was drawn from is live.
CREATE FUNCTION tasks_ledger_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  holder uuid;
  cost bigint;
  drawn bigint;
  pay bigint;
  rest bigint;
  back text;
  p tasks;
BEGIN
  IF OLD.state = 'awarded' AND NEW.state <> 'completed'
     AND (NEW.state <> 'awarded' OR NEW.award_id IS DISTINCT FROM OLD.award_id) THEN
    drawn := ledger_drawn(NEW.id, OLD.award_id);
    IF drawn > 0 THEN
      SELECT agent_id INTO holder FROM awards WHERE id = OLD.award_id;
      PERFORM ledger_move('recoup', NEW.id, OLD.award_id, NEW.holds, 'agent:' || holder, 'escrow:' || NEW.id, drawn);
      INSERT INTO events (task_id, agent_id, type, data) VALUES (NEW.id, holder, 'ledger.recouped',
        jsonb_build_object('amount', drawn, 'from', 'agent:' || holder, 'awardId', OLD.award_id));
    END IF;
  END IF;
  IF OLD.state = 'failed' AND NEW.state = 'pending' THEN
    NEW.holds := OLD.holds + 1;
    NEW.held := coalesce(NEW.budget, 0)::bigint;
    NEW.paid := NULL;
    NEW.refunded := NULL;
    PERFORM ledger_hold(NEW);
  END IF;
  IF OLD.state NOT IN ('completed', 'failed', 'cancelled') AND NEW.state IN ('completed', 'failed', 'cancelled') THEN
    NEW.paid := 0;
    IF NEW.state = 'completed' THEN
      SELECT agent_id, coalesce(a.cost, NEW.budget, 0)::bigint INTO holder, cost FROM awards a WHERE id = NEW.award_id;
      pay := cost - ledger_drawn(NEW.id, NEW.award_id);
      PERFORM ledger_move('pay', NEW.id, NEW.award_id, NEW.holds, 'escrow:' || NEW.id, 'agent:' || holder, pay);
      IF pay > 0 THEN
        INSERT INTO events (task_id, agent_id, type, data) VALUES (NEW.id, holder, 'ledger.paid',
          jsonb_build_object('amount', pay, 'to', 'agent:' || holder, 'awardId', NEW.award_id, 'cost', cost));
      END IF;
      NEW.paid := cost;
    END IF;
    back := NEW.payer;
    IF NEW.parent_id IS NOT NULL THEN
      SELECT * INTO p FROM tasks WHERE id = NEW.parent_id FOR UPDATE;
      IF p.state = 'awarded' AND p.award_id = NEW.parent_award_id THEN
        back := 'escrow:' || p.id;
      END IF;
    END IF;
    SELECT coalesce(sum(amount), 0)::bigint INTO rest FROM ledger_entries WHERE account_id = 'escrow:' || NEW.id;
    PERFORM ledger_move('release', NEW.id, NEW.parent_award_id, NEW.holds, 'escrow:' || NEW.id, back, rest);
    IF rest > 0 THEN
      INSERT INTO events (task_id, agent_id, type, data) VALUES (NEW.id, NULL, 'ledger.released',
        jsonb_build_object('amount', rest, 'to', back));
    END IF;
    NEW.refunded := rest;
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER tasks_ledger_update BEFORE UPDATE OF state, award_id ON tasks FOR EACH ROW
  WHEN (NEW.payer IS NOT NULL AND (OLD.state IS DISTINCT FROM NEW.state OR OLD.award_id IS DISTINCT FROM NEW.award_id))
  EXECUTE FUNCTION tasks_ledger_update();
