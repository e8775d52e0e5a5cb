import { z } from 'zod';
import type { WorkContext } from '../../src/sdk/index.ts';

export const ReportInput = z
  .object({
    text: z.string().min(1, 'text must not be empty').max(1_000_000),
    sentences: z.number().int().min(1).max(20).default(2),
    keywords: z.number().int().min(1).max(50).default(5),
  })
  // An example the manager's card and the dashboard's form show.
  .meta({
    examples: [{ text: 'Agents bid for work. The best bid wins. Winners may buy parts of the work.' }],
  });
export type ReportInput = z.infer<typeof ReportInput>;

/**
 * A report of a text, made by subcontracting: a summary and the keywords are two subtasks
 * auctioned through the same market (this agent is never invited to them), run at once, and
 * merged. Cancelling the report cancels both.
 */
export async function report(input: ReportInput, ctx: Pick<WorkContext, 'subcontract' | 'cost'>) {
  // The two parts share what the report is paid: their budgets together stay within it.
  const budget = ctx.cost ? ctx.cost / 2 : undefined;
  const [summary, keywords] = (await Promise.all([
    ctx.subcontract('text.summarize', { text: input.text, sentences: input.sentences }, { budget }),
    ctx.subcontract('text.keywords', { text: input.text, top: input.keywords }, { budget }),
  ])) as [{ summary: string }, { keywords: { word: string }[] }];
  return { summary: summary.summary, keywords: keywords.keywords.map((k) => k.word) };
}
