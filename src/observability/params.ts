import { HttpError } from './http-error.js';

/**
 * Schemas of query-string and path parameters shared by the services: every parameter has a
 * format and a range, so what reaches a handler (and PostgreSQL) is already sane. Integers and
 * booleans are coerced from their plain spelling only (see strictText in http-app.ts).
 */

/** Free text (reasons, actors): no control characters (NUL never reaches PostgreSQL; log lines stay one line). */
export const TEXT_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';

/** 1..max, default `dflt`. */
export const limitParam = (max: number, dflt: number, description?: string) => ({ type: 'integer', minimum: 1, maximum: max, default: dflt, ...(description ? { description } : {}) }) as const;

/** A positive row id (bigint columns; never beyond what a double holds exactly). */
export const idParam = (description: string) => ({ type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description }) as const;

/** A date, or an instant with its offset: `2025-01-17`, `2025-01-17T14:30:00Z`, `2025-01-17T09:30:00-05:00`. */
export const INSTANT_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2}))?$';
export const instantParam = (description: string) => ({ type: 'string', maxLength: 35, pattern: INSTANT_PATTERN, description, examples: ['2025-01-17T14:30:00Z'] }) as const;

/** Instants a query may name: 1970-01-01 up to the end of 2199 (PostgreSQL and JS agree there). */
const MIN_MS = Date.UTC(1970, 0, 1);
const MAX_MS = Date.UTC(2200, 0, 1) - 1;

/** An instantParam value as ISO-8601 UTC; 400 naming the field when it is not a real instant in range. */
export function parseInstantParam(v: string, field: string): string {
  const t = new RegExp(INSTANT_PATTERN).test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t) || t < MIN_MS || t > MAX_MS) {
    throw new HttpError(400, 'validation_failed', `${field} must be a date or an ISO-8601 instant with offset between 1970 and 2199, e.g. 2025-01-17T14:30:00Z`, [
      { field, reason: 'must be a date or an ISO-8601 instant with offset (1970-2199), e.g. 2025-01-17T14:30:00Z' },
    ]);
  }
  return new Date(t).toISOString();
}
