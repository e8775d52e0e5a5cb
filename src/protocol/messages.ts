import { z } from 'zod';
import { AgentText, Id, JsonValue, MAX_INT32, Timestamp } from './common.ts';

/** The part of a task an agent sees in a cfp and an award. */
export const TaskSpec = z.object({
  id: Id,
  capability: z.string(),
  input: JsonValue,
  budget: z.number().nullable(),
  deadline: Timestamp.nullable(),
  priority: z.number().int(),
  /** The outputs of the tasks it depends on, by task id (only for a task with dependsOn). */
  dependencies: z.record(z.string(), JsonValue).optional(),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

/** call-for-proposals: manager -> agent `POST {endpoint}/cfp`. */
export const Cfp = z.object({
  type: z.literal('cfp'),
  conversationId: Id,
  round: z.number().int().min(1),
  replyBy: Timestamp,
  task: TaskSpec,
  /** Iterated rounds: this cfp's iteration (absent: 1), and the leading proposal so far, anonymous. */
  iteration: z.number().int().min(1).optional(),
  best: z.object({ cost: z.number(), etaMs: z.number().int() }).optional(),
});
export type Cfp = z.infer<typeof Cfp>;

export const Proposal = z.object({
  type: z.literal('propose'),
  cost: z.number().min(0).max(1e12),
  etaMs: z
    .number()
    .int()
    .positive()
    .max(7 * 24 * 3600 * 1000),
  /** Recorded and shown; it does not change the ranking (README: how bids are ranked). */
  confidence: z.number().min(0).max(1).optional(),
  /** After this time the proposal is not awarded (outcome `expired`); the next-best valid bid is. */
  validUntil: Timestamp.optional(),
});
export type Proposal = z.infer<typeof Proposal>;

export const Refusal = z.object({ type: z.literal('refuse'), reason: AgentText(500).optional() });
export type Refusal = z.infer<typeof Refusal>;

export const Deferred = z.object({ type: z.literal('deferred') });
export type Deferred = z.infer<typeof Deferred>;

/** What an agent answers to a cfp. */
export const CfpReply = z.discriminatedUnion('type', [Proposal, Refusal, Deferred]);
export type CfpReply = z.infer<typeof CfpReply>;

/** A deferred bid posted to `POST /v1/tasks/{id}/bids` before `replyBy`. */
export const DeferredBid = z
  .discriminatedUnion('type', [
    // Strict, unlike the same answers to a cfp: a bid posted to the API with a field it does not
    // know is refused (422 naming it), while an agent's reply with extras is still understood.
    Proposal.extend({ round: z.number().int().min(1).max(MAX_INT32) }).strict(),
    Refusal.extend({ round: z.number().int().min(1).max(MAX_INT32) }).strict(),
  ])
  .meta({ id: 'DeferredBid' });
export type DeferredBid = z.infer<typeof DeferredBid>;

/** accept-proposal: manager -> winner `POST {endpoint}/award`. */
export const AcceptProposal = z.object({
  type: z.literal('accept-proposal'),
  conversationId: Id,
  round: z.number().int().min(0),
  awardId: Id,
  task: TaskSpec,
  dueAt: Timestamp,
  resultUrl: z.string(),
  /**
   * What the award pays: the accepted bid's cost (null: a claim from the queue). Its holder's
   * subtasks' budgets together stay within it. Absent from managers before it was added.
   */
  cost: z.number().nullable().optional(),
});
export type AcceptProposal = z.infer<typeof AcceptProposal>;

export const Agree = z.object({ type: z.literal('agree') });
export const InformResult = z.object({ type: z.literal('inform-result'), output: JsonValue });
export type InformResult = z.infer<typeof InformResult>;

/** What an agent answers to an award. */
export const AwardReply = z.discriminatedUnion('type', [Agree, InformResult, Refusal]);
export type AwardReply = z.infer<typeof AwardReply>;

export const RejectReason = z.enum([
  'another_bid_accepted',
  'over_budget',
  'misses_deadline',
  'late',
  /** The client cancelled the task while it was being bid on. */
  'cancelled',
  /** The proposal's validUntil passed before it could be awarded. */
  'expired',
  /** Iterated rounds: not among the best proposers the next iteration goes back to. */
  'not_shortlisted',
]);
export type RejectReason = z.infer<typeof RejectReason>;

/** reject-proposal: manager -> losing bidder `POST {endpoint}/reject`, best effort. */
export const RejectProposal = z.object({
  type: z.literal('reject-proposal'),
  conversationId: Id,
  round: z.number().int(),
  reason: RejectReason,
});
export type RejectProposal = z.infer<typeof RejectProposal>;

/** cancel: manager -> holder of an award `POST {endpoint}/cancel`. */
export const Cancel = z.object({ type: z.literal('cancel'), conversationId: Id, awardId: Id });
export type Cancel = z.infer<typeof Cancel>;

/** What the award holder posts to `POST /v1/tasks/{id}/result`. */
export const ResultReport = z
  .discriminatedUnion('type', [
    z.object({ awardId: Id, type: z.literal('inform-result'), output: JsonValue }),
    z.object({ awardId: Id, type: z.literal('failure'), reason: AgentText(2000) }),
  ])
  .meta({ id: 'ResultReport' });
export type ResultReport = z.infer<typeof ResultReport>;

/** The bid outcomes the manager records, one per bid. */
export const BidOutcome = z.enum([
  'pending',
  'ranked',
  'accepted',
  'rejected',
  'over_budget',
  'misses_deadline',
  'late',
  'invalid',
  'refused',
  'no_reply',
  'award_refused',
  'award_failed',
  'expired',
  'not_shortlisted',
]);
export type BidOutcome = z.infer<typeof BidOutcome>;

export const BidRecord = z
  .object({
    id: Id,
    taskId: Id,
    round: z.number().int(),
    /** The iteration of the round its standing proposal came from. */
    iteration: z.number().int(),
    agentId: Id,
    type: z.enum(['propose', 'refuse', 'no_reply', 'invalid']),
    cost: z.number().nullable(),
    etaMs: z.number().int().nullable(),
    confidence: z.number().nullable(),
    validUntil: Timestamp.nullable(),
    reason: z.string().nullable(),
    outcome: BidOutcome,
    receivedAt: Timestamp,
  })
  .meta({ id: 'Bid' });
export type BidRecord = z.infer<typeof BidRecord>;
