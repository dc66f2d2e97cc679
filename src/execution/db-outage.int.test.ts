import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBrokerSim } from '../broker-sim/index.js';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPostgres } from '../db/postgres.js';
import { buildGatewayApp, type GatewayApp } from './app.js';
import { order, simBroker, startSim, waitFor } from './test-helpers.js';

/**
 * Database outage: a THROWAWAY PostgreSQL cluster (never the shared server) is stopped with
 * `pg_ctl -m immediate stop` under a running gateway. New orders → 503 and nothing reaches the
 * broker. Needs PostgreSQL 15's binaries and root (runuser); fails, never skips, without them.
 */
const BIN = '/usr/lib/postgresql/15/bin';
let dir: string;
let port: number;
let sim: RunningBrokerSim;
let db: Db;
let app: GatewayApp;

const asPostgres = (cmd: string, args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args], { stdio: 'pipe', timeout: 60_000 });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function stopCluster(): void {
  try {
    asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  } catch {
    // already stopped
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-pg-outage-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  port = await freePort();
  asPostgres('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres']);
  asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', join(dir, 'log'), '-w', 'start']);
  sim = await startSim();
  db = openPostgres({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, connectTimeoutMs: 1_000 });
  await migrate(db);
  app = await buildGatewayApp({ db, broker: simBroker(sim), clock: systemClock, logger: silentLogger() });
  await app.ready();
  await app.gateway.startup;
}, 120_000);

afterAll(async () => {
  await app?.close();
  await db?.close().catch(() => undefined);
  await sim?.close();
  if (dir) {
    stopCluster();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('database outage', () => {
  it('orders work while the database is up', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/v1/orders', payload: order({ strategy_id: 'db-up' }) });
    expect(r.statusCode).toBe(201);
    expect(sim.sim.listOrders({ status: 'all' })).toHaveLength(1);
    await waitFor('fill applied', async () => (await app.inject({ url: `/api/v1/orders/${r.json().client_order_id}` })).json().status === 'filled');
    await app.gateway.consumer!.idle();
  });

  it('database down → 503 for new orders, nothing sent to the broker, health 503', async () => {
    stopCluster();
    const r = await app.inject({ method: 'POST', url: '/api/v1/orders', payload: order({ strategy_id: 'db-down' }) });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ error: 'database_unavailable' });
    // A resubmission of a known order cannot be answered either — and is not sent.
    const again = await app.inject({ method: 'POST', url: '/api/v1/orders', payload: order({ strategy_id: 'db-up' }) });
    expect(again.statusCode).toBe(503);
    expect(sim.sim.listOrders({ status: 'all' })).toHaveLength(1);
    const h = await app.inject({ url: '/health' });
    expect(h.statusCode).toBe(503);
    expect(h.json().checks.database.status).toBe('down');
    expect((await app.inject({ url: '/api/v1/orders' })).statusCode).toBe(503);
  });
});
