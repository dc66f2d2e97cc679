/** An error that knows its HTTP answer (status, machine code, message, per-field details). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: Array<{ field: string; reason: string }>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
