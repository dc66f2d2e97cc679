/**
 * The one database interface: PostgreSQL through node-postgres when DATABASE_URL is set,
 * PGlite (Postgres compiled to WASM, in-process, persisted under var/pg) otherwise. Same SQL,
 * same migrations. Values come back normalised the same way from both:
 * NUMERIC → string (wrap in Decimal), timestamptz → ISO-8601 UTC string, date → 'YYYY-MM-DD',
 * int8 → number.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Runs a script of several statements (no parameters), e.g. a migration. */
  exec(sql: string): Promise<void>;
}

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Cheap liveness probe (SELECT 1 with a short timeout). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Raised when the database cannot be reached: services answer 503 and do nothing else. */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`database unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

export const toIsoUtc = (v: string | Date): string => (v instanceof Date ? v : new Date(v)).toISOString();
export const toDateString = (v: string | Date): string => (v instanceof Date ? v.toISOString().slice(0, 10) : v.slice(0, 10));

/** Connection-level failures (as opposed to SQL errors such as a constraint violation). */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  if (typeof code === 'string' && (/^08/.test(code) || code === '57P01' || code === '57P02' || code === '57P03')) return true;
  // ENOENT: a Unix socket whose server is gone (the embedded database's owner exited).
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENOENT'].includes(code)) return true;
  const msg = e instanceof Error ? e.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|closed/i.test(msg);
}
