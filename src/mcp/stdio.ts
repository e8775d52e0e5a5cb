import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Catalogue } from '../protocol/catalogue.ts';
import { MarketApi } from './market-api.ts';
import { marketMcpServer } from './market-tools.ts';

/**
 * `cnet mcp`: the market's MCP tools over stdio, for clients that launch a command, bridged to
 * a manager's HTTP API with the API key from the environment (CNET_API_KEY). Stdout carries
 * only MCP messages; anything else goes to stderr. The process ends when the client closes stdin.
 */
export async function serveMcpOverStdio(manager: string, apiKey: string | undefined): Promise<void> {
  const api = new MarketApi(manager.replace(/\/+$/, ''), apiKey ? `Bearer ${apiKey}` : undefined);
  const listed = await api.call('GET', '/v1/capabilities').catch((err: unknown) => {
    process.stderr.write(
      `cnet mcp: cannot reach the manager at ${manager} (${(err as Error).message}); the tools will say so when called\n`,
    );
    return null;
  });
  const server = marketMcpServer(api, listed?.status === 200 ? (listed.body as Catalogue) : null);
  const transport = new StdioServerTransport();
  transport.onclose = () => process.exit(0);
  process.stdin.on('end', () => process.exit(0));
  await server.connect(transport);
}
