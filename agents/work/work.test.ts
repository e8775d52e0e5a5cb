import { describe, expect, it } from 'vitest';
import { CsvInput, csvStats } from './csv-stats.ts';
import { inputWithDependencies } from './dependency-input.ts';
import { HashInput, hashText } from './hash.ts';
import { KeywordsInput, keywords } from './keywords.ts';
import { evaluateExpression, MathInput } from './math-evaluate.ts';
import { SummarizeInput, sentencesOf, summarize } from './summarize.ts';

const ARTICLE = `Solar panels convert sunlight into electricity. The efficiency of solar panels has risen every decade.
Cats sleep for most of the day. Modern solar panels reach over twenty percent efficiency in sunlight.
Installing solar panels lowers electricity bills.`;

describe('text.summarize', () => {
  it("keeps the sentences most about the text's topic, in their order", () => {
    const out = summarize(SummarizeInput.parse({ text: ARTICLE, sentences: 2 }));
    expect(out.of).toBe(5);
    expect(out.sentences).toBe(2);
    expect(out.summary).not.toContain('Cats');
    expect(out.summary).toContain('solar panels');
  });
  it('splits sentences on terminal punctuation', () => {
    expect(sentencesOf('One. Two! Three? Four')).toEqual(['One.', 'Two!', 'Three?', 'Four']);
  });
  it('rejects empty text', () => {
    expect(SummarizeInput.safeParse({ text: '' }).success).toBe(false);
  });
});

describe('text.keywords', () => {
  it('finds the topic words, not the function words', () => {
    const out = keywords(KeywordsInput.parse({ text: ARTICLE, top: 3 }));
    // Equally frequent: the longer word ranks first.
    expect(out.keywords.map((k) => k.word)).toEqual(['panels', 'solar', 'electricity']);
    expect(out.keywords[0]!.count).toBe(4);
  });
});

describe('math.evaluate', () => {
  it('evaluates arithmetic, functions and a scope', () => {
    expect(evaluateExpression(MathInput.parse({ expression: '2 + 3 * 4' }))).toEqual({ result: 14 });
    expect(
      evaluateExpression(MathInput.parse({ expression: 'sqrt(x^2 + y^2)', scope: { x: 3, y: 4 } })),
    ).toEqual({ result: 5 });
    expect(evaluateExpression(MathInput.parse({ expression: '5 cm to inch' })).result).toMatch(/inch/);
  });
  it('refuses what could change or escape the evaluator', () => {
    expect(() => evaluateExpression({ expression: 'import({x: 1})' })).toThrow(/disabled/);
    expect(() => evaluateExpression({ expression: 'evaluate("1+1")' })).toThrow(/disabled/);
    expect(() => evaluateExpression({ expression: 'createUnit("foo")' })).toThrow(/disabled/);
  });
  it('fails cleanly on nonsense and infinities', () => {
    expect(() => evaluateExpression({ expression: '2 +* 3' })).toThrow();
    expect(() => evaluateExpression({ expression: '1/0' })).toThrow(/finite/);
  });
});

describe('data.csv-stats', () => {
  it('describes numeric and text columns', () => {
    const out = csvStats(CsvInput.parse({ csv: 'city,temp\nOslo,4\nRome,18\nOslo,6\nLima,\n' }));
    expect(out.rows).toBe(4);
    expect(out.columns[0]).toMatchObject({ column: 'city', type: 'text', distinct: 3 });
    expect((out.columns[0] as { top: unknown[] }).top[0]).toEqual({ value: 'Oslo', count: 2 });
    expect(out.columns[1]).toMatchObject({
      column: 'temp',
      type: 'number',
      count: 3,
      missing: 1,
      min: 4,
      max: 18,
      median: 6,
    });
    expect((out.columns[1] as { mean: number }).mean).toBeCloseTo(28 / 3);
  });
  it('fails on a CSV without data rows or with broken quotes', () => {
    expect(() => csvStats({ csv: 'only,a,header' })).toThrow(/header row and at least one data row/);
    expect(() => csvStats({ csv: 'a,b\n"1,2\n3,4' })).toThrow(/cannot parse/);
  });
});

describe('crypto.hash', () => {
  it('computes known digests', () => {
    expect(hashText(HashInput.parse({ text: 'abc' })).digest).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hashText(HashInput.parse({ text: '', algorithm: 'md5' })).digest).toBe(
      'd41d8cd98f00b204e9800998ecf8427e',
    );
    expect(hashText(HashInput.parse({ text: 'é', encoding: 'base64' })).bytes).toBe(2);
  });
  it('rejects unknown algorithms at the input schema', () => {
    expect(HashInput.safeParse({ text: 'x', algorithm: 'crc32' }).success).toBe(false);
  });
});

describe('inputWithDependencies', () => {
  it('takes the text of the dependencies when the input has none', () => {
    const deps = {
      a: { summary: 'Cats sleep a lot.', sentences: 1 },
      b: {
        keywords: [
          { word: 'cats', count: 2 },
          { word: 'sleep', count: 1 },
        ],
      },
    };
    expect(inputWithDependencies({ top: 3 }, deps)).toEqual({
      top: 3,
      text: 'Cats sleep a lot.\ncats sleep',
    });
    expect(inputWithDependencies({ text: 'own' }, deps)).toEqual({ text: 'own' });
    expect(inputWithDependencies({ top: 3 }, undefined)).toEqual({ top: 3 });
    expect(inputWithDependencies('plain', deps)).toBe('plain');
  });
});
