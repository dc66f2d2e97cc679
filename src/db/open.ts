import { join } from 'node:path';
import type { Db } from './db.js';
import { openEmbedded } from './embedded.js';
import { migrate } from './migrate.js';
import { openPostgres } from './postgres.js';

export interface DbConfig {
  databaseUrl?: string;
  varDir: string;
}

/**
 * DATABASE_URL set → the PostgreSQL server; otherwise the embedded PGlite under var/pg, shared
 * by every process on this var dir (the first opener serves it to the others: embedded.ts).
 * Migrations are applied on open (idempotent, safe from several processes).
 */
export async function openDb(cfg: DbConfig, opts: { migrate?: boolean } = {}): Promise<Db> {
  const db = cfg.databaseUrl ? openPostgres({ url: cfg.databaseUrl }) : await openEmbedded(join(cfg.varDir, 'pg'));
  if (opts.migrate !== false) {
    try {
      await migrate(db);
    } catch (e) {
      await db.close().catch(() => {});
      throw e;
    }
  }
  return db;
}
