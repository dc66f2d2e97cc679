import { openPglite } from '../../db/pglite.js';
import { tickStoreSuite } from './test-helpers.js';

tickStoreSuite('PGlite', async () => ({ db: await openPglite(null), done: async () => {} }));
