/**
 * Alpha158 benchmark: `npx tsx bench/features/alpha158.ts`
 *
 * Loads /work/shared/data/sp500_daily_2015_2020.csv.gz (falls back to data/sample/bars.csv.gz
 * and says so), adjusts prices by adj_close/close, and times computeAlpha158 over every
 * symbol with 2 worker threads and in-process (1 thread), alternating, several runs each
 * (wall clock, CSV parse and adjustment excluded; the 2-thread time includes starting and
 * stopping the workers and transferring the results). Then, if `/usr/bin/python3 -c
 * "import pandas"` works, runs bench/features/alpha158_pandas.py (a plain pandas version of
 * the same features) on the same file, prints the speed ratio, and compares our values
 * with pandas' on a few symbols (max abs / rel difference per feature, NaN mismatches).
 *
 * Env: KESTREL_BENCH_RUNS (default 3 per mode), KESTREL_BENCH_PANDAS=0 to skip pandas,
 * KESTREL_BENCH_INPUT to bench another CSV.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBarFiles } from '../../src/data/csv-bars.js';
import { ALPHA158_NAMES, adjustByAdjClose, type FeatureMatrix } from '../../src/features/alpha158.js';
import { computeAlpha158 } from '../../src/features/compute.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const SHARED = '/work/shared/data/sp500_daily_2015_2020.csv.gz';
const SAMPLE = join(root, 'data/sample/bars.csv.gz');
const RUNS = Number(process.env.KESTREL_BENCH_RUNS ?? 3);
const SPOT = ['AAPL', 'MSFT', 'XOM', 'JPM', 'A', 'ZTS'];

function pickInput(): string {
  if (process.env.KESTREL_BENCH_INPUT) return process.env.KESTREL_BENCH_INPUT;
  if (existsSync(SHARED)) return SHARED;
  console.log(`NOTE: ${SHARED} not found, using the bundled sample ${SAMPLE} instead`);
  return SAMPLE;
}

const ms = (t: number): string => `${t.toFixed(0)} ms`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const input = pickInput();
  let t = performance.now();
  const parsed = parseBarFiles([input]);
  const parseMs = performance.now() - t;
  t = performance.now();
  const bars = [...parsed.series.values()].map(adjustByAdjClose);
  const adjustMs = performance.now() - t;
  const rows = bars.reduce((s, b) => s + b.close.length, 0);
  console.log(`input ${input}`);
  console.log(`  ${bars.length} symbols, ${rows} rows, ${parsed.issues.length} parse issues; parse ${ms(parseMs)}, adjust ${ms(adjustMs)} (not timed below)`);
  console.log(`  prices ${parsed.hasAdjClose ? 'adjusted by adj_close/close' : 'as given (no adj_close column)'}; output ${rows} × ${ALPHA158_NAMES.length} float64 = ${((rows * 158 * 8) / 2 ** 20).toFixed(0)} MiB`);
  console.log(`  load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  const times: Record<'2 threads' | '1 thread', number[]> = { '2 threads': [], '1 thread': [] };
  let keep: FeatureMatrix[] = [];
  for (let r = 0; r < RUNS; r++) {
    for (const threads of [2, 1] as const) {
      keep.length = 0; // let the previous run's output go before allocating the next
      t = performance.now();
      keep = await computeAlpha158(bars, { threads });
      const dt = performance.now() - t;
      times[threads === 2 ? '2 threads' : '1 thread'].push(dt);
      console.log(`  run ${r + 1} threads=${threads}: ${ms(dt)}`);
    }
  }
  const best2 = Math.min(...times['2 threads']);
  const best1 = Math.min(...times['1 thread']);
  console.log('\nAlpha158, all symbols (wall, excluding CSV parse):');
  for (const [k, v] of Object.entries(times)) console.log(`  ${k.padEnd(9)}  best ${ms(Math.min(...v))}  median ${ms(median(v))}  first ${ms(v[0]!)}`);
  console.log(`  2-thread speed-up over 1 thread (best): ${(best1 / best2).toFixed(2)}×`);
  console.log(`  throughput (2 threads, best): ${((rows / best2) * 1000 / 1e6).toFixed(2)} M rows/s, ${((rows * 158) / best2 / 1e3).toFixed(0)} M values/s`);
  console.log(`  load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  if (process.env.KESTREL_BENCH_PANDAS === '0') return;
  comparePandas(input, keep, best2, best1);
}

function pandasAvailable(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import pandas'], { stdio: 'ignore' }).status === 0;
}

function comparePandas(input: string, ours: FeatureMatrix[], best2: number, best1: number): void {
  if (!pandasAvailable()) {
    console.log('\npandas baseline skipped: `/usr/bin/python3 -c "import pandas"` fails');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'alpha158-pandas-'));
  try {
    const prefix = join(dir, 'spot');
    console.log('\npandas baseline (bench/features/alpha158_pandas.py, same file, same features; takes a few minutes)...');
    const res = spawnSync('/usr/bin/python3', [join(here, 'alpha158_pandas.py'), input, prefix, SPOT.join(',')], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (res.status !== 0) {
      console.log(`pandas baseline failed (exit ${res.status}):\n${res.stderr}`);
      return;
    }
    const info = JSON.parse(res.stdout.trim().split('\n').pop()!) as { seconds: number; rows: number; pandas: string; numpy: string };
    const pandasMs = info.seconds * 1000;
    console.log(`  pandas ${info.pandas} / numpy ${info.numpy}: ${ms(pandasMs)} for ${info.rows} rows (feature computation only)`);
    console.log(`  ratio pandas / ours: ${(pandasMs / best2).toFixed(0)}× (2 threads), ${(pandasMs / best1).toFixed(0)}× (1 thread)`);
    spotCheck(prefix, ours);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function spotCheck(prefix: string, ours: FeatureMatrix[]): void {
  const meta = JSON.parse(readFileSync(prefix + '.json', 'utf8')) as { names: string[]; symbols: string[]; rows: number[]; days: number[][] };
  const buf = readFileSync(prefix + '.bin');
  const theirs = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
  if (meta.names.join() !== ALPHA158_NAMES.join()) {
    console.log('  spot check: pandas column names/order differ from ours!');
    return;
  }
  const bySym = new Map(ours.map((m) => [m.symbol, m]));
  const nc = ALPHA158_NAMES.length;
  const worstAbs = new Float64Array(nc);
  const worstRel = new Float64Array(nc);
  const nanMismatch = new Int32Array(nc);
  let compared = 0;
  let off = 0;
  meta.symbols.forEach((sym, s) => {
    const n = meta.rows[s]!;
    const m = bySym.get(sym);
    const block = theirs.subarray(off, off + n * nc);
    off += n * nc;
    if (!m || m.rows !== n || m.day.some((d, i) => d !== meta.days[s]![i])) {
      console.log(`  spot check: ${sym} rows differ between the two readers, skipped`);
      return;
    }
    for (let c = 0; c < nc; c++) {
      for (let i = 0; i < n; i++) {
        const a = m.values[c * n + i]!;
        const b = block[c * n + i]!;
        if (Number.isNaN(a) || Number.isNaN(b)) {
          if (Number.isNaN(a) !== Number.isNaN(b)) nanMismatch[c]!++;
          continue;
        }
        compared++;
        const d = Math.abs(a - b);
        if (d > worstAbs[c]!) worstAbs[c] = d;
        const r = d / Math.max(1e-8, Math.abs(b));
        if (r > worstRel[c]!) worstRel[c] = r;
      }
    }
  });
  const order = [...ALPHA158_NAMES.keys()].sort((a, b) => worstRel[b]! - worstRel[a]!);
  const totalNan = nanMismatch.reduce((s, x) => s + x, 0);
  console.log(`\nspot check vs pandas on ${meta.symbols.join(', ')}: ${compared} values compared, all 158 features`);
  console.log(`  max abs diff over all features: ${Math.max(...worstAbs).toExponential(2)}; max rel diff: ${Math.max(...worstRel).toExponential(2)}; NaN-pattern mismatches: ${totalNan}`);
  console.log('  largest relative differences:');
  for (const c of order.slice(0, 8)) console.log(`    ${ALPHA158_NAMES[c]!.padEnd(8)} abs ${worstAbs[c]!.toExponential(2)}  rel ${worstRel[c]!.toExponential(2)}  NaN mismatches ${nanMismatch[c]}`);
  for (const name of ['KMID', 'ROC5', 'MA20', 'STD60', 'BETA30', 'RSQR10', 'RESI5', 'QTLU60', 'RANK20', 'IMXD60', 'CORR20', 'CORD30', 'WVMA60', 'VSUMD10']) {
    const c = ALPHA158_NAMES.indexOf(name);
    console.log(`    ${name.padEnd(8)} abs ${worstAbs[c]!.toExponential(2)}  rel ${worstRel[c]!.toExponential(2)}  NaN mismatches ${nanMismatch[c]}`);
  }
  if (totalNan > 0) {
    const bad = [...ALPHA158_NAMES.keys()].filter((c) => nanMismatch[c]! > 0).map((c) => `${ALPHA158_NAMES[c]}(${nanMismatch[c]})`);
    console.log(`  features with NaN mismatches: ${bad.join(' ')}`);
  }
}

await main();
