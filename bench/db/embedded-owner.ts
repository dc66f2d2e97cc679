/**
 * What the owner of the embedded database pays for sharing it (issue #13): every query, exec and
 * transaction of this process now goes through the gate (src/db/gate.ts), and the owner serves
 * a socket. Baseline in the same run, on the same PGlite instance: PGlite called directly, as
 * src/db/pglite.ts did before (no gate).
 *
 *   npx tsx bench/db/embedded-owner.ts [--n 2000] [--batch 50] [--json]
 *
 * Workloads, each on its own table: `insert` = one INSERT per call (autocommit); `tx10` = a
 * transaction of 10 INSERTs (a group commit); `select` = SELECT 1. The two variants alternate
 * in batches of --batch calls on one instance (with the socket server listening), so drift on
 * a shared machine hits both alike; reported: µs per call over all batches, and the median of
 * the per-batch-pair ratios. `client` = node-postgres over the owner's Unix socket (a second
 * process's path), n/4 calls, for scale — not a hot path.
 */
import { PGlite } from '@electric-sql/pglite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db, Queryable } from '../../src/db/db.js';
import { createPglite } from '../../src/db/pglite.js';
import { servePglite } from '../../src/db/pglite-server.js';
import { openPostgres } from '../../src/db/postgres.js';
import { benchArgs } from '../lib/args.js';
import { runBench } from '../lib/run.js';

const args = benchArgs();
const N = Number(args.flag('n', '2000'));
const BATCH = Number(args.flag('batch', '50'));
const root = mkdtempSync(join(tmpdir(), 'kestrel-bench-emb-'));
const closers: Array<() => Promise<void>> = [];

/** The wrapper as it was before the gate: PGlite's own queueing only. */
function direct(pg: PGlite): Db {
  const q = (c: Pick<PGlite, 'query'>) => async <T>(sql: string, params?: readonly unknown[]) => {
    const r = await c.query<T>(sql, params as unknown[] | undefined);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  };
  return {
    kind: 'pglite',
    query: q(pg),
    exec: async (sql) => void (await pg.exec(sql)),
    transaction: (fn) => pg.transaction((tx) => fn({ query: q(tx), exec: async (sql) => void (await tx.exec(sql)) } as Queryable)),
    ping: async () => void (await pg.query('SELECT 1')),
    close: () => pg.close(),
  };
}

const workloads: Record<string, (db: Db, i: number) => Promise<unknown>> = {
  insert: (db, i) => db.query('INSERT INTO b_insert (n, v) VALUES ($1, $2)', [i, 'x']),
  tx10: (db, i) =>
    db.transaction(async (tx) => {
      for (let k = 0; k < 10; k++) await tx.query('INSERT INTO b_tx (n, v) VALUES ($1, $2)', [i * 10 + k, 'x']);
    }),
  select: (db) => db.query('SELECT 1'),
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r1 = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  args.log(`embedded owner bench: ${N} calls per workload and variant, alternating batches of ${BATCH} (PGlite on ${root})`);
  const h = await createPglite(join(root, 'pg'));
  closers.push(() => h.db.close());
  const server = await servePglite(h.pg, h.gate, { socketDir: join(root, 'pg.run') });
  closers.unshift(() => server.close());
  const variants = { direct: direct(h.pg), owner: h.db };
  const addr = server.address as { socketDir: string; port: number };
  const client = openPostgres({ url: `postgres://postgres@localhost:${addr.port}/postgres?host=${encodeURIComponent(addr.socketDir)}&sslmode=disable`, max: 2, sessionOptions: false, statementTimeoutMs: 0 });
  closers.unshift(() => client.close());
  await h.db.exec('CREATE TABLE b_insert (n int, v text); CREATE TABLE b_tx (n int, v text)');

  const result: Record<string, { direct: number; owner: number; owner_vs_direct: number; median_batch_ratio: number; client: number }> = {};
  let i = 0;
  for (const [w, fn] of Object.entries(workloads)) {
    const total = { direct: 0, owner: 0 };
    const ratios: number[] = [];
    for (let b = 0; b < N / BATCH; b++) {
      const t: Record<string, number> = {};
      for (const v of b % 2 ? (['owner', 'direct'] as const) : (['direct', 'owner'] as const)) {
        const t0 = performance.now();
        for (let k = 0; k < BATCH; k++) await fn(variants[v], i++);
        t[v] = performance.now() - t0;
        total[v] += t[v];
      }
      ratios.push(t.owner! / t.direct!);
    }
    const nc = Math.max(1, Math.floor(N / 4));
    const t0 = performance.now();
    for (let k = 0; k < nc; k++) await fn(client, i++);
    const c = ((performance.now() - t0) * 1000) / nc;
    const us = (ms: number) => (ms * 1000) / N;
    result[w] = { direct: r1(us(total.direct)), owner: r1(us(total.owner)), owner_vs_direct: Math.round((total.owner / total.direct) * 1000) / 1000, median_batch_ratio: Math.round(median(ratios) * 1000) / 1000, client: r1(c) };
    args.log(`  ${w} done`);
  }
  // The gate by itself (uncontended), against an empty async call: the cost it adds to any call.
  const noop = async () => {};
  const gateUs: number[] = [];
  for (let r = 0; r < 5; r++) {
    let t0 = performance.now();
    for (let k = 0; k < 100_000; k++) await noop();
    const bare = performance.now() - t0;
    t0 = performance.now();
    for (let k = 0; k < 100_000; k++) await h.gate.run(noop);
    gateUs.push(((performance.now() - t0 - bare) * 1000) / 100_000);
  }
  const gate = Math.round(median(gateUs) * 100) / 100;
  if (args.json) console.log(JSON.stringify({ n: N, batch: BATCH, us_per_call: result, gate_alone_us: gate }, null, 2));
  else {
    console.log('\nµs per call            direct     owner   owner/direct   median batch ratio   client (socket)');
    for (const [w, r] of Object.entries(result)) {
      console.log(`${w.padEnd(18)} ${String(r.direct).padStart(9)} ${String(r.owner).padStart(9)} ${r.owner_vs_direct.toFixed(3).padStart(14)} ${r.median_batch_ratio.toFixed(3).padStart(20)} ${String(r.client).padStart(17)}`);
    }
    console.log(`the gate alone (uncontended, median of 5 × 100,000): ${gate} µs per call`);
  }
}

runBench(main, async () => {
  for (const c of closers.splice(0)) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});
