import { z } from 'zod';
import { STOPWORDS, words } from './text.ts';

export const SummarizeInput = z
  .object({
    text: z.string().min(1, 'text must not be empty').max(1_000_000),
    sentences: z.number().int().min(1).max(50).default(2),
  })
  // An example the manager's card and the dashboard's form show.
  .meta({
    examples: [
      { text: 'Agents bid for work. The best bid wins. Failed work is auctioned again.', sentences: 1 },
    ],
  });
export type SummarizeInput = z.infer<typeof SummarizeInput>;

/** Splits prose into sentences, keeping their order. */
export function sentencesOf(text: string): string[] {
  return (text.replace(/\s+/g, ' ').match(/[^.!?]+[.!?]+["')\]]*|[^.!?]+$/g) ?? [])
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Extractive summary: scores each sentence by the document frequency of its content words
 * (normalised by length) and keeps the best ones in their original order.
 */
export function summarize(input: SummarizeInput): { summary: string; sentences: number; of: number } {
  const all = sentencesOf(input.text);
  const freq = new Map<string, number>();
  for (const w of words(input.text)) if (!STOPWORDS.has(w)) freq.set(w, (freq.get(w) ?? 0) + 1);
  const scored = all.map((s, i) => {
    const ws = words(s).filter((w) => !STOPWORDS.has(w));
    const score = ws.reduce((sum, w) => sum + (freq.get(w) ?? 0), 0) / Math.max(1, Math.sqrt(ws.length));
    return { s, i, score };
  });
  const keep = [...scored]
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, input.sentences)
    .sort((a, b) => a.i - b.i);
  return { summary: keep.map((k) => k.s).join(' '), sentences: keep.length, of: all.length };
}
