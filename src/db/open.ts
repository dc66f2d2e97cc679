import { join } from 'node:path';
import type { Db } from './db.js';
import { migrate } from './migrate.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

export interface DbConfig {
  databaseUrl?: string;
  varDir: string;
}

/**
 * DATABASE_URL set → the PostgreSQL server; otherwise embedded PGlite under var/pg.
 * Migrations are applied on open (idempotent, safe from several processes).
 */
export async function openDb(cfg: DbConfig, opts: { migrate?: boolean } = {}): Promise<Db> {
  const db = cfg.databaseUrl ? openPostgres({ url: cfg.databaseUrl }) : await openPglite(join(cfg.varDir, 'pg'));
  if (opts.migrate !== false) await migrate(db);
  return db;
}
