import type { Account } from '../../../src/protocol/accounts.ts';
import type { Agent } from '../../../src/protocol/agent.ts';
import type { BidRecord } from '../../../src/protocol/messages.ts';
import type { SubmittedTask, Task, TaskEvent, TaskSubmission } from '../../../src/protocol/task.ts';
import type { MetricJson } from '../state/metric-series.ts';
import { keyStore } from './key-store.ts';

/** An error answer of the API, as its `{ error: { code, message } }` body says. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The fields the manager named (a 422's details). */
    readonly details?: { field: string; message: string }[],
  ) {
    super(message);
  }
  /** 401: no key or a wrong one; 403 on the global feed: a client key, not an admin key. */
  get needsKey() {
    return this.status === 401;
  }
}

/** Headers for every call: the tab's key, when it has one. */
export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const key = keyStore.get();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, {
    ...init,
    headers: authHeaders({ accept: 'application/json', ...(init.headers as Record<string, string>) }),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page, say: reported below by status.
  }
  if (!res.ok) {
    const err = (
      body as {
        error?: { code?: string; message?: string; details?: { field: string; message: string }[] };
      } | null
    )?.error;
    throw new ApiProblem(
      res.status,
      err?.code ?? `http_${res.status}`,
      err?.message ?? `${res.status} ${res.statusText}`,
      Array.isArray(err?.details) ? err.details : undefined,
    );
  }
  return body as T;
}

const id = encodeURIComponent;

/** The public API calls the dashboard makes; nothing else. */
export const api = {
  agents: () => call<{ items: Agent[] }>('/v1/agents').then((r) => r.items),
  tasks: (limit = 20) => call<{ items: Task[] }>(`/v1/tasks?limit=${limit}`).then((r) => r.items),
  task: (taskId: string) => call<Task>(`/v1/tasks/${id(taskId)}`),
  bids: (taskId: string) => call<{ items: BidRecord[] }>(`/v1/tasks/${id(taskId)}/bids`).then((r) => r.items),
  trail: (taskId: string) =>
    call<{ items: TaskEvent[] }>(`/v1/tasks/${id(taskId)}/events`).then((r) => r.items),
  submit: (body: TaskSubmission) =>
    call<SubmittedTask>('/v1/tasks', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
      body: JSON.stringify(body),
    }),
  metrics: () => call<MetricJson[]>('/metrics'),
  /**
   * Every account (an admin key; keys off, anyone), or only the caller's; null when the market
   * keeps no accounts (ACCOUNTS is not true).
   */
  accounts: async (): Promise<Account[] | null> => {
    try {
      return (await call<{ items: Account[] }>('/v1/accounts?limit=200')).items;
    } catch (err) {
      if (err instanceof ApiProblem && err.code === 'accounts_off') return null;
      if (err instanceof ApiProblem && err.status === 403) return [await call<Account>('/v1/accounts/me')];
      throw err;
    }
  },
};
