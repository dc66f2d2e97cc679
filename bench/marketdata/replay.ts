/**
 * Market data at speed: `npx tsx bench/marketdata/replay.ts [--rate 20000] [--seconds 20] [--soak-minutes 0] [--symbols 20] [--warmup 5] [--redis] [--pg] [--json] [--samples FILE]`
 *
 * The replay server (`buildReplayServer`, as `kestrel serve replay`) runs in a child process on
 * loopback at --rate trades/s in total, round-robin over --symbols symbols. This process runs
 * `buildMarketDataApp` — the code of `kestrel serve marketdata`: MarketDataClient → PriceCache
 * (bus) + TickStore + LivePnl — with a position in every symbol, so every trade changes the P&L.
 * Bus: in-process, or --redis (127.0.0.1:6379, unique key prefix, keys removed at the end).
 * Tick store: PGlite in a temp dir (the default of `serve marketdata`), or --pg (fresh schema on
 * $KESTREL_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, dropped at the end).
 *
 * Measured after --warmup seconds, for --seconds (or --soak-minutes when > 0):
 *  - latency per trade from receipt (performance.now() at the ws 'message' event of its frame)
 *    to the first P&L computation that includes it (the price cache is updated before, in the
 *    same call): p50/p95/p99/max, 10 µs buckets. Also, for context, not targets: to the bus write
 *    that carries it (`price:{symbol}`, coalesced every 50 ms by design), and from the server's
 *    emission (trade `t`, ms resolution, same machine clock) to the P&L — that one includes any
 *    time the frame waited in socket buffers while this process was busy.
 *  - trades/s applied; sequence: trade ids are 1, 2, 3… per connection, so client gaps, missed
 *    ids, out-of-order must be 0, trades received = trades the server sent, and the tick store
 *    holds exactly ids 1..sent;
 *  - memory: RSS and heapUsed every second: start/end/max, the least-squares slope (MB/min) over
 *    the second half, and the same slope of the floors (minimum of each 30 s window) — the raw
 *    slope of a GC sawtooth depends on where the run stops, the floor is what a leak raises;
 *    event-loop delay; CPU of this process and of the server child.
 * Targets (issue #6): p99 < 5 ms at 20,000 trades/s, zero loss, memory flat over a 10-minute soak
 * (checked as: no growth — floor slope ≤ +1 MB/min for RSS and for heapUsed over the second half;
 * soak runs only; a falling floor, e.g. RSS returned after a spike, is not a leak).
 * Everything it starts is stopped (schema, Redis keys, temp dir removed), also on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { busKeys, MemoryBackend, openBus, type Bus } from '../../src/bus/index.js';
import { systemClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/core/logger.js';
import type { Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';
import { createTestSchema } from '../../src/db/test-helpers.js';
import { buildMarketDataApp, type MarketDataApp } from '../../src/marketdata/service/app.js';
import { benchArgs } from '../lib/args.js';
import { runBench } from '../lib/run.js';

const SERVER = fileURLToPath(new URL('./replay-server.ts', import.meta.url));
const { argv: args, flag, json: JSON_OUT, log } = benchArgs();
const RATE = Number(flag('rate', '20000'));
const SECONDS = Number(flag('seconds', '20'));
const SOAK_MIN = Number(flag('soak-minutes', '0'));
const SYMBOLS = Number(flag('symbols', '20'));
const WARMUP = Number(flag('warmup', '5'));
const REDIS = args.includes('--redis');
const PG = args.includes('--pg');
const SAMPLES_FILE = flag('samples', ''); // per-second samples as JSON, for a closer look
const DURATION_S = SOAK_MIN > 0 ? SOAK_MIN * 60 : SECONDS;

const tmp = mkdtempSync(join(tmpdir(), 'kestrel-bench-md-'));
let child: ChildProcess | null = null;
let app: MarketDataApp | null = null;
let bus: Bus | null = null;
let db: Db | null = null;
let dropSchema: (() => Promise<void>) | null = null;
let symbols: string[] = [];

async function cleanup() {
  await app?.close().catch(() => undefined);
  app = null;
  if (bus && REDIS && symbols.length) await bus.del(symbols.map((s) => busKeys.price(s))).catch(() => undefined);
  await bus?.close().catch(() => undefined);
  bus = null;
  await db?.close().catch(() => undefined);
  db = null;
  if (dropSchema) await dropSchema().catch(() => undefined);
  dropSchema = null;
  if (child && child.exitCode === null && child.signalCode === null) {
    const c = child;
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  }
  rmSync(tmp, { recursive: true, force: true });
}

function startServer(): Promise<{ url: string; http: string; pid: number }> {
  const c = spawn(process.execPath, ['--import', 'tsx', SERVER, '--rate', String(RATE), '--symbols', String(SYMBOLS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = c;
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replay server did not start in 60 s:\n${out}`)), 60_000);
    c.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /replay listening on (ws:\/\/127\.0\.0\.1:(\d+)\/v2\/iex)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, http: `http://127.0.0.1:${m[2]}`, pid: c.pid! });
      }
    });
    c.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    c.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replay server exited ${code}:\n${out}`));
    });
  });
}

/** 10 µs buckets up to 100 ms, then 1 ms buckets up to 10 min (constant memory for a soak); exact max. */
class Hist {
  private readonly fine = new Uint32Array(10_000);
  private readonly coarse = new Uint32Array(600_000);
  n = 0;
  max = 0;
  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    if (v < 100) this.fine[Math.floor(v * 100)]!++;
    else this.coarse[Math.min(this.coarse.length - 1, Math.floor(v))]!++;
    this.n++;
    if (v > this.max) this.max = v;
  }
  /** Upper edge of the bucket holding the p-th percentile (conservative). */
  pct(p: number): number {
    if (this.n === 0) return NaN;
    const target = Math.ceil((p / 100) * this.n);
    let acc = 0;
    for (let i = 0; i < this.fine.length; i++) {
      acc += this.fine[i]!;
      if (acc >= target) return Math.min(this.max, (i + 1) / 100);
    }
    for (let i = 100; i < this.coarse.length; i++) {
      acc += this.coarse[i]!;
      if (acc >= target) return Math.min(this.max, i + 1);
    }
    return this.max;
  }
  summary() {
    return { n: this.n, p50_ms: r3(this.pct(50)), p95_ms: r3(this.pct(95)), p99_ms: r3(this.pct(99)), max_ms: r3(this.max) };
  }
}
/** Rows of numbers in columns allocated up front: what the bench records does not grow the heap it measures. */
class Columns<K extends string> {
  private readonly cols = {} as Record<K, Float64Array>;
  length = 0;
  dropped = 0;
  constructor(
    private readonly keys: readonly K[],
    private readonly capacity: number,
  ) {
    for (const k of keys) this.cols[k] = new Float64Array(capacity);
  }
  push(row: Record<K, number>): void {
    if (this.length >= this.capacity) {
      this.dropped++;
      return;
    }
    for (const k of this.keys) this.cols[k][this.length] = row[k];
    this.length++;
  }
  rows(from = 0): Array<Record<K, number>> {
    const out: Array<Record<K, number>> = [];
    for (let i = Math.max(0, from); i < this.length; i++) {
      const r = {} as Record<K, number>;
      for (const k of this.keys) r[k] = this.cols[k][i]!;
      out.push(r);
    }
    return out;
  }
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const r1 = (x: number) => Math.round(x * 10) / 10;
const MB = 1024 * 1024;

/** Least-squares slope of y over t (seconds) in units per minute. */
function slopePerMin(pts: Array<{ t: number; y: number }>): number {
  if (pts.length < 2) return NaN;
  const n = pts.length;
  const mt = pts.reduce((a, p) => a + p.t, 0) / n;
  const my = pts.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of pts) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den ? (num / den) * 60 : NaN;
}

/** utime + stime of a process in seconds (Linux /proc), or null. */
function procCpuSeconds(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return null;
  }
}
/** Busy and total jiffies of the whole machine (/proc/stat), or null. */
function machineJiffies(): { busy: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3]! - (f[4] ?? 0), total };
  } catch {
    return null;
  }
}
function procRssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? r1(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function waitUntil(cond: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main() {
  const logger = createLogger('bench-marketdata', { level: 'warn' });
  const server = await startServer();
  symbols = ((await (await fetch(`${server.http}/bench/symbols`)).json()) as { symbols: string[] }).symbols;
  const getSent = async () => ((await (await fetch(`${server.http}/bench/sent`)).json()) as { sent: number }).sent;

  if (PG) {
    const s = await createTestSchema();
    dropSchema = s.drop;
    db = openPostgres({ url: s.url });
  } else db = await openPglite(join(tmp, 'pg'));
  await migrate(db);
  // A position in every symbol (longs and shorts), entered near the open: every trade moves the P&L.
  for (const [k, s] of symbols.entries()) {
    const qty = (k % 3 === 2 ? -1 : 1) * (10 + k);
    await db.query('INSERT INTO positions (symbol, qty, avg_entry_price, cost_basis, realized_pnl, updated_at) VALUES ($1, $2, $3, $2::numeric * $3::numeric, $4, now())', [s, String(qty), (50 + k * 7.31).toFixed(2), (k * 1.25).toFixed(2)]);
  }
  bus = await openBus({ logger, redisUrl: REDIS ? 'redis://127.0.0.1:6379' : undefined, keyPrefix: REDIS ? `bench-md-${randomBytes(4).toString('hex')}:` : undefined, memory: new MemoryBackend() });
  app = await buildMarketDataApp({ db, bus, clock: systemClock, logger, feed: { url: server.url, key: 'bench', secret: 'bench' } });
  const { client, cache, pnl, ticks } = app.marketdata;

  // Per applied trade (sequence number s): receipt time and server emission time, in a ring.
  const RING = 1 << 18;
  const MASK = RING - 1;
  const recvAt = new Float64Array(RING);
  const emitAt = new Float64Array(RING);
  let applied = 0;
  let inPnl = 0;
  let onBus = 0;
  let overflow = 0;
  let maxBatch = 0;
  const slow = new Columns(['start', 'end', 'trades'] as const, 50_000);
  const gcSpans = new Columns(['start', 'end', 'kind'] as const, 100_000);
  let from = Infinity;
  let to = Infinity;
  const hPnl = new Hist();
  const hBus = new Hist();
  const hE2e = new Hist();
  let lastTs = '';
  let lastEmit = 0;
  cache.onPrice((_symbol, tick) => {
    const k = applied & MASK;
    recvAt[k] = client.frameReceivedAt;
    if (tick.ts !== lastTs) {
      lastTs = tick.ts;
      lastEmit = Date.parse(tick.ts);
    }
    emitAt[k] = lastEmit;
    applied++;
    if (applied - Math.min(inPnl, onBus) > RING) overflow++;
  });
  pnl.onCompute(() => {
    const now = performance.now();
    const wall = Date.now();
    if (applied - inPnl > maxBatch && applied > from) maxBatch = applied - inPnl;
    // Frames over 5 ms (latency of their first trade), kept for the GC correlation below.
    if (inPnl >= from && inPnl < to && applied > inPnl) {
      const first = recvAt[inPnl & MASK]!;
      if (now - first > 5) slow.push({ start: first, end: now, trades: applied - inPnl });
    }
    for (let s = Math.max(inPnl, from); s < applied && s < to; s++) {
      hPnl.record(now - recvAt[s & MASK]!);
      hE2e.record(wall - emitAt[s & MASK]!);
    }
    inPnl = applied;
  });
  const mset = bus.mset.bind(bus);
  bus.mset = async (entries, ttl) => {
    const upto = applied; // the flush writes the latest price of every symbol: all trades applied so far
    const ok = await mset(entries, ttl);
    const now = performance.now();
    for (let s = Math.max(onBus, from); s < upto && s < to; s++) hBus.record(now - recvAt[s & MASK]!);
    onBus = Math.max(onBus, upto);
    return ok;
  };

  log(`market-data bench: ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, rate ${RATE}/s over ${symbols.length} symbols, bus ${REDIS ? 'redis' : 'in-process'}, tick store ${PG ? 'postgres' : 'pglite'}`);
  await app.ready();
  await client.whenLive();
  await waitUntil(() => applied > 0, 10_000, 'first trades');
  log(`warm-up ${WARMUP} s`);
  await new Promise((r) => setTimeout(r, WARMUP * 1000));

  log(`measuring ${DURATION_S} s${SOAK_MIN > 0 ? ' (soak)' : ''}`);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const gc = { count: 0, total_ms: 0, max_ms: 0, major: 0 };
  const gcObs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      gc.count++;
      gc.total_ms += e.duration;
      gc.max_ms = Math.max(gc.max_ms, e.duration);
      if (kind !== 1) gc.major++; // 1 = scavenge (minor); others: mark-compact, incremental marking, weak callbacks
      gcSpans.push({ start: e.startTime, end: e.startTime + e.duration, kind });
    }
  });
  gcObs.observe({ entryTypes: ['gc'] });
  // Every second: memory; feed lag (now − server emission of the newest applied trade); this
  // event loop's utilisation; how busy the whole machine was (2 cores shared with other work).
  const samples = new Columns(['t', 'rss', 'heap', 'heapTotal', 'external', 'lag', 'elu', 'machine', 'buffered'] as const, DURATION_S + 10);
  let elu0 = performance.eventLoopUtilization();
  let jiffies0 = machineJiffies();
  const sample = () => {
    const m = process.memoryUsage();
    const elu = performance.eventLoopUtilization(elu0);
    elu0 = performance.eventLoopUtilization();
    const j = machineJiffies();
    const machine = j && jiffies0 && j.total > jiffies0.total ? (j.busy - jiffies0.busy) / (j.total - jiffies0.total) : NaN;
    jiffies0 = j;
    samples.push({ t: (performance.now() - t0) / 1000, rss: m.rss / MB, heap: m.heapUsed / MB, heapTotal: m.heapTotal / MB, external: m.external / MB, lag: Date.now() - lastEmit, elu: elu.utilization, machine, buffered: ticks.buffered });
  };
  const sent0 = await getSent();
  const cpu0 = process.cpuUsage();
  const childCpu0 = procCpuSeconds(server.pid);
  const childRss0 = procRssMb(server.pid);
  const t0 = performance.now();
  from = applied;
  const frames0 = client.counters.frames;
  const computations0 = pnl.computations;
  sample();
  const sampler = setInterval(sample, 1000);
  const progress = SOAK_MIN > 0 ? setInterval(() => {
    const last = samples.rows(samples.length - 60);
    const m = last.at(-1)!;
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    log(
      `  ${Math.round((performance.now() - t0) / 1000)} s: ${Math.round((applied - from) / ((performance.now() - t0) / 1000))} trades/s, p99 ${r3(hPnl.pct(99))} ms, rss ${r1(m.rss)} MB, heap ${r1(m.heap)} MB; ` +
        `last minute: max feed lag ${Math.max(...last.map((x) => x.lag))} ms, event loop ${Math.round(avg(last.map((x) => x.elu)) * 100)} % busy, machine ${Math.round(avg(last.map((x) => x.machine)) * 100)} % busy`,
    );
  }, 60_000) : null;
  await new Promise((r) => setTimeout(r, DURATION_S * 1000));
  to = applied;
  const frames = client.counters.frames - frames0;
  const computations = pnl.computations - computations0;
  const elapsed = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  if (progress) clearInterval(progress);
  sample();
  loop.disable();
  gcObs.disconnect();
  const cpu = process.cpuUsage(cpu0);
  const childCpu1 = procCpuSeconds(server.pid);
  const sent1 = await getSent();
  const windowTrades = to - from;

  // Stop the feed: once the server echoes the empty subscription, every trade it sent has arrived.
  client.unsubscribe(client.symbols);
  await waitUntil(() => client.subscriptionCounts.confirmed === 0, 10_000, 'unsubscribe echo');
  await new Promise((r) => setTimeout(r, 50)); // the P&L microtask / frame-end of the last frame
  const sent = await getSent();
  await cache.flush();
  await ticks.flush();
  const stored = (await db.query<{ n: number; d: number; lo: number | null; hi: number | null }>('SELECT count(*)::int AS n, count(DISTINCT trade_id)::int AS d, min(trade_id) AS lo, max(trade_id) AS hi FROM trades')).rows[0]!;
  const metricsText = (await app.inject({ url: '/metrics' })).body;
  const metric = (re: RegExp) => Number(re.exec(metricsText)?.[1] ?? NaN);

  const c = client.counters;
  const seq = {
    sent,
    received: c.trades,
    gaps: c.gaps,
    missed_trades: c.missedTrades,
    out_of_order: c.outOfOrder,
    malformed: c.malformed,
    reconnects: c.reconnects,
    price_cache_out_of_order: cache.stats.outOfOrder,
    stored: { rows: Number(stored.n), distinct_ids: Number(stored.d), min_id: stored.lo === null ? null : Number(stored.lo), max_id: stored.hi === null ? null : Number(stored.hi), dropped: ticks.stats.dropped, rejected: ticks.stats.rejected },
    metrics_scrape: { trades: metric(/kestrel_marketdata_messages_total\{[^}]*type="trade"[^}]*\} (\d+)/), sequence_gaps: metric(/kestrel_marketdata_sequence_gaps_total\{[^}]*\} (\d+)/) },
  };
  const zeroLoss =
    seq.received === sent && seq.gaps === 0 && seq.missed_trades === 0 && seq.out_of_order === 0 && seq.malformed === 0 && seq.reconnects === 0 &&
    seq.stored.rows === sent && seq.stored.distinct_ids === sent && seq.stored.min_id === 1 && seq.stored.max_id === sent;

  const rusage = process.resourceUsage();
  const mem = samples.rows();
  if (SAMPLES_FILE) writeFileSync(SAMPLES_FILE, JSON.stringify(mem));
  const lagged = mem.filter((m) => m.lag > 1000);
  const mean = (xs: number[]) => (xs.length ? r3(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
  const feedLag = {
    max_ms: Math.max(...mem.map((m) => m.lag)),
    seconds_over_1s: lagged.length,
    event_loop_utilisation: { mean: mean(mem.map((m) => m.elu)), while_lagging: mean(lagged.map((m) => m.elu)) },
    machine_busy: { mean: mean(mem.flatMap((m) => (Number.isNaN(m.machine) ? [] : [m.machine]))), while_lagging: mean(lagged.flatMap((m) => (Number.isNaN(m.machine) ? [] : [m.machine]))) },
    tick_store_buffered_max: Math.max(...mem.map((m) => m.buffered)),
  };
  const gcRows = gcSpans.rows();
  const slowRows = slow.rows();
  const slowWithGc = slowRows.filter((f) => gcRows.some((g) => g.start < f.end && g.end > f.start)).length;
  const half = mem.filter((m) => m.t >= elapsed / 2);
  // Floors: the minimum of each 30 s window, placed at the window's middle.
  const floors = (key: 'rss' | 'heap') => {
    const out: Array<{ t: number; y: number }> = [];
    for (let w = 0; w * 30 < elapsed; w++) {
      const xs = mem.filter((m) => m.t >= w * 30 && m.t < (w + 1) * 30);
      if (xs.length >= 10) out.push({ t: w * 30 + 15, y: Math.min(...xs.map((m) => m[key])) });
    }
    return out.filter((f) => f.t >= elapsed / 2);
  };
  const floorSlope = (key: 'rss' | 'heap') => r3(slopePerMin(floors(key)));
  const memory = {
    samples: mem.length,
    rss_mb: { start: r1(mem[0]!.rss), end: r1(mem.at(-1)!.rss), max: r1(Math.max(...mem.map((m) => m.rss))), slope_mb_per_min_second_half: r3(slopePerMin(half.map((m) => ({ t: m.t, y: m.rss })))), floor_slope_mb_per_min_second_half: floorSlope('rss') },
    heap_used_mb: { start: r1(mem[0]!.heap), end: r1(mem.at(-1)!.heap), max: r1(Math.max(...mem.map((m) => m.heap))), slope_mb_per_min_second_half: r3(slopePerMin(half.map((m) => ({ t: m.t, y: m.heap })))), floor_slope_mb_per_min_second_half: floorSlope('heap') },
    server_rss_mb: { start: childRss0, end: procRssMb(server.pid) },
  };
  // NaN (too short for two floors in the second half) is not flat.
  const flat = memory.rss_mb.floor_slope_mb_per_min_second_half <= 1 && memory.heap_used_mb.floor_slope_mb_per_min_second_half <= 1;
  const pnlLat = hPnl.summary();
  const perSecond = Math.round(windowTrades / elapsed);
  const result = {
    machine: { cores: cpus().length, node: process.version, loadavg_end: loadavg().map((x) => Math.round(x * 100) / 100) },
    config: { rate: RATE, symbols: symbols.length, seconds: r1(elapsed), soak: SOAK_MIN > 0, bus: REDIS ? 'redis' : 'memory', tick_store: PG ? 'postgres' : 'pglite' },
    throughput: { trades: windowTrades, per_second: perSecond, server_sent_per_second: Math.round((sent1 - sent0) / elapsed), target: `>= ${Math.round(RATE * 0.99)}/s (99% of --rate)`, met: perSecond >= RATE * 0.99 },
    latency_receipt_to_pnl: { ...pnlLat, target: 'p99 < 5 ms', met: pnlLat.n > 0 && pnlLat.p99_ms < 5 && overflow === 0 },
    latency_receipt_to_bus: hBus.summary(),
    latency_server_emit_to_pnl: hE2e.summary(),
    // Measurement validity: trades whose receipt time was overwritten before their P&L/bus write (must be 0).
    measurement_ring_overflow: overflow,
    frames: frames,
    pnl_computations: computations,
    max_trades_per_pnl_computation: maxBatch,
    tick_store: { flushes: ticks.stats.flushes, flush_failures: ticks.stats.flushFailures, trades_written: ticks.stats.tradesWritten, bars_written: ticks.stats.barsWritten },
    gc: { count: gc.count, not_scavenge: gc.major, total_ms: r1(gc.total_ms), max_ms: r3(gc.max_ms) },
    frames_over_5ms: { count: slow.length + slow.dropped, overlapping_gc: slowWithGc, of_recorded: slow.length, max_trades: slowRows.reduce((a, f) => Math.max(a, f.trades), 0) },
    involuntary_context_switches: rusage.involuntaryContextSwitches,
    feed_lag: feedLag,
    sequence: { ...seq, target: 'zero loss', met: zeroLoss },
    memory: { ...memory, target: SOAK_MIN > 0 ? 'floor slope <= +1 MB/min (RSS and heapUsed, second half)' : 'soak only', met: SOAK_MIN > 0 ? flat : null },
    event_loop_delay_ms: { p50: r3(loop.percentile(50) / 1e6), p99: r3(loop.percentile(99) / 1e6), max: r3(loop.max / 1e6) },
    cpu_pct_of_one_core: { client: r1(((cpu.user + cpu.system) / 1e6 / elapsed) * 100), server: childCpu0 !== null && childCpu1 !== null ? r1(((childCpu1 - childCpu0) / elapsed) * 100) : null },
  };
  if (JSON_OUT) console.log(JSON.stringify(result, null, 2));
  else {
    const lat = (name: string, h: ReturnType<Hist['summary']>) => `${name.padEnd(26)} p50 ${h.p50_ms} ms  p95 ${h.p95_ms} ms  p99 ${h.p99_ms} ms  max ${h.max_ms} ms  (${h.n} trades)`;
    const mark = (ok: boolean | null) => (ok === null ? '' : ok ? 'MET' : 'missed');
    console.log('');
    console.log(`throughput   ${perSecond} trades/s applied (server sent ${result.throughput.server_sent_per_second}/s) over ${r1(elapsed)} s, ${frames} frames, ${computations} P&L computations  target ${result.throughput.target}: ${mark(result.throughput.met)}`);
    console.log(lat('receipt → cache + P&L', pnlLat) + `  target p99 < 5 ms: ${mark(result.latency_receipt_to_pnl.met)}`);
    if (overflow) console.log(`WARNING      ${overflow} receipt times were overwritten before use: latency figures are not valid`);
    console.log(lat('receipt → bus write', result.latency_receipt_to_bus) + '  (coalesced every 50 ms; not a target)');
    console.log(lat('server emit → P&L', result.latency_server_emit_to_pnl) + '  (ms clock; includes socket queueing; not a target)');
    console.log(`sequence     sent ${sent}, received ${seq.received}, gaps ${seq.gaps}, missed ${seq.missed_trades}, out-of-order ${seq.out_of_order}, malformed ${seq.malformed}, reconnects ${seq.reconnects}; stored ${seq.stored.rows} rows, ids ${seq.stored.min_id}..${seq.stored.max_id} (${seq.stored.distinct_ids} distinct), dropped ${seq.stored.dropped}  target zero loss: ${mark(zeroLoss)}`);
    const na = (x: number) => (Number.isFinite(x) ? String(x) : 'n/a');
    const memLine = (name: string, m: typeof memory.rss_mb) => `${name} ${m.start} → ${m.end} MB (max ${m.max}; second half: slope ${na(m.slope_mb_per_min_second_half)}, floor slope ${na(m.floor_slope_mb_per_min_second_half)} MB/min)`;
    console.log(`memory       ${memLine('rss', memory.rss_mb)}, ${memLine('heapUsed', memory.heap_used_mb)}; server rss ${memory.server_rss_mb.start} → ${memory.server_rss_mb.end} MB${SOAK_MIN > 0 ? `  target flat (floor slope ≤ +1 MB/min): ${mark(flat)}` : ''}`);
    console.log(`tick store   ${result.tick_store.flushes} flushes (${result.tick_store.flush_failures} failed), ${result.tick_store.trades_written} trades and ${result.tick_store.bars_written} bars written; largest frame ${maxBatch} trades; GC ${gc.count} pauses (${gc.major} not scavenges), ${r1(gc.total_ms)} ms total, max ${r3(gc.max_ms)} ms`);
    console.log(`slow frames  ${slow.length + slow.dropped} frames took > 5 ms from receipt to P&L (${slowWithGc} of the first ${slow.length} overlapping a GC pause, largest ${result.frames_over_5ms.max_trades} trades); ${rusage.involuntaryContextSwitches} involuntary context switches`);
    console.log(`feed lag     max ${feedLag.max_ms} ms, ${feedLag.seconds_over_1s} s over 1 s behind; event loop busy ${feedLag.event_loop_utilisation.mean} (while lagging ${feedLag.event_loop_utilisation.while_lagging}); machine busy ${feedLag.machine_busy.mean} (while lagging ${feedLag.machine_busy.while_lagging}); tick store buffer max ${feedLag.tick_store_buffered_max} rows`);
    console.log(`event loop   delay p50 ${result.event_loop_delay_ms.p50} ms, p99 ${result.event_loop_delay_ms.p99} ms, max ${result.event_loop_delay_ms.max} ms; CPU client ${result.cpu_pct_of_one_core.client} %, server ${result.cpu_pct_of_one_core.server} % of one core`);
  }
}

runBench(main, cleanup);
