import { z } from 'zod';
import { STOPWORDS, words } from './text.ts';

export const KeywordsInput = z
  .object({
    text: z.string().min(1, 'text must not be empty').max(1_000_000),
    top: z.number().int().min(1).max(100).default(5),
  })
  // An example the manager's card and the dashboard's form show.
  .meta({ examples: [{ text: 'Agents bid for work. The best bid wins.', top: 3 }] });
export type KeywordsInput = z.infer<typeof KeywordsInput>;

/**
 * Keywords by term frequency over content words, weighted up for longer words (which tend to
 * carry the topic); ties go to the word seen first.
 */
export function keywords(input: KeywordsInput): { keywords: { word: string; count: number }[] } {
  const counts = new Map<string, { count: number; first: number }>();
  words(input.text).forEach((w, i) => {
    if (STOPWORDS.has(w) || w.length < 3 || /^\d+$/.test(w)) return;
    const c = counts.get(w);
    if (c) c.count++;
    else counts.set(w, { count: 1, first: i });
  });
  const ranked = [...counts.entries()]
    .map(([word, c]) => ({ word, count: c.count, first: c.first, score: c.count * Math.log2(word.length) }))
    .sort((a, b) => b.score - a.score || a.first - b.first)
    .slice(0, input.top);
  return { keywords: ranked.map(({ word, count }) => ({ word, count })) };
}
