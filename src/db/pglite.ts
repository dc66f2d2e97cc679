import { PGlite } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';
import { toDateString, toIsoUtc, type Db, type Queryable, type QueryResult } from './db.js';
import { Gate } from './gate.js';

/** An open PGlite with the gate every user of it goes through (the Db below, the socket server). */
export interface PgliteHandle {
  pg: PGlite;
  gate: Gate;
  db: Db;
}

/**
 * Embedded Postgres (PGlite) in this process. One backend session: each query, exec and
 * transaction holds the gate for its whole duration, so nothing else (another caller here, or
 * a client of the socket server) runs inside an open transaction. `dir` null = in memory
 * (tests). A directory must have one opener only: use openEmbedded (embedded.ts), which locks
 * it and lets later processes in over the socket.
 */
export async function openPglite(dir: string | null): Promise<Db> {
  return (await createPglite(dir)).db;
}

export async function createPglite(dir: string | null): Promise<PgliteHandle> {
  if (dir) mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create(dir ?? undefined, {
    parsers: {
      1184: (v: string) => toIsoUtc(v),
      1114: (v: string) => toIsoUtc(v + 'Z'),
      1082: (v: string) => toDateString(v),
      20: (v: string) => Number(v),
    },
  });
  const gate = new Gate();
  const q =
    (c: Pick<PGlite, 'query'>) =>
    async <T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> => {
      const r = await c.query<T>(sql, params as unknown[] | undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    };
  const query = q(pg);
  const db: Db = {
    kind: 'pglite',
    query: (sql, params) => gate.run(() => query(sql, params)),
    exec: (sql) =>
      gate.run(async () => {
        await pg.exec(sql);
      }),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) =>
      gate.run(() =>
        pg.transaction((tx) =>
          fn({
            query: q(tx),
            exec: async (sql) => {
              await tx.exec(sql);
            },
          }),
        ),
      ),
    ping: () =>
      gate.run(async () => {
        await pg.query('SELECT 1');
      }),
    close: () => gate.run(() => pg.close()),
  };
  return { pg, gate, db };
}
