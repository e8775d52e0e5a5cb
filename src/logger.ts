import { type Logger, pino } from 'pino';

/** JSON logs on stdout (pino); `silent` in tests unless LOG_LEVEL says otherwise. */
export function createLogger(level: string, name = 'manager'): Logger {
  return pino({ name, level });
}
