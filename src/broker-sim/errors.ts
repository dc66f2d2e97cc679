/**
 * Alpaca answers errors as `{"code": <8 digits>, "message": "..."}` (sometimes with extra
 * fields, e.g. `buying_power` on a 403). The code's first three digits repeat the HTTP status
 * (40010001 → 400-family validation, 40310000 → 403, 40410000 → 404, 42210000 → 422).
 */
export class AlpacaApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: number,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AlpacaApiError';
  }

  body(): Record<string, unknown> {
    return { ...this.extra, code: this.code, message: this.message };
  }
}

export const CODES = {
  malformed: 40010000,
  invalid: 40010001,
  unauthorized: 40110000,
  forbidden: 40310000,
  notFound: 40410000,
  unprocessable: 42210000,
  internal: 50010000,
} as const;

/** A request Alpaca would refuse as invalid: 422 with code 40010001. */
export const invalid = (message: string) => new AlpacaApiError(422, CODES.invalid, message);
export const notFound = (message: string) => new AlpacaApiError(404, CODES.notFound, message);
