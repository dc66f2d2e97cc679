import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/db.js';
import { openPglite } from '../db/pglite.js';
import { openPostgres } from '../db/postgres.js';
import { createTestSchema } from '../db/test-helpers.js';
import { runStatement, statement } from './sql.js';

/** The prepared-statement pass-through the gateway's hot path relies on (see sql.ts). */
const add = statement('test_add', 'SELECT $1::int + 1 AS x');

describe('named statements', () => {
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let pg: Db;
  beforeAll(async () => {
    schema = await createTestSchema();
    pg = openPostgres({ url: schema.url });
  });
  afterAll(async () => {
    await pg?.close();
    await schema?.drop();
  });

  it('PostgreSQL: runs as a named prepared statement, on the pool and in a transaction', async () => {
    expect((await runStatement<{ x: number }>(pg, add, [41])).rows).toEqual([{ x: 42 }]);
    const prepared = await pg.transaction(async (tx) => {
      expect((await runStatement<{ x: number }>(tx, add, [1], 'postgres')).rows).toEqual([{ x: 2 }]);
      expect((await runStatement<{ x: number }>(tx, add, [2], 'postgres')).rows).toEqual([{ x: 3 }]);
      return (await tx.query<{ name: string }>('SELECT name FROM pg_prepared_statements')).rows.map((r) => r.name);
    });
    expect(prepared).toContain('kestrel_exec_test_add');
  });

  it('PostgreSQL: a planEachTime statement is never prepared (planned at every execution)', async () => {
    const fresh = statement('test_fresh', 'SELECT $1::int * 2 AS x', { planEachTime: true });
    const prepared = await pg.transaction(async (tx) => {
      for (let i = 0; i < 7; i++) expect((await runStatement<{ x: number }>(tx, fresh, [i], 'postgres')).rows).toEqual([{ x: 2 * i }]);
      return (await tx.query<{ name: string }>('SELECT name FROM pg_prepared_statements')).rows.map((r) => r.name);
    });
    expect(prepared).not.toContain('kestrel_exec_test_fresh');
  });

  it('PGlite: runs the same text', async () => {
    const db = await openPglite(null);
    try {
      expect((await runStatement<{ x: number }>(db, add, [41])).rows).toEqual([{ x: 42 }]);
      await db.transaction(async (tx) => expect((await runStatement<{ x: number }>(tx, add, [1], 'pglite')).rows).toEqual([{ x: 2 }]));
    } finally {
      await db.close();
    }
  });
});
