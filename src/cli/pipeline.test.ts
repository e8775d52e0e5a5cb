import { describe, expect, it } from 'vitest';
import { planPipeline, stageBody } from './pipeline.ts';

describe('planPipeline', () => {
  it('orders stages after what they depend on and maps names to ids', () => {
    const plan = planPipeline({
      tasks: [
        { name: 'report', capability: 'c', input: {}, dependsOn: ['summary', 'keywords'] },
        { name: 'summary', capability: 'text.summarize', input: { text: 'x' } },
        { name: 'keywords', capability: 'text.keywords', input: { top: 3 }, dependsOn: ['summary'] },
      ],
    });
    expect(plan.map((s) => s.name)).toEqual(['summary', 'keywords', 'report']);
    const ids = new Map([
      ['summary', 'id-1'],
      ['keywords', 'id-2'],
    ]);
    expect(stageBody(plan[2]!, ids)).toEqual({ capability: 'c', input: {}, dependsOn: ['id-1', 'id-2'] });
    expect(stageBody(plan[0]!, ids)).toEqual({ capability: 'text.summarize', input: { text: 'x' } });
  });
  it('refuses cycles, unknown names and repeated names', () => {
    expect(() =>
      planPipeline({
        tasks: [
          { name: 'a', dependsOn: ['b'] },
          { name: 'b', dependsOn: ['a'] },
        ],
      }),
    ).toThrow(/cycle: a -> b -> a/);
    expect(() => planPipeline({ tasks: [{ name: 'a', dependsOn: ['nope'] }] })).toThrow(/no stage/);
    expect(() => planPipeline({ tasks: [{ name: 'a' }, { name: 'a' }] })).toThrow(/two stages/);
    expect(() => planPipeline({})).toThrow(/pipeline file/);
  });
  it('lets a stage depend on an existing task by id', () => {
    const id = '01900000-0000-7000-8000-000000000000';
    const [s] = planPipeline({ tasks: [{ name: 'a', capability: 'c', dependsOn: [id] }] });
    expect(stageBody(s!, new Map())).toMatchObject({ dependsOn: [id] });
  });
});
