/** The statuses an expected failure maps to (PROTOCOL.md's list). */
export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 503;

export type ErrorDetail = { field: string; message: string };

/** The one error type for expected failures, thrown by the domain: a code, the HTTP status it maps to, and a message saying what to do. */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: ErrorStatus,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    options?: { cause?: unknown; retryAfterS?: number },
  ) {
    super(message, options);
    this.retryAfterS = options?.retryAfterS;
  }
  /** For a 429 or 503: when to try again (the Retry-After header). */
  readonly retryAfterS: number | undefined;

  toBody() {
    return {
      error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) },
    };
  }
}

export const notFound = (what: string, id: string) =>
  new AppError(404, 'not_found', `${what} ${id} does not exist`);
