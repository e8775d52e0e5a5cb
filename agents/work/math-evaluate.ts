import { all, create } from 'mathjs';
import { z } from 'zod';

export const MathInput = z.object({
  expression: z.string().min(1, 'expression must not be empty').max(10_000),
  scope: z.record(z.string(), z.number()).optional(),
});
export type MathInput = z.infer<typeof MathInput>;

const math = create(all!);
const limitedEvaluate = math.evaluate.bind(math);
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

/** Evaluates an arithmetic expression with mathjs (never JavaScript's eval); the result as a number or string. */
export function evaluateExpression(input: MathInput): { result: number | string } {
  const value: unknown = limitedEvaluate(input.expression, { ...input.scope });
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`the expression does not have a finite value (${value})`);
    return { result: value };
  }
  if (value === undefined || typeof value === 'function') throw new Error('the expression has no value');
  return { result: math.format(value as never, { precision: 14 }) };
}
