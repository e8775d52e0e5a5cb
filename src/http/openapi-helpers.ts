import { z } from '@hono/zod-openapi';
import { ErrorBody } from '../protocol/common.ts';

const err = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorBody } },
});

/** The error answers every route may give, for the OpenAPI document. */
export const errorResponses = {
  400: err('Malformed JSON'),
  401: err('Missing credentials'),
  403: err('Wrong credentials or not yours'),
  404: err('Not found'),
  409: err('Conflict with the current state'),
  413: err('Body too large'),
  415: err('Body is not application/json'),
  422: err('Invalid fields; details name each one'),
  429: {
    ...err('Too many requests, requests held open, or rounds waiting; try again after Retry-After'),
    headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } },
  },
} as const;

/** A hold or debit the ledger refused (ACCOUNTS=true): insufficient_funds, or over_limit naming the limit. */
export const paymentResponses = {
  402: err('Not enough available in the account, or over one of its limits (ACCOUNTS=true)'),
} as const;

export const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const IdParam = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });

/** Query `limit` and `cursor` of every list. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.uuid().optional(),
});

export const bearer = [{ bearer: [] }];
