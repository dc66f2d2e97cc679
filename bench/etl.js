// ETL benchmark: `kestrel etl` end to end as a child process.
//   node bench/etl.js [--input FILE] [--runs N] [--json]
// 1. N fresh runs (default 3), each on a new temp data dir: wall time (spawn → exit, includes
//    Node start), peak RSS of the child, the report's stage timings.
// 2. Re-run of the same input on a populated data dir (idempotent path: expect 0 files written).
// 3. "Append one day": the last date's rows shifted to the next weekday, prices ×1.001, as a
//    new input file on the populated data dir.
// 4. Baseline: DuckDB alone, COPY (SELECT * FROM read_csv(file)) TO 'x.parquet', N runs, and
//    the ratio kestrel / DuckDB.
// Build first (npm run build): this runs dist/ through bin/kestrel.js.
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import {
  CLI, installSignalCleanup, ROOT, cleanupTemp, describeInput, intFlag, isMain, mib, mustSucceed, parseFlags, pickInput, round, rssMethod, runNode, summarize, tempDir,
} from './lib/common.js';

const ETL_TIMEOUT_MS = 180_000;
const DUCKDB_COPY = join(ROOT, 'bench', 'lib', 'duckdb-copy.js');

/** One `kestrel etl --json` run; returns wall, RSS and the parsed quality report. */
async function etlOnce(input, dataDir, asOf, rss) {
  const args = ['etl', '--input', input, '--data-dir', dataDir, '--json'];
  if (asOf) args.push('--as-of', asOf);
  const r = mustSucceed(`kestrel ${args.join(' ')}`, await runNode(CLI, args, { timeoutMs: ETL_TIMEOUT_MS, measureRss: rss }));
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`kestrel etl printed no JSON report:\n${r.stdout.slice(0, 500)}`);
  }
  if (report.status !== 'published') throw new Error(`kestrel etl: status ${report.status}: ${report.failure}`);
  return {
    wall_ms: round(r.wallMs),
    max_rss_kb: r.maxRssKb,
    timings_ms: report.timings_ms,
    published: report.published,
    input: report.input,
    quarantined_rows: report.quarantined.rows,
  };
}

const pad2 = (n) => String(n).padStart(2, '0');
function nextWeekday(day) {
  const d = new Date(`${day}T00:00:00Z`);
  do d.setUTCDate(d.getUTCDate() + 1);
  while (d.getUTCDay() === 0 || d.getUTCDay() === 6);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

/** Reads the input and finds its last date (and that date's lines) plus the header. */
function lastDay(input) {
  const buf = readFileSync(input);
  const text = (input.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
  const nl = text.indexOf('\n');
  const header = text.slice(0, nl).replace(/\r$/, '');
  const cols = header.split(',');
  if (cols[0] !== 'date') throw new Error(`unexpected header in ${input}: ${header}`);
  let last = '';
  let lines = [];
  let pos = nl + 1;
  // Bounded by the text length: each step advances pos past one line.
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const date = text.slice(pos, pos + 10);
    if (date > last) {
      last = date;
      lines = [];
    }
    if (date === last) lines.push(text.slice(pos, end).replace(/\r$/, ''));
    pos = end + 1;
  }
  return { header, cols, last, lines };
}

/**
 * Writes the append-one-day CSV: the last date's rows on the next weekday, prices ×1.001.
 * Rows that break the OHLC invariants (the real data has a few) are left out, so the new day
 * cannot trip the quarantine tolerance on a small input; the count is reported.
 */
function makeAppendCsv(input, dir) {
  const { header, cols, last, lines } = lastDay(input);
  const next = nextWeekday(last);
  const at = Object.fromEntries(cols.map((c, k) => [c, k]));
  const priceCols = new Set(['open', 'high', 'low', 'close', 'adj_close']);
  const valid = (f) => {
    const [o, h, l, c, v] = ['open', 'high', 'low', 'close', 'volume'].map((n) => Number(f[at[n]]));
    return [o, h, l, c, v].every(Number.isFinite) && l > 0 && v > 0 && l <= Math.min(o, c) && h >= Math.max(o, c);
  };
  let dropped = 0;
  const scaled = [];
  for (const line of lines) {
    const f = line.split(',');
    if (!valid(f)) {
      dropped++;
      continue;
    }
    f[0] = next;
    for (let k = 0; k < cols.length; k++) {
      if (!priceCols.has(cols[k]) || f[k] === '') continue;
      f[k] = String(Number((Number(f[k]) * 1.001).toFixed(6)));
    }
    scaled.push(f.join(','));
  }
  const file = join(dir, `append-${next}.csv`);
  writeFileSync(file, [header, ...scaled].join('\n') + '\n');
  return { file, from: last, date: next, rows: scaled.length, dropped };
}

/** Runs the whole ETL benchmark; returns the figures and `data_dir`, a populated data dir (first fresh run, untouched since) for the SQL bench. */
export async function benchEtl({ input = pickInput(), runs = 3, log = console.log } = {}) {
  const rss = rssMethod();
  log(`ETL bench: ${describeInput(input)}`);
  log(`  peak RSS via ${rss === 'gnu-time' ? '/usr/bin/time -f %M (child process, from outside)' : rss === 'wrap' ? 'bench/lib/rss-wrap.js (child reports process.resourceUsage().maxRSS)' : 'nothing (disabled)'}`);
  const asOf = lastDay(input.path).last;

  const fresh = [];
  const dirs = [];
  for (let i = 0; i < runs; i++) {
    const dir = join(tempDir('etl'), 'data');
    dirs.push(dir);
    const r = await etlOnce(input.path, dir, asOf, rss);
    fresh.push(r);
    log(`  fresh run ${i + 1}/${runs}: ${r.wall_ms.toFixed(0)} ms wall, peak RSS ${mib(r.max_rss_kb)} MiB, files written ${r.published.files_written}, stages ${fmtTimings(r.timings_ms)}`);
  }
  const first = fresh[0];
  log(`  input: ${first.input.lines_read} lines, ${first.input.rows_parsed} rows parsed, ${first.input.symbols} symbols, ${first.input.first_date}..${first.input.last_date}; published ${first.published.rows} rows, quarantined ${first.quarantined_rows}`);

  // Idempotent re-run on the last fresh dir (the first stays untouched for the SQL bench).
  const work = dirs[dirs.length - 1];
  const rerun = await etlOnce(input.path, work, asOf, rss);
  log(`  re-run same input: ${rerun.wall_ms.toFixed(0)} ms wall, peak RSS ${mib(rerun.max_rss_kb)} MiB, files written ${rerun.published.files_written} (reused ${rerun.published.files_reused}), stages ${fmtTimings(rerun.timings_ms)}`);

  const app = makeAppendCsv(input.path, tempDir('append'));
  const append = await etlOnce(app.file, work, app.date, rss);
  log(`  append one day (${app.rows} rows of ${app.from} → ${app.date}, ×1.001; ${app.dropped} invalid rows left out): ${append.wall_ms.toFixed(0)} ms wall, peak RSS ${mib(append.max_rss_kb)} MiB, files written ${append.published.files_written} (reused ${append.published.files_reused}), published rows ${append.published.rows}, stages ${fmtTimings(append.timings_ms)}`);

  // Baseline: DuckDB alone.
  const duck = [];
  const outDir = tempDir('duckdb');
  for (let i = 0; i < runs; i++) {
    const out = join(outDir, `copy-${i}.parquet`);
    const r = mustSucceed('duckdb COPY baseline', await runNode(DUCKDB_COPY, [input.path, out], { timeoutMs: ETL_TIMEOUT_MS, measureRss: rss }));
    const inner = JSON.parse(r.stdout);
    duck.push({ wall_ms: round(r.wallMs), max_rss_kb: r.maxRssKb, ...inner });
    log(`  duckdb COPY run ${i + 1}/${runs}: ${r.wallMs.toFixed(0)} ms wall (COPY itself ${inner.copy_ms} ms), peak RSS ${mib(r.maxRssKb)} MiB, ${inner.rows} rows`);
  }

  const wall = summarize(fresh.map((r) => r.wall_ms));
  const duckWall = summarize(duck.map((r) => r.wall_ms));
  const rssKb = fresh.map((r) => r.max_rss_kb).filter((x) => x != null);
  const stageNames = [...new Set(fresh.flatMap((r) => Object.keys(r.timings_ms)))];
  const stages = Object.fromEntries(stageNames.map((s) => [s, summarize(fresh.map((r) => r.timings_ms[s] ?? 0))]));
  const inProcRatio = round(summarize(fresh.map((r) => r.timings_ms.total)).median / summarize(duck.map((r) => r.copy_ms)).median, 2);
  const result = {
    input: input.path,
    input_kind: input.kind,
    rss_method: rss,
    runs,
    fresh: { wall_ms: wall, max_rss_kb: rssKb.length ? Math.max(...rssKb) : null, max_rss_mib: rssKb.length ? mib(Math.max(...rssKb)) : null, stages_ms: stages, per_run: fresh },
    rerun,
    append: { ...append, file_rows: app.rows, invalid_rows_left_out: app.dropped, date: app.date, from: app.from },
    duckdb_copy: { wall_ms: duckWall, copy_ms: summarize(duck.map((r) => r.copy_ms)), max_rss_kb: Math.max(...duck.map((r) => r.max_rss_kb ?? 0)) || null, per_run: duck },
    ratio_wall_median: round(wall.median / duckWall.median, 2),
    ratio_in_process_median: inProcRatio,
    data_dir: dirs[0],
  };
  log(`  fresh wall: min ${wall.min.toFixed(0)} ms, median ${wall.median.toFixed(0)} ms; peak RSS max ${result.fresh.max_rss_mib} MiB`);
  log(`  stage medians: ${Object.entries(stages).map(([k, v]) => `${k} ${v.median}`).join(', ')} (ms)`);
  log(`  duckdb COPY wall: min ${duckWall.min.toFixed(0)} ms, median ${duckWall.median.toFixed(0)} ms`);
  log(`  ratio kestrel etl / duckdb copy: ${result.ratio_wall_median}x (whole processes, medians); ${inProcRatio}x (in-process: report total vs COPY statement)`);
  return result;
}

function fmtTimings(t) {
  return Object.entries(t ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
}

if (isMain(import.meta.url)) {
  installSignalCleanup();
  const flags = parseFlags(process.argv.slice(2));
  try {
    const res = await benchEtl({ input: pickInput(flags.input), runs: intFlag(flags.runs, 3, 20) });
    if (flags.json) console.log(JSON.stringify(res, null, 2));
  } catch (e) {
    console.error(`bench/etl: ${e.message}`);
    process.exitCode = 1;
  } finally {
    cleanupTemp();
  }
}
