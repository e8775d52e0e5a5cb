import { createRequire } from 'node:module';
import type * as MathJs from 'mathjs';
import { z } from 'zod';

/** A unit name as mathjs knows them (`km`, `mile`, `degC`, `kWh`, `lb`...). */
const UnitName = z.string().regex(/^[A-Za-z][A-Za-z0-9^/ ]{0,31}$/, 'must be a unit name such as km or degC');

export const ConvertInput = z
  .object({
    value: z.number().finite(),
    from: UnitName,
    to: UnitName,
  })
  // An example the manager's card and the dashboard's form show.
  .meta({ examples: [{ value: 5, from: 'km', to: 'mile' }] });
export type ConvertInput = z.infer<typeof ConvertInput>;

export const ConvertOutput = z.object({ value: z.number(), unit: z.string(), text: z.string() });

let units: typeof MathJs.unit | undefined;

/** Converts a quantity between units with mathjs's unit system (never evaluating an expression). */
export function convertUnits(input: ConvertInput): z.infer<typeof ConvertOutput> {
  units ??= (createRequire(import.meta.url)('mathjs') as typeof MathJs).unit;
  let converted: MathJs.Unit;
  try {
    converted = units(input.value, input.from).to(input.to);
  } catch (err) {
    throw new Error(`cannot convert ${input.from} to ${input.to}: ${(err as Error).message}`);
  }
  const value = Number(converted.toNumber(input.to).toPrecision(12));
  return { value, unit: input.to, text: `${input.value} ${input.from} = ${value} ${input.to}` };
}
