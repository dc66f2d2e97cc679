import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Integration tests run against the real PostgreSQL server (127.0.0.1:5432 on dev and CI
 * machines). Each test file gets its own schema, dropped afterwards. When the server is
 * missing the test fails with a message saying so: integration tests never skip.
 */
export const TEST_DATABASE_URL = process.env.KESTREL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function createTestSchema(base = TEST_DATABASE_URL): Promise<{ url: string; schema: string; drop: () => Promise<void> }> {
  const schema = `kt_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(`PostgreSQL is required for integration tests at ${base} (${(e as Error).message}); start it: pg_ctlcluster --skip-systemctl-redirect 15 main start`, { cause: e });
  }
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: u.toString(),
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}
