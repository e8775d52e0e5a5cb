import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { subtaskOf } from '../../app/subtasks.ts';
import { AppError } from '../../errors/app-error.ts';
import { KeyedLock } from '../../limits/keyed-lock.ts';
import { CapabilityName, page } from '../../protocol/common.ts';
import { BidRecord } from '../../protocol/messages.ts';
import { isEnded } from '../../protocol/states.ts';
import { SubmittedTask, Task, TaskEvent, TaskState, TaskSubmission } from '../../protocol/task.ts';
import { agentPrincipal, clientKeys, clientScope, requireAgentId, taskScope } from '../auth.ts';
import type { AppEnv, RouteDeps } from '../deps.ts';
import { lastEventIdOf, streamEvents, toEventView, wantsEventStream } from '../event-stream.ts';
import { callerGone } from '../node-request.ts';
import { bearer, errorResponses, IdParam, json, PageQuery, paymentResponses } from '../openapi-helpers.ts';

const submit = createRoute({
  method: 'post',
  path: '/v1/tasks',
  tags: ['tasks'],
  summary: 'Submit a task; it is auctioned at once',
  security: bearer,
  request: {
    headers: z.object({ 'idempotency-key': z.string().min(1).max(255).optional() }),
    body: { content: { 'application/json': { schema: TaskSubmission } }, required: true },
  },
  responses: {
    202: json(SubmittedTask, 'Accepted'),
    200: json(SubmittedTask, 'The task this Idempotency-Key already created'),
    ...errorResponses,
    ...paymentResponses,
  },
});

const get = createRoute({
  method: 'get',
  path: '/v1/tasks/{id}',
  tags: ['tasks'],
  summary: 'A task; with waitMs, answers as soon as it is terminal (long-poll)',
  security: bearer,
  request: {
    params: IdParam,
    query: z.object({ waitMs: z.coerce.number().int().min(0).max(60_000).default(0) }),
  },
  responses: { 200: json(Task, 'The task'), ...errorResponses },
});

const list = createRoute({
  method: 'get',
  path: '/v1/tasks',
  tags: ['tasks'],
  summary: 'Tasks, newest first; state=failed is the dead-letter view',
  security: bearer,
  request: {
    query: PageQuery.extend({
      state: TaskState.optional(),
      capability: CapabilityName.optional(),
      parentId: z.uuid().optional(),
    }),
  },
  responses: { 200: json(page(Task), 'A page of tasks'), ...errorResponses },
});

const cancel = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/cancel',
  tags: ['tasks'],
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(Task, 'Cancelled'), ...errorResponses },
});

const retry = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/retry',
  tags: ['tasks'],
  security: bearer,
  request: { params: IdParam },
  responses: {
    200: json(Task, 'Back in the market with fresh attempts'),
    ...errorResponses,
    ...paymentResponses,
  },
});

const events = createRoute({
  method: 'get',
  path: '/v1/tasks/{id}/events',
  tags: ['tasks'],
  summary: 'The audit trail, oldest first; with Accept: text/event-stream, live until the task ends',
  security: bearer,
  request: { params: IdParam },
  responses: {
    200: {
      description: 'Events',
      content: {
        'application/json': { schema: z.object({ items: z.array(TaskEvent) }) },
        'text/event-stream': { schema: z.string() },
      },
    },
    ...errorResponses,
  },
});

const bids = createRoute({
  method: 'get',
  path: '/v1/tasks/{id}/bids',
  tags: ['tasks'],
  security: bearer,
  request: { params: IdParam },
  responses: {
    200: json(z.object({ items: z.array(BidRecord) }), 'Every bid of every round'),
    ...errorResponses,
  },
});

/** The client task API. */
export function registerTaskRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps) {
  const scope = (c: Parameters<typeof clientScope>[0]) => taskScope(c, deps.config, deps.registry);
  /** 404 unless the client may see the task (its own, or any with an admin key or keys off). */
  const owned = async (c: Parameters<typeof clientScope>[0], id: string) => {
    const { owner } = await scope(c);
    if (owner) await deps.tasks.getOwnedRow(id, owner);
  };

  /** An award's subtasks are checked against its limits and stored one at a time. */
  const subtasksOfAward = new KeyedLock();

  app.openapi(submit, async (c) => {
    const body = c.req.valid('json');
    const key = c.req.valid('header')['idempotency-key'];
    const raw = await c.req.json();
    const store = async () => {
      // A subtask: submitted with the agent token of the parent award's holder.
      const sub = body.parent
        ? await subtask(c, body as typeof body & { parent: NonNullable<typeof body.parent> }, key, raw)
        : null;
      if (sub?.again) return { res: { view: sub.again, created: false }, principal: sub.scope.principal };
      // Anything but a subtask needs a client key (with keys configured): an agent token is not one.
      const { principal } = sub ? sub.scope : clientScope(c, deps.config);
      const res = await deps.market.submit(
        sub?.body ?? body,
        raw,
        key ? `${principal}:${key}` : undefined,
        principal === 'anonymous' ? null : principal,
        c.req.header('traceparent'),
        sub?.parent,
      );
      return { res, principal };
    };
    const { res, principal } = body.parent
      ? await subtasksOfAward.run(body.parent.awardId, store)
      : await store();
    const view =
      res.view.callbackUrl && principal === 'anonymous'
        ? { ...res.view, callbackSecret: deps.market.callbackSecretOf(res.view.id) }
        : res.view;
    return res.created ? c.json(view, 202) : c.json(view, 200);
  });

  app.openapi(get, async (c) => {
    const { id } = c.req.valid('param');
    const { principal, owner } = await scope(c);
    if (owner) await deps.tasks.getOwnedRow(id, owner);
    const { waitMs } = c.req.valid('query');
    if (waitMs <= 0) return c.json(await deps.market.getTask(id, 0), 200);
    const release = deps.held.polls.take(c, principal);
    try {
      return c.json(await deps.market.getTask(id, waitMs, callerGone(c)), 200);
    } finally {
      release();
    }
  });

  /** The agent submitting a subtask, and the subtask as it is stored. */
  const subtask = async (
    c: Parameters<typeof clientScope>[0],
    body: Parameters<typeof subtaskOf>[2],
    key: string | undefined,
    raw: unknown,
  ) => {
    if (body.dependsOn)
      throw new AppError(422, 'invalid_request', 'a subtask cannot have dependsOn (yet)', [
        { field: 'dependsOn', message: 'not with parent' },
      ]);
    const agentId = await requireAgentId(c, deps.registry);
    const keysOn = Boolean(clientKeys(deps.config));
    const p = agentPrincipal(agentId);
    const scope = { principal: keysOn ? p : 'anonymous', owner: keysOn ? p : null };
    // Sent again (its answer was lost): the subtask it made, whatever the limits say now.
    const again = key ? await deps.market.findSubmitted(`${scope.principal}:${key}`, raw) : null;
    if (again) return { again, scope };
    const checked = await subtaskOf(deps.database.db, agentId, body, {
      perAward: deps.config.MAX_SUBTASKS_PER_AWARD,
      depth: deps.config.MAX_SUBTASK_DEPTH,
    });
    return { ...checked, again: null, scope };
  };

  app.openapi(list, async (c) => {
    const { owner } = await scope(c);
    return c.json(await deps.tasks.list({ ...c.req.valid('query'), owner }), 200);
  });

  app.openapi(cancel, async (c) => {
    const { id } = c.req.valid('param');
    await owned(c, id);
    return c.json(await deps.market.cancel(id), 200);
  });

  app.openapi(retry, async (c) => {
    const { id } = c.req.valid('param');
    await owned(c, id);
    return c.json(await deps.market.retry(id), 200);
  });

  app.openapi(events, async (c) => {
    const { id } = c.req.valid('param');
    const { principal, owner } = await scope(c);
    const { traceParent } = await deps.tasks.getOwnedRow(id, owner); // 404 before any stream starts
    const withTrace = (rows: Awaited<ReturnType<typeof deps.tasks.events>>) =>
      rows.map((r) => ({ ...r, traceParent }));
    if (!wantsEventStream(c)) {
      const rows = withTrace(await deps.tasks.events(id, 0, 100_000));
      return c.json({ items: rows.map(toEventView) }, 200);
    }
    const release = deps.held.streams.take(c, principal);
    return streamEvents(c, {
      after: lastEventIdOf(c) ?? 0,
      onEnd: release,
      subscribe: (wake) => deps.hub.onTask(id, wake),
      fetch: async (after) => withTrace(await deps.tasks.events(id, after, 500)),
      isDone: async () => isEnded((await deps.tasks.getRow(id)).state),
    }) as never;
  });

  app.openapi(bids, async (c) => {
    const { id } = c.req.valid('param');
    await deps.tasks.getOwnedRow(id, (await scope(c)).owner);
    const rows = await deps.tasks.bids(id);
    return c.json(
      {
        items: rows.map((b) => ({
          ...b,
          outcome: b.outcome as BidRecord['outcome'],
          receivedAt: b.receivedAt.toISOString(),
          validUntil: b.validUntil?.toISOString() ?? null,
        })),
      },
      200,
    );
  });
}
