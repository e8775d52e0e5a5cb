import { z } from 'zod';
import type { WorkContext } from '../src/sdk/index.ts';
import { CsvInput, csvStats } from './work/csv-stats.ts';
import { HashInput, hashText } from './work/hash.ts';
import { KeywordsInput, keywords } from './work/keywords.ts';
import { evaluateExpression, MathInput } from './work/math-evaluate.ts';
import { ReportInput, report } from './work/report.ts';
import { SummarizeInput, summarize } from './work/summarize.ts';

/** One capability the sample agents offer: its input and output schemas, its work, and how big a job is. */
export type CapabilityImpl = {
  description: string;
  input: z.ZodType;
  /** What the work returns: published, so the manager refuses an output that breaks it. */
  output: z.ZodType;
  /** The work; `ctx` lets it subcontract parts through the market. */
  run(input: never, ctx: Pick<WorkContext, 'subcontract' | 'cost'>): unknown;
  /** The job's size for pricing (characters, cells, ...). */
  size(input: never): number;
  /** Loads what the work needs, so an agent pays for it at start and not in its first job. */
  warmUp?(): void;
};

const impl = <S extends z.ZodType>(c: {
  description: string;
  input: S;
  output: z.ZodType;
  run(input: z.infer<S>, ctx: Pick<WorkContext, 'subcontract' | 'cost'>): unknown;
  size(input: z.infer<S>): number;
  warmUp?(): void;
}): CapabilityImpl => c as unknown as CapabilityImpl;

/** Every capability with a real implementation. */
export const CAPABILITIES = {
  'text.summarize': impl({
    description: 'extractive summary: the sentences most about the text’s topic',
    input: SummarizeInput,
    output: z.object({ summary: z.string(), sentences: z.int().min(0), of: z.int().min(0) }),
    run: summarize,
    size: (i) => i.text.length / 100,
  }),
  'text.keywords': impl({
    description: 'the most frequent content words',
    input: KeywordsInput,
    output: z.object({ keywords: z.array(z.object({ word: z.string(), count: z.int().min(1) })) }),
    run: keywords,
    size: (i) => i.text.length / 100,
  }),
  'math.evaluate': impl({
    description: 'evaluates an arithmetic expression with mathjs, never eval',
    input: MathInput,
    output: z.object({ result: z.union([z.number(), z.string()]) }),
    run: evaluateExpression,
    size: (i) => i.expression.length / 10,
    warmUp: () => void evaluateExpression({ expression: '1 + 1' }),
  }),
  'data.csv-stats': impl({
    description: 'parses CSV and describes every column',
    input: CsvInput,
    output: z.object({
      rows: z.int().min(0),
      columns: z.array(
        z.looseObject({ column: z.string(), type: z.enum(['number', 'text']), count: z.int() }),
      ),
    }),
    run: csvStats,
    size: (i) => i.csv.length / 50,
  }),
  'text.report': impl({
    description: 'a summary and keywords of a text, subcontracted to other agents and merged',
    input: ReportInput,
    output: z.object({ summary: z.string(), keywords: z.array(z.string()) }),
    run: report,
    size: (i) => i.text.length / 50,
  }),
  'crypto.hash': impl({
    description: 'sha256/sha512/sha1/md5/sha3-256/blake2b512 digest of a text',
    input: HashInput,
    output: z.object({ algorithm: z.string(), digest: z.string(), bytes: z.int().min(0) }),
    run: hashText,
    size: (i) => i.text.length / 10_000,
  }),
} satisfies Record<string, CapabilityImpl>;

export type CapabilityName = keyof typeof CAPABILITIES;
