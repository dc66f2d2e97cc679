/**
 * What the owner of the embedded database pays for sharing it (issue #13): every query, exec and
 * transaction of this process now goes through the gate (src/db/gate.ts), and the owner serves
 * a socket. Measured against the baseline of the same run: PGlite called directly, as
 * src/db/pglite.ts did before (no gate, no server).
 *
 *   npx tsx bench/db/embedded-owner.ts [--n 2000] [--rounds 5] [--json]
 *
 * Workloads, each on its own table: `insert` = one INSERT per call (autocommit); `tx10` = a
 * transaction of 10 INSERTs (a group commit); `select` = SELECT 1. Rounds alternate the
 * variants so drift on a shared machine hits both alike; medians of per-call microseconds.
 * Variants: `direct` (old wrapper on a directory), `owner` (openEmbedded on a directory:
 * gate + socket server, no client connected), and `client` (a second openEmbedded on the
 * same directory: node-postgres over the Unix socket, for scale — not a hot path).
 */
import { PGlite } from '@electric-sql/pglite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db, Queryable } from '../../src/db/db.js';
import { openEmbedded } from '../../src/db/embedded.js';
import { benchArgs } from '../lib/args.js';
import { runBench } from '../lib/run.js';

const args = benchArgs();
const N = Number(args.flag('n', '2000'));
const ROUNDS = Number(args.flag('rounds', '5'));
const root = mkdtempSync(join(tmpdir(), 'kestrel-bench-emb-'));
const open: Array<{ close(): Promise<void> }> = [];

/** The wrapper as it was before the gate: PGlite's own queueing only. */
async function direct(dir: string): Promise<Db> {
  const pg = await PGlite.create(dir);
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

async function main(): Promise<void> {
  const dDir = join(root, 'direct');
  const oDir = join(root, 'owned', 'pg');
  args.log(`embedded owner bench: ${N} calls per workload and round, ${ROUNDS} rounds (PGlite on ${root})`);
  const variants: Record<string, Db> = {};
  variants.direct = await direct(dDir);
  open.push(variants.direct);
  variants.owner = await openEmbedded(oDir);
  open.push(variants.owner);
  variants.client = await openEmbedded(oDir);
  open.unshift(variants.client);
  for (const db of [variants.direct, variants.owner]) {
    await db.exec('CREATE TABLE b_insert (n int, v text); CREATE TABLE b_tx (n int, v text)');
  }

  const us: Record<string, Record<string, number[]>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [w, fn] of Object.entries(workloads)) {
      const order = round % 2 ? ['owner', 'direct', 'client'] : ['direct', 'owner', 'client'];
      for (const v of order) {
        const n = v === 'client' ? Math.max(1, Math.floor(N / 4)) : N;
        const db = variants[v]!;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await fn(db, round * N + i);
        ((us[w] ??= {})[v] ??= []).push(((performance.now() - t0) * 1000) / n);
      }
    }
    args.log(`  round ${round + 1}/${ROUNDS} done`);
  }

  const result = Object.fromEntries(
    Object.entries(us).map(([w, byV]) => {
      const m = (v: string) => Math.round(median(byV[v]!) * 10) / 10;
      return [w, { direct: m('direct'), owner: m('owner'), client: m('client'), owner_vs_direct: Math.round((m('owner') / m('direct')) * 1000) / 1000, all_rounds: byV }];
    }),
  );
  if (args.json) console.log(JSON.stringify({ n: N, rounds: ROUNDS, us_per_call_median: result }, null, 2));
  else {
    console.log('\nmedian µs per call      direct     owner   owner/direct   client (socket)');
    for (const [w, r] of Object.entries(result)) {
      console.log(`${w.padEnd(20)} ${String(r.direct).padStart(9)} ${String(r.owner).padStart(9)} ${r.owner_vs_direct.toFixed(3).padStart(14)} ${String(r.client).padStart(17)}`);
    }
  }
}

runBench(main, async () => {
  for (const db of open.splice(0)) await db.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});
