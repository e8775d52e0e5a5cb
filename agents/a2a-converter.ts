import { parseArgs } from 'node:util';
import type { AgentExecutor } from '@a2a-js/sdk/server';
import { dataOf, dataPart, serveA2A, TaskState, taskEvents, textOf } from './a2a-kit.ts';
import { ConvertInput, convertUnits } from './work/convert-units.ts';

/**
 * An A2A agent that knows nothing of the contract net: built only with the official A2A SDK's
 * server classes, it converts quantities between units. Register it with the manager by its
 * Agent Card and it works in the market: the manager bids its standing offer for it and sends
 * it awards as A2A messages.
 *
 *   npm run a2a-agent -- --port 9100
 *   curl -s $CNET_MANAGER/v1/agents -H 'content-type: application/json' \
 *     -d "{\"card\": $(curl -s http://127.0.0.1:9100/.well-known/agent-card.json), \"offer\": {\"default\": {\"cost\": 2, \"etaMs\": 500}}}"
 */
const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '9100' }, host: { type: 'string', default: '127.0.0.1' } },
});

/** The quantity a message asks about: its data part, or text such as "5 km to mile". */
function requestOf(message: Parameters<typeof dataOf>[0]): unknown {
  const data = dataOf(message);
  if (data !== undefined) return data;
  const text = textOf(message);
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z][\w^/]*)\s+(?:to|in)\s+([A-Za-z][\w^/]*)\s*$/.exec(text);
  return m ? { value: Number(m[1]), from: m[2], to: m[3] } : { text };
}

const executor: AgentExecutor = {
  async execute(ctx, bus) {
    const events = taskEvents(ctx, bus);
    events.task(TaskState.TASK_STATE_WORKING);
    const input = ConvertInput.safeParse(requestOf(ctx.userMessage));
    if (!input.success) {
      events.status(
        TaskState.TASK_STATE_REJECTED,
        `send {"value", "from", "to"} or "5 km to mile": ${input.error.issues[0]?.message}`,
      );
    } else {
      try {
        const result = convertUnits(input.data);
        events.artifact('conversion', [dataPart(result)], result.text);
        events.status(TaskState.TASK_STATE_COMPLETED);
      } catch (err) {
        events.status(TaskState.TASK_STATE_FAILED, (err as Error).message);
      }
    }
    bus.finished();
  },
  async cancelTask() {},
};

const { url, server } = await serveA2A({
  name: 'units-converter',
  description: 'converts a quantity between units (mathjs units: km, mile, degC, kWh, lb, ...)',
  skills: [
    {
      id: 'units.convert',
      name: 'Convert units',
      description: 'converts {"value", "from", "to"} (or the text "5 km to mile") between units',
      tags: ['units', 'conversion'],
      examples: ['{"value": 5, "from": "km", "to": "mile"}', '100 degC to degF'],
      inputModes: ['application/json', 'text/plain'],
      outputModes: ['application/json'],
    },
  ],
  executor,
  port: Number(args.port),
  host: args.host,
});
console.log(`A2A agent units-converter listening on ${url} (its card: ${url}/.well-known/agent-card.json)`);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => server.close(() => process.exit(0)));
