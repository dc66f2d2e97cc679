import pg from 'pg';
import { DatabaseUnavailableError, isConnectionError, toDateString, toIsoUtc, type Db, type Queryable, type QueryResult } from './db.js';

const { Pool, types } = pg;

/** Per-pool type parsers (no global mutation): see db.ts for the normalisation contract. */
const parsers: Record<number, (v: string) => unknown> = {
  1184: (v) => toIsoUtc(v), // timestamptz
  1114: (v) => toIsoUtc(v + 'Z'), // timestamp (stored as UTC)
  1082: (v) => toDateString(v), // date
  20: (v) => Number(v), // int8
};

export interface PostgresOptions {
  url: string;
  max?: number;
  /** Connection attempt timeout; a dead server must fail fast, not hang a request. */
  connectTimeoutMs?: number;
  /** 0 = none (not sent). */
  statementTimeoutMs?: number;
  /** Send Kestrel's session settings (below); false for the embedded database's shared session. */
  sessionOptions?: boolean;
}

/**
 * Session settings sent with every connection, before any from the URL's own `options` (which
 * win). random_page_cost 1.1 instead of 4: Kestrel's working set is in memory or on SSD, where
 * an index probe costs about what a sequential page does; with 4 the planner scanned whole
 * tables of orders and fills for a batch of a few hundred ids (see plans.int.test.ts).
 */
const SESSION_OPTIONS = '-c random_page_cost=1.1';

/**
 * node-postgres lets the URL's parameters replace the config's, so `options` is taken out of
 * the URL and sent after ours. A connection string the WHATWG parser refuses (libpq's
 * socket form `postgres://user@/db?host=/run/postgresql`) is passed on unchanged, without ours.
 */
function connectionConfig(raw: string, ours = true): { connectionString: string; options?: string } {
  if (!ours) return { connectionString: raw };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { connectionString: raw };
  }
  const own = url.searchParams.get('options');
  url.searchParams.delete('options');
  return { connectionString: url.toString(), options: own ? `${SESSION_OPTIONS} ${own}` : SESSION_OPTIONS };
}

export function openPostgres(opts: PostgresOptions): Db {
  const pool = new Pool({
    ...connectionConfig(opts.url, opts.sessionOptions ?? true),
    max: opts.max ?? 20,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 2_000,
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => parsers[oid] ?? types.getTypeParser(oid, format)) as typeof types.getTypeParser },
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => {});

  const wrap = async <T>(p: () => Promise<T>): Promise<T> => {
    try {
      return await p();
    } catch (e) {
      throw isConnectionError(e) ? new DatabaseUnavailableError(e) : e;
    }
  };
  const q =
    (c: Pick<pg.Pool, 'query'>) =>
    async <T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> => {
      const r = await wrap(() => c.query(sql, params as unknown[] | undefined));
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    };

  const exec = (c: Pick<pg.Pool, 'query'>) => async (sql: string) => {
    await wrap(() => c.query(sql));
  };

  return {
    kind: 'postgres',
    query: q(pool),
    exec: exec(pool),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await wrap(() => pool.connect());
      let broken = false;
      // A connection lost mid-transaction surfaces through the failing query, never as a process crash.
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      try {
        await wrap(() => client.query('BEGIN'));
        const out = await fn({ query: q(client), exec: exec(client) });
        await wrap(() => client.query('COMMIT'));
        return out;
      } catch (e) {
        broken = e instanceof DatabaseUnavailableError;
        if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
        throw e;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async ping() {
      await q(pool)('SELECT 1');
    },
    close: () => pool.end(),
  };
}
