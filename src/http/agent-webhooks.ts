import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { AcceptProposal, AwardReply, Cancel, Cfp, CfpReply, RejectProposal } from '../protocol/messages.ts';
import { SIGNATURE_HEADER } from '../protocol/signature.ts';
import type { AppEnv } from './deps.ts';
import { json } from './openapi-helpers.ts';

/** The header on every call the manager makes to an agent (docs/PROTOCOL.md, Signatures). */
const Signed = z.object({
  [SIGNATURE_HEADER]: z
    .string()
    .regex(/^t=[1-9]\d{0,15},v1=[0-9a-f]{64}$/)
    .openapi({
      description:
        't=<unix ms>,v1=<hex HMAC-SHA256, keyed by the agent token (its UTF-8 bytes), over "<t>.<raw body>">; refuse it when t is more than 5 minutes from your clock, malformed, or already seen',
      example: 't=1767225600000,v1=5f0c…',
    }),
  traceparent: z.string().optional().openapi({ description: "W3C trace context of the task's round" }),
});

const declined = {
  description:
    '400, 413, 415 or 422: the agent declines this message (a cfp so answered is a refusal); none counts against its circuit',
};

/**
 * The calls the manager makes to an agent's endpoint, as OpenAPI 3.1 `webhooks` generated from
 * the same zod schemas the manager validates the answers with: a generator can build an agent
 * server from /openapi.json.
 */
export function registerAgentWebhooks(app: OpenAPIHono<AppEnv>) {
  const hook = (
    path: string,
    summary: string,
    body: z.ZodType,
    ok: ReturnType<typeof json> | { description: string },
  ) =>
    app.openAPIRegistry.registerWebhook({
      method: 'post',
      path,
      tags: ['agent endpoint (called by the manager)'],
      summary,
      request: {
        headers: Signed,
        body: { content: { 'application/json': { schema: body } }, required: true },
      },
      responses: { 200: ok, 400: declined, 413: declined, 415: declined, 422: declined },
    });
  hook(
    '/cfp',
    'A call for proposals: answer propose, refuse or deferred before replyBy',
    Cfp,
    json(CfpReply, 'The bid (or the refusal, or deferred: the bid follows by POST /v1/tasks/{id}/bids)'),
  );
  hook(
    '/award',
    'Accept-proposal: the task is yours; agree (and report the result later) or answer it inline',
    AcceptProposal,
    json(AwardReply, 'agree, inform-result with the output, or refuse'),
  );
  hook('/reject', 'Reject-proposal: your bid was not taken (any 2xx)', RejectProposal, {
    description: 'Noted',
  });
  hook('/cancel', 'Cancel: stop working on the award (any 2xx)', Cancel, { description: 'Stopped' });
}
