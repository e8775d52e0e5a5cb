import { z } from 'zod';
import { JsonSchema } from './json-schema.ts';

/** One schema on offer for a capability, and how many of its agents publish it. */
export const OfferedSchema = z.object({
  inputSchema: JsonSchema.nullable(),
  outputSchema: JsonSchema.nullable(),
  agents: z.number().int(),
});

/** A capability in the catalogue: what it is, what it takes, who offers it, what it has cost lately. */
export const CatalogueEntry = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    tags: z.array(z.string()),
    /** The distinct schemas its agents publish (an agent without one takes any input). */
    schemas: z.array(OfferedSchema),
    /** Active agents offering it, and those of them reachable now (heard from, circuit not open here). */
    agents: z.number().int(),
    reachable: z.number().int(),
    /** Over its recent awards (the last RECENT_AWARDS in the market): what they cost and took. */
    recent: z.object({
      awards: z.number().int(),
      medianCost: z.number().nullable(),
      medianEtaMs: z.number().nullable(),
      /** Completed over ended (completed, failed, expired); null before any ended. */
      completionRate: z.number().min(0).max(1).nullable(),
    }),
  })
  .meta({ id: 'CatalogueEntry' });
export type CatalogueEntry = z.infer<typeof CatalogueEntry>;

export const Catalogue = z.object({ items: z.array(CatalogueEntry) }).meta({ id: 'Catalogue' });
export type Catalogue = z.infer<typeof Catalogue>;
