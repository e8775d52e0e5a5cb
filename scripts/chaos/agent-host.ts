/**
 * One chaos agent as its own process: plain node:http (not the SDK), so that it can misbehave in
 * every way the wire allows. A healthy agent proposes, agrees and reports after a short job; a
 * faulty one, on a share of its messages, hangs, answers 5xx, resets the connection, answers
 * garbage, NUL bytes or huge strings, answers slowly, agrees and never reports, reports twice,
 * reports after its lease, or SIGKILLs itself mid-task (the orchestrator brings it back).
 * It keeps its token in a file, so a restarted agent re-registers as itself.
 *
 * Each fault it commits is printed as a JSON line `{"fault": kind}` for the orchestrator to count.
 *
 * Usage: agent-host.ts --manager URL --name N --capabilities a,b --fault-rate 0.3 --seed S --state FILE
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { requestText } from '../support/http-json.ts';
import { mulberry32 } from '../support/random.ts';

const { values } = parseArgs({
  options: {
    manager: { type: 'string' },
    name: { type: 'string' },
    capabilities: { type: 'string', default: 'chaos.work' },
    'fault-rate': { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    state: { type: 'string' },
    /** An abusive agent: defers every bid and never sends it, or declines cfps as too large. */
    abusive: { type: 'boolean', default: false },
  },
});
const managers = (values.manager ?? '').split(',').filter(Boolean);
if (!managers.length || !values.name || !values.state) {
  console.error('agent-host needs --manager, --name and --state');
  process.exit(2);
}
const faultRate = Number(values['fault-rate']);
const random = mulberry32(Number(values.seed) ^ process.pid);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pool = new http.Agent({ keepAlive: true, maxSockets: 32 });

const CFP_FAULTS = ['hang', '5xx', 'reset', 'garbage', 'nul', 'huge', 'slow'] as const;
const AWARD_FAULTS = [
  'hang',
  '5xx',
  'reset',
  'garbage',
  'never-report',
  'report-twice',
  'report-late',
  'nul-output',
  'huge-output',
  'sigkill',
] as const;

function fault<T extends string>(kinds: readonly T[]): T | null {
  if (random() >= faultRate) return null;
  const kind = pick(kinds);
  console.log(JSON.stringify({ fault: kind }));
  return kind;
}

let token = existsSync(values.state)
  ? (JSON.parse(readFileSync(values.state, 'utf8')) as { token: string }).token
  : '';

const post = (url: string, body: unknown, auth = true) =>
  requestText(pool, 'POST', url, body, auth && token ? { authorization: `Bearer ${token}` } : {});

/** Reports a result as a real agent would: retried on transport errors and 5xx, across a manager restart. */
async function report(resultUrl: string, body: unknown): Promise<void> {
  for (let attempt = 0; attempt < 12; attempt++) {
    try {
      const r = await post(resultUrl, body);
      if (r.status < 500) return;
    } catch {}
    await sleep(Math.min(2000, 100 * 2 ** attempt));
  }
}

type Award = {
  conversationId: string;
  awardId: string;
  dueAt: string;
  resultUrl: string;
  cost?: number | null;
  task: { capability: string; input: unknown };
};

/**
 * Subcontracts part of an award (a `chaos.b` subtask, half the award's cost as its budget) and
 * waits for it until the award is due; whatever became of it, the holder reports after. With
 * accounts on, the subtask is paid out of the holder's earnings, or recouped from it when the
 * award ends without a result: the ledger's invariants cover both.
 */
async function subcontract(award: Award): Promise<void> {
  const base = new URL(award.resultUrl).origin;
  const auth = { authorization: `Bearer ${token}` };
  try {
    const r = await requestText(
      pool,
      'POST',
      `${base}/v1/tasks`,
      {
        capability: 'chaos.b',
        input: { part: award.awardId },
        budget: Math.floor((award.cost ?? 0) / 2),
        parent: { taskId: award.conversationId, awardId: award.awardId },
      },
      { ...auth, 'idempotency-key': `sub-${award.awardId}` },
    );
    if (r.status !== 202 && r.status !== 200) return;
    const id = (JSON.parse(r.text) as { id: string }).id;
    while (Date.now() < Date.parse(award.dueAt)) {
      const t = await requestText(pool, 'GET', `${base}/v1/tasks/${id}?waitMs=2000`, undefined, auth);
      const state = t.status === 200 ? (JSON.parse(t.text) as { state: string }).state : '';
      if (['completed', 'failed', 'cancelled'].includes(state)) return;
    }
  } catch {}
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const raw = await readBody(req).catch(() => '');
  const send = (status: number, body: unknown) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (values.abusive && (req.url === '/cfp' || req.url === '/award')) {
    // Holds every round it is invited to until its window ends, or declines the message.
    const kind = random() < 0.7 ? 'abusive-defer' : 'abusive-413';
    console.log(JSON.stringify({ fault: kind }));
    return kind === 'abusive-defer' && req.url === '/cfp'
      ? send(200, { type: 'deferred' })
      : send(413, { error: 'too large' });
  }
  if (req.url === '/cfp') {
    const cfp = JSON.parse(raw) as { replyBy: string };
    switch (fault(CFP_FAULTS)) {
      case 'hang':
        return; // never answers; the manager's timeout ends the call
      case '5xx':
        return send(503, { error: 'overloaded' });
      case 'reset':
        return req.socket.destroy();
      case 'garbage':
        return send(200, '<html>\u0000 not json');
      case 'nul':
        return send(200, { type: 'refuse', reason: 'bad\u0000reason\ud800' });
      case 'huge':
        return send(200, { type: 'refuse', reason: 'x'.repeat(900_000) });
      case 'slow':
        await sleep(Math.max(0, Date.parse(cfp.replyBy) - Date.now()) * (0.5 + random()));
        break;
      case null:
        break;
    }
    return send(200, {
      type: 'propose',
      cost: 1 + Math.round(random() * 9),
      etaMs: 20 + Math.round(random() * 80),
    });
  }
  if (req.url === '/award') {
    const award = JSON.parse(raw) as Award;
    const result = { awardId: award.awardId, type: 'inform-result', output: { done: award.awardId } };
    const kind = fault(AWARD_FAULTS);
    switch (kind) {
      case 'hang':
        return;
      case '5xx':
        return send(500, { error: 'boom' });
      case 'reset':
        return req.socket.destroy();
      case 'garbage':
        return send(200, 'agree?');
      case 'sigkill':
        send(200, { type: 'agree' });
        await sleep(5);
        process.kill(process.pid, 'SIGKILL');
        return;
      default:
        break;
    }
    send(200, { type: 'agree' });
    await sleep(10 + random() * 40);
    if (award.task.capability === 'chaos.a' && (award.cost ?? 0) >= 2 && random() < 0.15)
      await subcontract(award);
    switch (kind) {
      case 'never-report':
        return;
      case 'report-twice':
        await report(award.resultUrl, result);
        return report(award.resultUrl, result);
      case 'report-late':
        await sleep(Math.max(0, Date.parse(award.dueAt) - Date.now()) + 1000);
        return report(award.resultUrl, result);
      case 'nul-output':
        // The manager refuses it (422); a real agent would then report something it can store.
        await report(award.resultUrl, { ...result, output: { text: 'a\u0000b' } });
        return report(award.resultUrl, {
          awardId: award.awardId,
          type: 'failure',
          reason: 'nul\u0000 in output',
        });
      case 'huge-output':
        return report(award.resultUrl, { ...result, output: { text: 'y'.repeat(2_000_000) } });
      default:
        return report(award.resultUrl, result);
    }
  }
  return send(200, { ok: true });
});
server.keepAliveTimeout = 30_000;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// Register (or, with the saved token, re-register as itself with the new endpoint) at a manager
// that answers; with several managers, whichever is up.
const registration = {
  name: values.name,
  endpoint,
  capabilities: values.capabilities.split(',').map((name) => ({ name })),
  maxConcurrency: 64,
};
for (let attempt = 0; ; attempt++) {
  const url = managers[attempt % managers.length];
  try {
    const r = await post(`${url}/v1/agents`, registration);
    if (r.status === 201 || r.status === 200) {
      const body = JSON.parse(r.text) as { agent: { id: string }; token?: string };
      if (body.token) {
        token = body.token;
        writeFileSync(values.state, JSON.stringify({ id: body.agent.id, token }));
      }
      break;
    }
    if (r.status < 500) {
      console.error(`registration refused: ${r.status} ${r.text}`);
      process.exit(1);
    }
  } catch {}
  await sleep(Math.min(1000, 100 * 2 ** attempt));
}
console.log(JSON.stringify({ ready: true, endpoint }));
process.on('SIGTERM', () => process.exit(0));
