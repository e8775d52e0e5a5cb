import { type DestinationStream, type Logger, pino } from 'pino';

/** Keys of database errors that hold a statement's bound values (task inputs, token hashes). */
const VALUE_KEYS = ['params', 'parameters', 'args'];

/**
 * pino's error serializer, minus the values a failed statement was bound to: drizzle puts them
 * in `params` and in its message, postgres.js in `parameters`, PGlite in `params`. The SQL
 * text (placeholders only) stays; what a client sent never reaches the log.
 */
export function safeErr(err: unknown): unknown {
  const out = pino.stdSerializers.errWithCause(err as Error) as Record<string, unknown>;
  return scrub(out, 0);
}

/**
 * PostgreSQL quotes the value it could not take in some messages (`invalid input syntax for type
 * uuid: "..."`) and in `detail` (`Key (idempotency_key)=(...) already exists`): both are cut.
 */
const VALUE_IN_MESSAGE =
  /((?:invalid input (?:syntax|value) for|out of range for|value too long for)[^:\n]*): [^\n]*/g;

function scrub(o: Record<string, unknown>, depth: number): Record<string, unknown> {
  for (const k of VALUE_KEYS) delete o[k];
  if (typeof o.code === 'string' && /^[0-9A-Z]{5}$/.test(o.code)) {
    delete o.detail;
    delete o.where;
  }
  if (typeof o.message === 'string')
    o.message = o.message.replace(/\nparams: [\s\S]*$/, '').replace(VALUE_IN_MESSAGE, '$1: [value]');
  if (typeof o.stack === 'string')
    o.stack = o.stack
      .replace(/\nparams: [\s\S]*?(?=\n\s+at |$)/, '')
      .replace(VALUE_IN_MESSAGE, '$1: [value]');
  if (o.cause && typeof o.cause === 'object' && depth < 5)
    scrub(o.cause as Record<string, unknown>, depth + 1);
  return o;
}

/** JSON logs on stdout (pino); `silent` in tests unless LOG_LEVEL says otherwise. */
export function createLogger(level: string, name = 'manager', destination?: DestinationStream): Logger {
  return pino(
    {
      name,
      level,
      serializers: { err: safeErr },
      // Belt and braces: a header object logged by mistake never carries a credential.
      redact: {
        paths: ['*.authorization', '*.headers.authorization', '*.token', '*.apiKey'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
