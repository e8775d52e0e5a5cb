import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { and, asc, eq, getTableColumns, gt } from 'drizzle-orm';
import { events, tasks } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { CapabilityName } from '../../protocol/common.ts';
import { TaskEvent } from '../../protocol/task.ts';
import { clientScope } from '../auth.ts';
import type { AppEnv, RouteDeps } from '../deps.ts';
import { lastEventIdOf, streamFeed, toEventView, wantsEventStream } from '../event-stream.ts';
import { bearer, errorResponses } from '../openapi-helpers.ts';

const Filter = z.object({
  capability: CapabilityName.optional(),
  agent: z.uuid().optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

const route = createRoute({
  method: 'get',
  path: '/v1/events',
  tags: ['events'],
  summary:
    'Every task and agent change; server-sent events with Accept: text/event-stream, resumable by Last-Event-ID',
  security: bearer,
  request: { query: Filter },
  responses: {
    200: {
      description: 'Events, oldest first',
      content: {
        'application/json': { schema: z.object({ items: z.array(TaskEvent) }) },
        'text/event-stream': { schema: z.string() },
      },
    },
    ...errorResponses,
  },
});

/** The manager-wide event feed. */
export function registerEventRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps) {
  app.openapi(route, async (c) => {
    // Every task's events: an operator's view. A client key follows its own tasks'
    // streams (GET /v1/tasks/{id}/events).
    const scope = clientScope(c, deps.config);
    if (scope.owner)
      throw new AppError(
        403,
        'forbidden',
        'the global event stream needs an admin key; follow your tasks at /v1/tasks/{id}/events',
      );
    const q = c.req.valid('query');
    const fetch = (after: number, limit = q.limit) =>
      deps.database.db
        .select({ ...getTableColumns(events), traceParent: tasks.traceParent })
        .from(events)
        .leftJoin(tasks, eq(tasks.id, events.taskId))
        .where(
          and(
            gt(events.id, after),
            q.agent ? eq(events.agentId, q.agent) : undefined,
            q.capability ? eq(tasks.capability, q.capability) : undefined,
          ),
        )
        .orderBy(asc(events.id))
        .limit(limit);
    if (!wantsEventStream(c)) {
      const rows = await fetch(q.after ?? 0);
      return c.json({ items: rows.map(toEventView) }, 200);
    }
    const release = deps.held.streams.take(c, scope.principal);
    return streamFeed(c, {
      feed: deps.feed,
      after: q.after ?? lastEventIdOf(c),
      replayMax: deps.config.EVENT_REPLAY_MAX,
      matches: (r) => (!q.agent || r.agentId === q.agent) && (!q.capability || r.capability === q.capability),
      fetch,
      onEnd: release,
    }) as never;
  });
}
