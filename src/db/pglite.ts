import { PGlite } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';
import { toDateString, toIsoUtc, type Db, type Queryable, type QueryResult } from './db.js';

/**
 * Embedded Postgres (PGlite). One connection, so statements are serialised by PGlite itself;
 * a transaction holds it exclusively until it ends. `dir` null = in memory (tests).
 */
export async function openPglite(dir: string | null): Promise<Db> {
  if (dir) mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir ?? undefined, {
    parsers: {
      1184: (v: string) => toIsoUtc(v),
      1114: (v: string) => toIsoUtc(v + 'Z'),
      1082: (v: string) => toDateString(v),
      20: (v: string) => Number(v),
    },
  });
  const q =
    (c: Pick<PGlite, 'query'>) =>
    async <T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> => {
      const r = await c.query<T>(sql, params as unknown[] | undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    };
  return {
    kind: 'pglite',
    query: q(db),
    exec: async (sql) => {
      await db.exec(sql);
    },
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) =>
      db.transaction((tx) =>
        fn({
          query: q(tx),
          exec: async (sql) => {
            await tx.exec(sql);
          },
        }),
      ),
    async ping() {
      await db.query('SELECT 1');
    },
    close: () => db.close(),
  };
}
