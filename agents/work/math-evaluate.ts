import { createRequire } from 'node:module';
import type * as MathJs from 'mathjs';
import { z } from 'zod';

export const MathInput = z
  .object({
    expression: z.string().min(1, 'expression must not be empty').max(10_000),
    scope: z.record(z.string(), z.number()).optional(),
  })
  // An example the manager's card and the dashboard's form show.
  .meta({ examples: [{ expression: '2 * (3 + 4)' }] });
export type MathInput = z.infer<typeof MathInput>;

/**
 * The mathjs instance, made on first use: creating it costs about half a second of CPU, which
 * every process that merely imports the sample agents (the CLI, agents of other kinds) would pay.
 */
let instance: { math: MathJs.MathJsInstance; evaluate: (expr: string, scope: object) => unknown } | undefined;
function mathjs() {
  if (instance) return instance;
  // Loaded here, not imported: importing mathjs already builds its default instance.
  const { all, create } = createRequire(import.meta.url)('mathjs') as typeof MathJs;
  const math = create(all!);
  const evaluate = math.evaluate.bind(math);
  // mathjs's own guidance for untrusted expressions: take away the functions that change the
  // instance or parse further input from inside an expression.
  const disabled = (name: string) => () => {
    throw new Error(`function ${name} is disabled`);
  };
  math.import(
    Object.fromEntries(
      ['import', 'createUnit', 'evaluate', 'parse', 'simplify', 'derivative', 'resolve'].map((n) => [
        n,
        disabled(n),
      ]),
    ),
    { override: true },
  );
  instance = { math, evaluate };
  return instance;
}

/** Evaluates an arithmetic expression with mathjs (never JavaScript's eval); the result as a number or string. */
export function evaluateExpression(input: MathInput): { result: number | string } {
  const { math, evaluate } = mathjs();
  const value: unknown = evaluate(input.expression, { ...input.scope });
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`the expression does not have a finite value (${value})`);
    return { result: value };
  }
  if (value === undefined || typeof value === 'function') throw new Error('the expression has no value');
  return { result: math.format(value as never, { precision: 14 }) };
}
