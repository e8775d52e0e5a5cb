/**
 * A pipeline stage's input: what the task says, and when it gives no `text`, the text of what
 * its dependencies produced (every string in their outputs, in dependency order). So a summary
 * can feed keywords, and keywords a hash, without the client copying outputs between tasks.
 */
export function inputWithDependencies(
  input: unknown,
  dependencies: Record<string, unknown> | undefined,
): unknown {
  if (!dependencies || typeof input !== 'object' || input === null || Array.isArray(input) || 'text' in input)
    return input;
  const text = Object.values(dependencies).flatMap(stringsOf).join('\n');
  return text ? { ...input, text } : input;
}

function stringsOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return [v.flatMap(stringsOf).join(' ')].filter(Boolean);
  if (typeof v === 'object' && v !== null) return Object.values(v).flatMap(stringsOf);
  return [];
}
