import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { keepAlivePool, requestJson } from './http.ts';
import { freshDatabase, startManager } from './manager-rounds.ts';
import { rssMiB } from './processes.ts';

/** Enqueue and process rates of one queue doing `jobs` no-op jobs. */
export type QueueRun = {
  system: string;
  mode: string;
  enqueuePerS: number;
  processPerS: number;
  note?: string;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rate = (n: number, t0: number) => n / ((performance.now() - t0) / 1000);
/** A processing phase ends when every job is done or after this long (a slow default then shows its rate). */
const PROCESS_CAP_MS = 30_000;
const until = async (t0: number, done: () => number, jobs: number) => {
  while (done() < jobs && performance.now() - t0 < PROCESS_CAP_MS) await sleep(5);
  return { processed: done(), capped: done() < jobs };
};

/** Runs `fn` over `items` with `width` at once. */
async function pooled<T>(items: T[], width: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

/**
 * The manager's fallback queue over HTTP: tasks submitted with no agent able to bid are queued
 * (one statement each); a pull-only agent claims them in batches of `batch` with `claimers`
 * concurrent claims, then reports each result. Claims and results are timed apart: the claim
 * path is the queue, the result is the task's completion.
 */
export async function runManagerQueue(adminUrl: string, jobs: number, batch: number, claimers: number) {
  const database = await freshDatabase(adminUrl, `cnet_bench_queue_${process.pid}_${batch}`);
  const manager = await startManager({ kind: 'postgres', url: database.url });
  const pool = keepAlivePool(128);
  try {
    const reg = await requestJson<{ token: string }>(pool, 'POST', `${manager.url}/v1/agents`, {
      name: 'bench-puller',
      capabilities: [{ name: 'bench.noop' }],
    });
    const auth = { authorization: `Bearer ${reg.body.token}` };
    const t0 = performance.now();
    await pooled(
      Array.from({ length: jobs }, (_, i) => i),
      64,
      async (n) => {
        const r = await requestJson(pool, 'POST', `${manager.url}/v1/tasks`, {
          capability: 'bench.noop',
          input: { n },
        });
        if (r.status !== 202) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
      },
    );
    const enqueuePerS = rate(jobs, t0);
    const rss = rssMiB(manager.proc.child.pid as number);
    type Claim = { tasks: { task: { id: string }; awardId: string }[] };
    const claimed: Claim['tasks'] = [];
    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: claimers }, async () => {
        for (;;) {
          const r = await requestJson<Claim>(
            pool,
            'POST',
            `${manager.url}/v1/queue/claim`,
            { capabilities: ['bench.noop'], limit: batch, leaseMs: 600_000 },
            auth,
          );
          if (r.status !== 200) throw new Error(`claim: ${r.status} ${JSON.stringify(r.body)}`);
          if (!r.body.tasks.length) return;
          claimed.push(...r.body.tasks);
        }
      }),
    );
    const claimPerS = rate(claimed.length, t1);
    const claimSeconds = (performance.now() - t1) / 1000;
    const t2 = performance.now();
    await pooled(claimed, 64, async (c) => {
      const r = await requestJson(
        pool,
        'POST',
        `${manager.url}/v1/tasks/${c.task.id}/result`,
        { awardId: c.awardId, type: 'inform-result', output: null },
        auth,
      );
      if (r.status !== 200) throw new Error(`result: ${r.status} ${JSON.stringify(r.body)}`);
    });
    const resultSeconds = (performance.now() - t2) / 1000;
    if (claimed.length !== jobs) throw new Error(`claimed ${claimed.length} of ${jobs}`);
    return {
      run: {
        system: 'contract-net (HTTP)',
        mode: `claim limit ${batch}, ${claimers} claimers`,
        enqueuePerS,
        processPerS: jobs / (claimSeconds + resultSeconds),
        note: `claim path alone ${claimPerS.toFixed(0)} tasks/s`,
      } satisfies QueueRun,
      claimPerS,
      rssQueuedMiB: rss,
    };
  } finally {
    pool.destroy();
    await manager.stop();
    await database.drop();
  }
}

/** pg-boss on the same server: `send` one by one and `work` with its defaults, or `insert` and batches. */
export async function runPgBoss(adminUrl: string, jobs: number, batched: boolean): Promise<QueueRun> {
  const database = await freshDatabase(adminUrl, `cnet_bench_pgboss_${process.pid}_${batched ? 1 : 0}`);
  const boss = new PgBoss({ connectionString: database.url, max: 10 });
  boss.on('error', () => {});
  try {
    await boss.start();
    await boss.createQueue('noop');
    const t0 = performance.now();
    if (batched) {
      for (let i = 0; i < jobs; i += 1000)
        await boss.insert(
          Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({ name: 'noop', data: { n: i + k } })),
        );
    } else {
      await pooled(
        Array.from({ length: jobs }, (_, i) => i),
        64,
        async (n) => void (await boss.send('noop', { n })),
      );
    }
    const enqueuePerS = rate(jobs, t0);
    let done = 0;
    const t1 = performance.now();
    const workers = batched ? 8 : 1;
    for (let w = 0; w < workers; w++) {
      await boss.work(
        'noop',
        batched ? { batchSize: 50, pollingIntervalSeconds: 0.5 } : {},
        async (batch) => {
          done += batch.length;
        },
      );
    }
    const end = await until(t1, () => done, jobs);
    return {
      system: 'pg-boss 10',
      note: end.capped ? `stopped after ${PROCESS_CAP_MS / 1000} s: ${end.processed} done` : undefined,
      mode: batched ? 'insert 1000s; 8 workers, batchSize 50, poll 0.5 s' : 'send each; 1 worker, defaults',
      enqueuePerS,
      processPerS: rate(end.processed, t1),
    };
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
    await database.drop();
  }
}

/** graphile-worker on the same server: `addJob` one by one and defaults, or `addJobs` and its batching. */
export async function runGraphile(adminUrl: string, jobs: number, batched: boolean): Promise<QueueRun> {
  const database = await freshDatabase(adminUrl, `cnet_bench_graphile_${process.pid}_${batched ? 1 : 0}`);
  // One pool of our own, so it is closed (and its errors heard) before the database is dropped.
  const pgPool = new pg.Pool({ connectionString: database.url, max: 10 });
  pgPool.on('error', () => {});
  const utils = await makeWorkerUtils({ pgPool });
  try {
    await utils.migrate();
    const t0 = performance.now();
    if (batched) {
      for (let i = 0; i < jobs; i += 1000)
        await utils.addJobs(
          Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({
            identifier: 'noop',
            payload: { n: i + k },
          })),
        );
    } else {
      await pooled(
        Array.from({ length: jobs }, (_, i) => i),
        64,
        async (n) => void (await utils.addJob('noop', { n })),
      );
    }
    const enqueuePerS = rate(jobs, t0);
    let done = 0;
    const t1 = performance.now();
    const runner = await run({
      pgPool,
      concurrency: batched ? 8 : 1,
      noHandleSignals: true,
      logger: silentLogger,
      taskList: {
        noop: async () => {
          done++;
        },
      },
      ...(batched ? { preset: { worker: { localQueue: { size: 50 }, completeJobBatchDelay: 0 } } } : {}),
    });
    const end = await until(t1, () => done, jobs);
    const processPerS = rate(end.processed, t1);
    await runner.stop();
    return {
      system: 'graphile-worker 0.17',
      mode: batched
        ? 'addJobs 1000s; concurrency 8, localQueue 50, completeJobBatchDelay 0'
        : 'addJob each; defaults (concurrency 1)',
      enqueuePerS,
      processPerS,
      note: end.capped ? `stopped after ${PROCESS_CAP_MS / 1000} s: ${end.processed} done` : undefined,
    };
  } finally {
    await utils.release();
    await pgPool.end();
    await database.drop();
  }
}

const silentLogger = new Logger(() => () => {});
