/**
 * Execution gateway throughput: `npx tsx bench/gateway/throughput.ts [--seconds 10] [--concurrency 48] [--dup-seconds 5] [--side sell|alternate] [--json]`
 *
 * Real processes over loopback: the broker simulator (`kestrel serve broker-sim`) and the gateway
 * (`kestrel serve gateway`) as child processes on a fresh schema of the local PostgreSQL server
 * ($KESTREL_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test); this process is the
 * client (node:http with a keep-alive Agent — lighter than fetch, so the client costs less of
 * the shared CPU), N workers each with one request in flight on its own connection.
 *  1. new orders (unique intents) for --seconds: orders/s, p50/p95/p99 latency (201s only);
 *  2. duplicates of already-known orders for --dup-seconds: answers/s (200s only);
 *  3. pgbench ceiling: idempotent single-row INSERT … ON CONFLICT DO NOTHING, -c 8 -j 2 -T 5.
 * Targets (issue): ≥ 3,000 new orders/s with p99 < 20 ms; duplicates ≥ 10,000/s.
 * Everything it starts is stopped and the schema dropped, also on Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort, ThrowawayRedis } from '../../src/bus/test-helpers.js';
import { createTestSchema } from '../../src/db/test-helpers.js';
import { benchArgs } from '../lib/args.js';
import { runBench } from '../lib/run.js';

const { flag, json: JSON_OUT, log } = benchArgs();
// --from dist (default): the children are what users run, `bin/kestrel.js` on the compiled
// dist/ (built first: `npm run build`, a few seconds). --from src: the TypeScript sources
// under tsx (no build; esbuild's keepNames wrappers and the loader cost a few per cent).
const FROM = flag('from', 'dist') as 'dist' | 'src';
const CHILD_ARGS =
  FROM === 'src'
    ? ['--import', 'tsx', fileURLToPath(new URL('../../src/execution/test-child.ts', import.meta.url))]
    : [fileURLToPath(new URL('../../bin/kestrel.js', import.meta.url))];
const SECONDS = Number(flag('seconds', '10'));
const DUP_SECONDS = Number(flag('dup-seconds', '5'));
const CONCURRENCY = Number(flag('concurrency', '48'));
const SIDE = flag('side', 'sell') as 'sell' | 'alternate';
const RISK = process.env.KESTREL_BENCH_RISK === '1';
// --client wrk: the load comes from wrk (C, `apt-get install wrk`) instead of this process's
// node:http workers — the client then costs far less of the shared CPU.
const CLIENT = flag('client', 'node') as 'node' | 'wrk';
const PRICES = { AAPL: '100', MSFT: '200', SPY: '450', QQQ: '380' };

const children: ChildProcess[] = [];
let cleanupSchema: (() => Promise<void>) | null = null;
const tmp = mkdtempSync(join(tmpdir(), 'kestrel-bench-gw-'));

let redis: ThrowawayRedis | null = null;

async function cleanup() {
  agent?.destroy();
  await redis?.kill().catch(() => undefined);
  redis = null;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  if (cleanupSchema) await cleanupSchema().catch(() => undefined);
  cleanupSchema = null;
  rmSync(tmp, { recursive: true, force: true });
}

function startChild(argv: string[], env: Record<string, string>, ready: RegExp): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  // KESTREL_BENCH_PROF=<dir>: CPU profiles of the children (written when they exit).
  const prof = process.env.KESTREL_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.KESTREL_BENCH_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, ...CHILD_ARGS, ...argv], { env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', KESTREL_VAR_DIR: tmp, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let started = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} did not start in 60 s:\n${out}`)), 60_000);
    const on = (c: Buffer) => {
      out += c.toString();
      const m = started ? null : ready.exec(out);
      if (m) {
        started = true;
        clearTimeout(timer);
        resolve({ url: m[1]!, child, output: () => out });
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')} exited ${code}:\n${out}`));
    });
  });
}

interface PhaseResult {
  requests: number;
  ok: number;
  other: Record<string, number>;
  seconds: number;
  per_second: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);
const r2 = (x: number) => Math.round(x * 100) / 100;

let agent: Agent;

/** The first answer that was not the expected status (printed: it says why). */
let firstUnexpected: string | null = null;

/** One POST over a kept-alive connection: its status (the body is kept only for a 4xx/5xx). */
function post(url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: '/api/v1/orders', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const keep = (res.statusCode ?? 0) >= 400 && firstUnexpected === null;
        let text = '';
        res.on('data', (c: Buffer) => {
          if (keep) text += c.toString();
        });
        res.on('end', () => {
          if (keep && firstUnexpected === null) firstUnexpected = `HTTP ${res.statusCode}: ${text.slice(0, 400)}`;
          resolve(res.statusCode ?? 0);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** N workers, each posting the next body until the time is up (or the bodies run out). */
async function phase(url: string, seconds: number, bodyOf: (i: number) => string | null, okStatus: number): Promise<PhaseResult & { bodies: number }> {
  const latencies: number[] = [];
  const other: Record<string, number> = {};
  let next = 0;
  let ok = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const target = new URL(url);
  const worker = async () => {
    while (performance.now() < end) {
      const body = bodyOf(next++);
      if (body === null) return;
      const t = performance.now();
      const status = await post(target, body);
      const ms = performance.now() - t;
      if (status === okStatus) {
        ok++;
        latencies.push(ms);
      } else other[status] = (other[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { requests: ok + Object.values(other).reduce((a, b) => a + b, 0), ok, other, seconds: r2(elapsed), per_second: Math.round(ok / elapsed), p50_ms: r2(pct(latencies, 50)), p95_ms: r2(pct(latencies, 95)), p99_ms: r2(pct(latencies, 99)), max_ms: r2(latencies[latencies.length - 1] ?? NaN), bodies: next };
}

async function analyze(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('ANALYZE orders, fills, positions, order_events');
  } finally {
    await c.end();
  }
}

/** One phase driven by wrk (2 threads, CONCURRENCY connections); same figures as phase(). */
function wrkPhase(url: string, seconds: number, mode: 'new' | 'dup', known: number, okStatus: number): PhaseResult {
  const script = fileURLToPath(new URL('./wrk-orders.lua', import.meta.url));
  const r = spawnSync('wrk', ['-t2', `-c${CONCURRENCY}`, `-d${seconds}s`, '--latency', '-s', script, url], {
    encoding: 'utf8',
    env: { ...process.env, WRK_MODE: mode, WRK_KNOWN: String(Math.max(1, known)), WRK_THREADS: '2', WRK_SIDE: SIDE },
    timeout: (seconds + 30) * 1000,
  });
  const m = /WRK_RESULT (\{.*\})/.exec(r.stdout ?? '');
  if (!m) throw new Error(`wrk failed (is it installed? apt-get install wrk): ${r.error?.message ?? ''} ${r.stderr ?? ''} ${r.stdout ?? ''}`);
  const w = JSON.parse(m[1]!) as { seconds: number; statuses: Record<string, number>; p50_us: number; p95_us: number; p99_us: number; max_us: number };
  const ok = w.statuses[String(okStatus)] ?? 0;
  const other = Object.fromEntries(Object.entries(w.statuses).filter(([k]) => k !== String(okStatus)));
  const ms = (us: number) => r2(us / 1000);
  // wrk's percentiles cover every answer, not only the expected status.
  return { requests: Object.values(w.statuses).reduce((a, b) => a + b, 0), ok, other, seconds: r2(w.seconds), per_second: Math.round(ok / w.seconds), p50_ms: ms(w.p50_us), p95_ms: ms(w.p95_us), p99_ms: ms(w.p99_us), max_ms: ms(w.max_us) };
}

function pgbench(url: string, schema: string): { tps: number | null; detail: string } {
  const which = spawnSync('pgbench', ['--version'], { encoding: 'utf8' });
  if (which.status !== 0) return { tps: null, detail: 'pgbench not installed' };
  const u = new URL(url);
  const conn = `host=${u.hostname} port=${u.port || 5432} user=${decodeURIComponent(u.username) || 'postgres'} dbname=${u.pathname.slice(1) || 'postgres'} options='-c search_path=${schema}'`;
  const psql = spawnSync('psql', [conn, '-v', 'ON_ERROR_STOP=1', '-c', 'CREATE TABLE IF NOT EXISTS bench_scratch (k bigint PRIMARY KEY, v text NOT NULL)'], { encoding: 'utf8' });
  if (psql.status !== 0) return { tps: null, detail: `psql failed: ${psql.stderr}` };
  const script = join(tmp, 'insert.sql');
  writeFileSync(script, "\\set k random(1, 1000000000)\nINSERT INTO bench_scratch (k, v) VALUES (:k, 'x') ON CONFLICT (k) DO NOTHING;\n");
  const r = spawnSync('pgbench', ['-n', '-f', script, '-c', '8', '-j', '2', '-T', '5', conn], { encoding: 'utf8', timeout: 60_000 });
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.stdout) ?? /tps = ([\d.]+)/.exec(r.stdout);
  return { tps: m ? Math.round(Number(m[1])) : null, detail: m ? '-n -f insert.sql -c 8 -j 2 -T 5' : `pgbench failed: ${r.stderr || r.stdout}` };
}

async function main() {
  if (FROM === 'dist') {
    log('building dist/ (npm run build) so the children run what users run');
    const b = spawnSync('npm', ['run', '-s', 'build'], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`npm run build failed:\n${b.stdout}${b.stderr}`);
  }
  agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const schema = await createTestSchema();
  cleanupSchema = schema.drop;
  log(`gateway bench: ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, schema ${schema.schema}, concurrency ${CONCURRENCY}, side ${SIDE}, risk checks ${RISK ? 'ON' : 'off'}, children from ${FROM}`);
  const sim = await startChild(['serve', 'broker-sim', '--port', '0', '--data-dir', tmp], {}, /broker-sim listening on (http:\/\/\S+)/);
  await fetch(`${sim.url}/admin/prices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prices: PRICES }) });
  // KESTREL_BENCH_RISK=1: the gateway runs its pre-trade risk checks, reading last prices from a
  // throwaway redis-server (never the shared one) seeded with the simulator's prices.
  const riskEnv: Record<string, string> = { RISK_ENABLED: 'false' };
  if (RISK) {
    redis = new ThrowawayRedis(await freePort());
    await redis.start();
    const r = new Redis(redis.url);
    const ts = new Date().toISOString();
    for (const [symbol, price] of Object.entries(PRICES)) await r.set(`price:${symbol}`, JSON.stringify({ price, size: 100, ts }));
    r.disconnect();
    // Correlation clusters need an ETL'd data store; the bench has none, so that one limit is off.
    Object.assign(riskEnv, { RISK_ENABLED: 'true', REDIS_URL: redis.url, RISK_CORRELATION_ENABLED: 'false' });
  }
  const gw = await startChild(['serve', 'gateway', '--port', '0'], { DATABASE_URL: schema.url, BROKER: 'sim', ALPACA_BASE_URL: sim.url, API_TOKEN: '', ...riskEnv }, /gateway listening on (http:\/\/\S+)/);
  await fetch(`${gw.url}/health`);

  const symbols = ['AAPL', 'MSFT', 'SPY', 'QQQ'];
  const intent = (i: number) =>
    JSON.stringify({ strategy_id: `bench-${i}`, symbol: symbols[i % symbols.length], side: SIDE === 'sell' || Math.floor(i / symbols.length) % 2 ? 'sell' : 'buy', qty: '1', order_type: 'market' });

  log('warm-up: 2 s of new orders');
  const warm = await phase(gw.url, 2, (i) => intent(CLIENT === 'wrk' ? i : 1_000_000 + i), 201);
  // The schema is new: without statistics the first executions of the gateway's prepared
  // statements plan sequential scans and keep them (generic plans) until an ANALYZE, which
  // autovacuum would run within a minute or so on a real system. Run it now, as it would have.
  await analyze(schema.url);

  log(`new orders: ${SECONDS} s at concurrency ${CONCURRENCY}`);
  const fresh = CLIENT === 'wrk' ? wrkPhase(gw.url, SECONDS, 'new', 0, 201) : await phase(gw.url, SECONDS, (i) => intent(i), 201);
  // Duplicates resubmit intents bench-<i>: with wrk those come from the node warm-up phase.
  const known = CLIENT === 'wrk' ? warm.ok : fresh.ok;

  log(`duplicates of known orders: ${DUP_SECONDS} s`);
  const dup = CLIENT === 'wrk' ? wrkPhase(gw.url, DUP_SECONDS, 'dup', known, 200) : await phase(gw.url, DUP_SECONDS, (i) => intent(i % Math.max(1, known)), 200);

  if (firstUnexpected) log(`first unexpected answer: ${firstUnexpected}`);
  const logged = gw.output().split('\n').filter((l) => l.startsWith('{')).length;
  if (logged > 0) log(`note: the gateway wrote ${logged} log lines at LOG_LEVEL=warn; first: ${gw.output().split('\n').find((l) => l.startsWith('{'))?.slice(0, 300)}`);
  const pending = await (await fetch(`${gw.url}/api/v1/orders?status=pending_new&limit=1`)).json() as { orders: unknown[] };
  log('pgbench ceiling (single-row INSERT … ON CONFLICT DO NOTHING)');
  const pg = pgbench(schema.url, schema.schema);

  const result = {
    machine: { cores: cpus().length, node: process.version, loadavg_end: loadavg().map(r2) },
    concurrency: CONCURRENCY,
    side: SIDE,
    risk: RISK,
    client: CLIENT,
    children_from: FROM,
    new_orders: { ...fresh, bodies: undefined, target: '>= 3000/s, p99 < 20 ms', met: fresh.per_second >= 3000 && fresh.p99_ms < 20 },
    duplicates: { ...dup, bodies: undefined, target: '>= 10000/s', met: dup.per_second >= 10000 },
    pending_after: pending.orders.length,
    pgbench: { tps: pg.tps, how: pg.detail },
    ratio_new_orders_to_pgbench: pg.tps ? r2(fresh.per_second / pg.tps) : null,
    ratio_duplicates_to_pgbench: pg.tps ? r2(dup.per_second / pg.tps) : null,
  };
  if (JSON_OUT) console.log(JSON.stringify(result, null, 2));
  else {
    const row = (name: string, r: PhaseResult) =>
      `${name.padEnd(12)} ${String(r.per_second).padStart(7)}/s  p50 ${r.p50_ms} ms  p95 ${r.p95_ms} ms  p99 ${r.p99_ms} ms  max ${r.max_ms} ms  (${r.ok} ok${Object.keys(r.other).length ? `, other ${JSON.stringify(r.other)}` : ''} in ${r.seconds} s)`;
    console.log('');
    console.log(row('new orders', fresh) + `  target ≥ 3000/s, p99 < 20 ms: ${result.new_orders.met ? 'MET' : 'missed'}`);
    console.log(row('duplicates', dup) + `  target ≥ 10000/s: ${result.duplicates.met ? 'MET' : 'missed'}`);
    console.log(`pgbench      ${pg.tps ?? '-'} tps (${pg.detail})`);
    if (pg.tps) console.log(`ratio        new orders / pgbench = ${result.ratio_new_orders_to_pgbench}, duplicates / pgbench = ${result.ratio_duplicates_to_pgbench}`);
  }
}

runBench(main, cleanup);
