import { z } from '@hono/zod-openapi';

/** A UUID; the manager mints time-ordered v7 ids. */
export const Id = z.uuid();

/** ISO 8601 timestamp in UTC, as every time on the wire. */
export const Timestamp = z.iso.datetime({ offset: true });

/** Capability names are stable identifiers agents and clients agree on. */
export const CapabilityName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$');

/**
 * Arbitrary JSON a task carries in or out; kept opaque by the manager. (Not `z.json()`: its
 * recursion breaks the OpenAPI generator, and the body parser has already ensured it is JSON.)
 */
export const JsonValue = z
  .unknown()
  .refine((v) => v !== undefined, 'is required')
  .openapi({ description: 'any JSON value' });

/** The one error shape of every non-2xx answer. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('Error');
export type ErrorBody = z.infer<typeof ErrorBody>;

/** A page of a list: newest first, `nextCursor` is null on the last page. */
export const page = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
