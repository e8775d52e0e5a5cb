import { useState } from 'preact/hooks';
import type { Agent } from '../../../src/protocol/agent.ts';
import { TaskSubmission } from '../../../src/protocol/task.ts';
import { ApiProblem, api } from '../api/api-client.ts';
import { taskHref } from '../hooks/use-hash-route.ts';
import { describeFields, inputSchemaOf, skeletonOf } from '../state/input-schema.ts';

/** Every capability an active agent offers, each once, sorted. */
export function offeredCapabilities(agents: Agent[]): string[] {
  const names = new Set<string>();
  for (const a of agents) if (a.status === 'active') for (const c of a.capabilities) names.add(c.name);
  return [...names].sort();
}

type Problem = { field: string; message: string };

const TEXT =
  'Contract Net announces a task, collects bids and awards the best. Agents that fail are skipped.';

/** A starting input for each sample agent's capability; `{}` for any other. */
export const EXAMPLE_INPUTS: Record<string, unknown> = {
  'math.evaluate': { expression: '2 * (3 + 4)' },
  'text.summarize': { text: TEXT, sentences: 1 },
  'text.keywords': { text: TEXT, top: 3 },
  'text.report': { text: TEXT },
  'crypto.hash': { text: 'hello', algorithm: 'sha256' },
  'data.csv-stats': { csv: 'city,temp\nOslo,4\nLima,19\nPerth,23' },
};

/** The sample input of a known capability, else one made from its input schema, else `{}`. */
const exampleFor = (capability: string, schema: Record<string, unknown> | undefined) =>
  JSON.stringify(EXAMPLE_INPUTS[capability] ?? (schema ? skeletonOf(schema) : {}), null, 2);

/**
 * Checks the form as the manager would, with the same zod schema (so a bad input is caught
 * here, naming the field), then submits it and opens the new task's page.
 */
export function checkSubmission(
  capability: string,
  inputText: string,
  budgetText: string,
): { body: TaskSubmission; problems: [] } | { body: null; problems: Problem[] } {
  let input: unknown;
  try {
    input = JSON.parse(inputText);
  } catch (err) {
    return { body: null, problems: [{ field: 'input', message: `not JSON: ${(err as Error).message}` }] };
  }
  const draft: Record<string, unknown> = { capability, input };
  if (budgetText.trim() !== '') draft.budget = Number(budgetText);
  const parsed = TaskSubmission.safeParse(draft);
  if (parsed.success) return { body: parsed.data, problems: [] };
  return {
    body: null,
    problems: parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'task', message: i.message })),
  };
}

export function SubmitForm({ agents }: { agents: Agent[] | undefined }) {
  const capabilities = offeredCapabilities(agents ?? []);
  const [capability, setCapability] = useState('');
  // null: untouched, show the chosen capability's example.
  const [edited, setInput] = useState<string | null>(null);
  const [budget, setBudget] = useState('');
  const [problems, setProblems] = useState<Problem[]>([]);
  const [sending, setSending] = useState(false);
  const chosen = capability || capabilities[0] || '';
  const schema = inputSchemaOf(agents ?? [], chosen);
  const input = edited ?? exampleFor(chosen, schema);

  const onSubmit = async (e: Event) => {
    e.preventDefault();
    const checked = checkSubmission(chosen, input, budget);
    setProblems(checked.problems);
    if (!checked.body) return;
    setSending(true);
    try {
      const task = await api.submit(checked.body);
      location.hash = taskHref(task.id);
    } catch (err) {
      const p = err instanceof ApiProblem ? err : null;
      // The manager's own check (a capability's input schema, say) names the fields.
      setProblems(
        p?.details?.length
          ? p.details.map((d) => ({ field: d.field, message: d.message }))
          : [{ field: p?.code ?? 'request', message: p?.message ?? String(err) }],
      );
    } finally {
      setSending(false);
    }
  };

  return (
    <section class="panel submit" aria-labelledby="submit-title">
      <h2 id="submit-title">Submit a task</h2>
      <form onSubmit={onSubmit} noValidate>
        <label>
          Capability
          <select
            name="capability"
            value={chosen}
            onChange={(e) => {
              setCapability((e.target as HTMLSelectElement).value);
              if (edited === exampleFor(chosen, schema)) setInput(null);
            }}
            disabled={capabilities.length === 0}
          >
            {capabilities.length === 0 ? <option value="">no agent offers anything yet</option> : null}
            {capabilities.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        {schema ? (
          <p class="muted" data-testid="input-fields">
            takes{' '}
            {describeFields(schema).map((f, i) => (
              <span key={f.name}>
                {i ? ', ' : ''}
                <code>{f.name}</code> ({f.type}
                {f.required ? ', required' : ''}){f.description ? `: ${f.description}` : ''}
              </span>
            ))}
          </p>
        ) : null}
        <label>
          Input (JSON)
          <textarea
            name="input"
            rows={5}
            spellcheck={false}
            value={input}
            onInput={(e) => setInput((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        <label>
          Budget <small class="muted">(optional: the most it may cost)</small>
          <input
            name="budget"
            inputMode="decimal"
            value={budget}
            onInput={(e) => setBudget((e.target as HTMLInputElement).value)}
          />
        </label>
        {problems.length ? (
          <ul class="error" role="alert">
            {problems.map((p) => (
              <li key={p.field + p.message}>
                <strong>{p.field}</strong>: {p.message}
              </li>
            ))}
          </ul>
        ) : null}
        <button type="submit" disabled={sending || !chosen}>
          {sending ? 'Submitting...' : 'Submit'}
        </button>
      </form>
    </section>
  );
}
