import { CliError } from './api-client.ts';

/** One stage of a pipeline file: a task, a local name, and the names of the stages it needs. */
export type PipelineStage = { name: string; task: Record<string, unknown>; after: string[] };

/**
 * Reads a pipeline file: `{"tasks": [{"name": "summary", "capability": ..., "input": ...,
 * "dependsOn": ["fetch"]}, ...]}`, where `dependsOn` names earlier or later stages of the same
 * file (or task ids of tasks that exist already). Answers the stages in an order where each
 * comes after what it depends on; a name used twice, an unknown name or a cycle is refused.
 */
export function planPipeline(doc: unknown): PipelineStage[] {
  const tasks = (doc as { tasks?: unknown })?.tasks;
  if (!Array.isArray(tasks) || !tasks.length)
    throw new CliError(
      'a pipeline file holds {"tasks": [{"name", "capability", "input", "dependsOn"?}, ...]}',
      2,
    );
  const stages = new Map<string, PipelineStage>();
  for (const [i, raw] of tasks.entries()) {
    if (typeof raw !== 'object' || raw === null) throw new CliError(`tasks[${i}] is not an object`, 2);
    const { name, dependsOn, ...task } = raw as Record<string, unknown>;
    const key = typeof name === 'string' && name ? name : `#${i + 1}`;
    if (stages.has(key)) throw new CliError(`two stages are named "${key}"`, 2);
    if (
      dependsOn !== undefined &&
      !(Array.isArray(dependsOn) && dependsOn.every((d) => typeof d === 'string'))
    )
      throw new CliError(`stage "${key}": dependsOn must be a list of stage names or task ids`, 2);
    stages.set(key, { name: key, task, after: (dependsOn as string[] | undefined) ?? [] });
  }
  const ordered: PipelineStage[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const isTaskId = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
  const visit = (s: PipelineStage, path: string[]) => {
    if (state.get(s.name) === 'done') return;
    if (state.get(s.name) === 'visiting')
      throw new CliError(`the pipeline has a cycle: ${[...path, s.name].join(' -> ')}`, 2);
    state.set(s.name, 'visiting');
    for (const d of s.after) {
      const dep = stages.get(d);
      if (dep) visit(dep, [...path, s.name]);
      else if (!isTaskId(d))
        throw new CliError(`stage "${s.name}" depends on "${d}", which is no stage of this file`, 2);
    }
    state.set(s.name, 'done');
    ordered.push(s);
  };
  for (const s of stages.values()) visit(s, []);
  return ordered;
}

/** A stage's body with its dependencies as task ids (stages already submitted, or ids given). */
export function stageBody(stage: PipelineStage, ids: ReadonlyMap<string, string>): Record<string, unknown> {
  const dependsOn = stage.after.map((d) => ids.get(d) ?? d);
  return { input: {}, ...stage.task, ...(dependsOn.length ? { dependsOn } : {}) };
}
