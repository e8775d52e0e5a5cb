import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Fleet, fixedBidder } from './support/agents.ts';
import { startManager, type TestManager } from './support/harness.ts';
import { ROOT } from './support/processes.ts';

type ToolResult = { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: any };

/** The market through the official MCP client (@modelcontextprotocol/sdk), as an LLM client uses it. */
describe('the MCP server', () => {
  let m: TestManager;
  let fleet: Fleet;
  beforeAll(async () => {
    m = await startManager({ API_KEYS: 'mcp-key-a,mcp-key-b', ADMIN_KEYS: 'mcp-admin' });
    fleet = new Fleet(m.url);
    await fleet.start(
      {
        ...fixedBidder('mcp-doubler', 2, 50),
        capabilities: [
          {
            name: 'math.double',
            description: 'doubles n',
            input: z.object({ n: z.number().int().max(1000) }),
          },
        ],
        execute: (input: { n: number }) => ({ doubled: input.n * 2 }),
      },
      { registrationKey: undefined },
    );
    await fleet.start({
      ...fixedBidder('mcp-slow', 1, 50),
      capabilities: ['slow.work'],
      execute: (_i: unknown, { signal }) =>
        new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    });
  });
  afterAll(async () => {
    await fleet.stopAll();
    await m.stop();
  });

  const connect = async (key: string) => {
    const client = new Client({ name: 'test-client', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${m.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
    );
    return client;
  };
  const call = async (
    client: Client,
    name: string,
    args: Record<string, unknown>,
    onprogress?: (p: { message?: string }) => void,
  ) =>
    (await client.callTool(
      { name, arguments: args },
      undefined,
      onprogress ? { onprogress, timeout: 60_000 } : { timeout: 60_000 },
    )) as ToolResult;

  it('lists the tools and the capabilities on offer with their input schemas', async () => {
    const client = await connect('mcp-key-a');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'cancel_task',
      'get_task',
      'list_capabilities',
      'submit_pipeline',
      'submit_task',
    ]);
    const submit = tools.find((t) => t.name === 'submit_task')!;
    expect(submit.description).toMatch(
      /math\.double \(doubles n\).*input: \{"type":"object".*"required":\["n"\]/s,
    );
    const listed = await call(client, 'list_capabilities', {});
    expect(listed.isError).toBeFalsy();
    const double = listed.structuredContent.capabilities.find(
      (c: { name: string }) => c.name === 'math.double',
    );
    expect(double).toMatchObject({
      agents: 1,
      reachable: 1,
      schemas: [{ inputSchema: { required: ['n'] } }],
    });
    await client.close();
  });

  it('gets a task done, with progress notifications as the round goes, and answers its output', async () => {
    const client = await connect('mcp-key-a');
    const progress: string[] = [];
    const done = await call(
      client,
      'submit_task',
      { capability: 'math.double', input: { n: 21 }, waitSeconds: 30 },
      (p) => progress.push(p.message ?? ''),
    );
    expect(done.isError).toBeFalsy();
    expect(done.structuredContent).toMatchObject({ state: 'completed', output: { doubled: 42 } });
    expect(done.content[0]!.text).toMatch(/completed at a cost of 2/);
    expect(progress.join(' | ')).toMatch(/round 1: cfp sent to 1 agents.*awarded.*completed/);
    await client.close();
  });

  it('answers a bad input as a tool error naming the field, never a broken session', async () => {
    const client = await connect('mcp-key-a');
    const bad = await call(client, 'submit_task', { capability: 'math.double', input: { n: 5000 } });
    expect(bad.isError).toBe(true);
    expect(bad.content[0]!.text).toMatch(
      /input\.n: must be <= 1000.*Fix the input to match the capability’s input schema/,
    );
    // The session goes on.
    const ok = await call(client, 'submit_task', { capability: 'math.double', input: { n: 1 } });
    expect(ok.structuredContent.output).toEqual({ doubled: 2 });
    await client.close();
  });

  it('answers the task id of one still running, cancels it, and keeps a client to its own tasks', async () => {
    const a = await connect('mcp-key-a');
    const b = await connect('mcp-key-b');
    const running = await call(a, 'submit_task', { capability: 'slow.work', input: {}, waitSeconds: 1 });
    expect(running.structuredContent.state).toMatch(/bidding|awarded|pending/);
    const id = running.structuredContent.taskId as string;
    const other = await call(b, 'get_task', { taskId: id });
    expect(other.isError).toBe(true);
    expect(other.structuredContent.status).toBe(404);
    const cancelled = await call(a, 'cancel_task', { taskId: id });
    expect(cancelled.isError).toBeFalsy();
    expect((await call(a, 'get_task', { taskId: id })).structuredContent.state).toBe('cancelled');
    await a.close();
    await b.close();
  });

  it('runs a pipeline whose stages name each other', async () => {
    const client = await connect('mcp-key-a');
    const res = await call(client, 'submit_pipeline', {
      tasks: [
        { name: 'first', capability: 'math.double', input: { n: 3 } },
        { name: 'second', capability: 'math.double', input: { n: 4 }, dependsOn: ['first'] },
      ],
      waitSeconds: 30,
    });
    expect(res.structuredContent).toMatchObject({ state: 'completed', output: { doubled: 8 } });
    expect(Object.keys(res.structuredContent.stages)).toEqual(['first', 'second']);
    const unknown = await call(client, 'submit_pipeline', {
      tasks: [{ name: 'x', capability: 'math.double', input: { n: 1 }, dependsOn: ['nope'] }],
    });
    expect(unknown.isError).toBe(true);
    expect(unknown.content[0]!.text).toMatch(/tasks\.0\.dependsOn: nope is not an earlier stage/);
    await client.close();
  });

  it('refuses a wrong key before anything', async () => {
    const res = await fetch(`${m.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: 'Bearer wrong',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(403);
    await expect(connect('not-a-key')).rejects.toThrow();
  });

  it('serves the same tools over stdio (cnet mcp), as desktop clients launch it', async () => {
    const client = new Client({ name: 'desktop', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ['bin/cnet.js', 'mcp', '--manager', m.url],
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', CNET_API_KEY: 'mcp-key-a' },
        stderr: 'pipe',
      }),
    );
    const done = (await client.callTool({
      name: 'submit_task',
      arguments: { capability: 'math.double', input: { n: 50 } },
    })) as ToolResult;
    expect(done.structuredContent).toMatchObject({ state: 'completed', output: { doubled: 100 } });
    await client.close();
  });
});
