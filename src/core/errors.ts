/**
 * Error kinds every entry point maps the same way: bad input is the caller's to fix
 * (exit 2 / HTTP 4xx), everything else is ours (exit 1 / HTTP 5xx).
 */
export class KestrelError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input (arguments, files, config, SQL) is wrong; the message says what and where. */
export class InputError extends KestrelError {
  constructor(message: string, code = 'bad_input') {
    super(message, code, 2);
  }
}

/**
 * One input value is wrong: which field, and why (the reason reads after the field name:
 * `limit_price` + `must be greater than 0`). Services answer 422 with `details: [{field, reason}]`;
 * the CLI prints `field reason` and exits 2. A domain error, not an HTTP one: parsers in
 * src/model throw it whatever the entry point.
 */
export class FieldError extends InputError {
  constructor(
    readonly field: string,
    readonly reason: string,
    code = 'invalid_value',
  ) {
    super(`${field} ${reason}`, code);
  }
}

/** The work ran and failed on its own terms (e.g. a quality tolerance was exceeded). */
export class FailureError extends KestrelError {
  constructor(message: string, code = 'failed') {
    super(message, code, 1);
  }
}

/** One line for a human: the message of a KestrelError, otherwise the error's first line. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]?.trim() || 'unknown error';
}
