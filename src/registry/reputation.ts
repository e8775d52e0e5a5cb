/**
 * An agent's reputation in 0..1: the mean of a Beta(1 + completions, 1 + failures) posterior,
 * so a new agent starts at 0.5 and one bad outcome does not sink a long good record.
 */
export function reputation(completions: number, failures: number): number {
  return (completions + 1) / (completions + failures + 2);
}
