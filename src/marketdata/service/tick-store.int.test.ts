import { openPostgres } from '../../db/postgres.js';
import { createTestSchema } from '../../db/test-helpers.js';
import { tickStoreSuite } from './test-helpers.js';

// Real PostgreSQL: fails (never skips) when the server is missing.
tickStoreSuite('PostgreSQL', async () => {
  const s = await createTestSchema();
  return { db: openPostgres({ url: s.url }), done: s.drop };
});
