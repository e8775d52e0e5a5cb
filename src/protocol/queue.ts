import { z } from 'zod';
import { CapabilityName, Timestamp } from './common.ts';
import { TaskSpec } from './messages.ts';

export const ClaimRequest = z
  .object({
    capabilities: z.array(CapabilityName).min(1).max(256),
    limit: z.number().int().min(1).max(50).default(1),
    leaseMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  })
  .meta({ id: 'ClaimRequest' });
export type ClaimRequest = z.infer<typeof ClaimRequest>;

export const ClaimedTask = z.object({ task: TaskSpec, awardId: z.uuid(), leaseUntil: Timestamp });
export type ClaimedTask = z.infer<typeof ClaimedTask>;

export const ClaimResponse = z.object({ tasks: z.array(ClaimedTask) }).meta({ id: 'ClaimResponse' });
export type ClaimResponse = z.infer<typeof ClaimResponse>;
