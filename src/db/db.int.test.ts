import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from './db.js';
import { DatabaseUnavailableError } from './db.js';
import { openEmbedded } from './embedded.js';
import { loadMigrations, migrate } from './migrate.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';
import { createTestSchema, TEST_DATABASE_URL } from './test-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-mig-'));
writeFileSync(join(dir, '0001_first.sql'), 'CREATE TABLE t (id serial PRIMARY KEY, amount numeric(20,6) NOT NULL, at timestamptz NOT NULL DEFAULT now(), d date);\nCREATE INDEX t_at ON t (at);');
writeFileSync(join(dir, '0002_second.sql'), 'ALTER TABLE t ADD COLUMN note text;');
const migrations = loadMigrations(dir + '/');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The same contract, checked on both engines. */
function contract(name: string, open: () => Promise<{ db: Db; done: () => Promise<void> }>) {
  describe(name, () => {
    let db: Db;
    let done: () => Promise<void>;
    beforeAll(async () => {
      ({ db, done } = await open());
    });
    afterAll(async () => {
      await db.close();
      await done();
    });

    it('applies migrations once, in order', async () => {
      expect(await migrate(db, migrations)).toEqual([1, 2]);
      expect(await migrate(db, migrations)).toEqual([]);
      const r = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(r.rows.map((x) => x.version)).toEqual([1, 2]);
    });

    it('normalises values: numeric as exact string, timestamptz as UTC ISO, date as YYYY-MM-DD, int8 as number', async () => {
      await db.query("INSERT INTO t (amount, at, d) VALUES ($1, '2025-01-17 09:30:00-05', '2025-01-17')", ['12345678901234.123456']);
      const r = await db.query<{ amount: string; at: string; d: string; n: number }>('SELECT amount, at, d, count(*) OVER () AS n FROM t');
      expect(r.rows[0]).toEqual({ amount: '12345678901234.123456', at: '2025-01-17T14:30:00.000Z', d: '2025-01-17', n: 1 });
    });

    it('rolls a failed transaction back', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO t (amount) VALUES (1)');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      const r = await db.query<{ n: number }>('SELECT count(*) AS n FROM t');
      expect(r.rows[0]!.n).toBe(1);
    });
  });
}

contract('PGlite (embedded default)', async () => ({ db: await openPglite(null), done: async () => {} }));

// What every process but the first on a var dir uses: node-postgres over the owner's socket.
contract('PGlite served to a second opener over its socket', async () => {
  const owner = await openEmbedded(join(dir, 'served', 'pg'));
  return { db: await openEmbedded(join(dir, 'served', 'pg')), done: () => owner.close() };
});

contract('PostgreSQL server', async () => {
  const s = await createTestSchema();
  return { db: openPostgres({ url: s.url }), done: s.drop };
});

describe('PostgreSQL down', () => {
  it('fails fast with DatabaseUnavailableError', async () => {
    const db = openPostgres({ url: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 500 });
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await db.close();
  });
});

describe('PostgreSQL session settings', () => {
  const setting = async (url: string, name: string) => {
    const db = openPostgres({ url });
    try {
      return (await db.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0]!.v;
    } finally {
      await db.close();
    }
  };

  it('plans with random_page_cost 1.1 unless the URL options say otherwise; other URL options still apply', async () => {
    expect(await setting(TEST_DATABASE_URL, 'random_page_cost')).toBe('1.1');
    const u = new URL(TEST_DATABASE_URL);
    u.searchParams.set('options', '-c random_page_cost=2 -c application_name=kestrel-test');
    expect(await setting(u.toString(), 'random_page_cost')).toBe('2');
    expect(await setting(u.toString(), 'application_name')).toBe('kestrel-test');
  });

  it("a libpq socket URL the WHATWG parser refuses still connects (without Kestrel's session option)", async () => {
    // The server's own value applies (4 unless its configuration says otherwise).
    expect(await setting('postgres://postgres@/test?host=/var/run/postgresql', 'random_page_cost')).toMatch(/^\d+(\.\d+)?$/);
  });
});
