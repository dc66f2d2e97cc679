// Runs the ETL and SQL benchmarks, prints a summary against the targets and writes
// all figures to bench/out/results.json.
//   npm run bench            (builds first)
//   node bench/run-all.js [--input FILE] [--etl-runs N] [--sql-runs N] [--strict]
// --strict: exit 1 when a target is missed (otherwise exit 1 only when a bench fails to run).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchEtl } from './etl.js';
import { benchSql } from './sql.js';
import { ROOT, busyPercent, cleanupTemp, describeInput, installSignalCleanup, intFlag, parseFlags, pickInput, round } from './lib/common.js';

const TARGETS = {
  etl_wall_ms: 5000,
  etl_peak_rss_bytes: 1.5e9, // 1.5 GB read as 1.5×10^9 bytes (≈1430 MiB), the stricter reading
  sql_ms: 300,
};

installSignalCleanup();
const flags = parseFlags(process.argv.slice(2));
const input = pickInput(flags.input);
const started = new Date();
const load0 = loadavg();
const results = {
  started_at: started.toISOString(),
  machine: { node: process.version, cpus: cpus().length, cpu_model: cpus()[0]?.model ?? null, mem_gib: round(totalmem() / 2 ** 30, 1), loadavg_start: load0.map((x) => round(x, 2)) },
  input: input.path,
  input_kind: input.kind,
  targets: TARGETS,
};

let failed = false;
try {
  console.log(`kestrel benchmarks: ${describeInput(input)}`);
  results.machine.busy_pct_before = await busyPercent(1000);
  console.log(`machine: ${results.machine.cpus} cores, ${results.machine.mem_gib} GiB, node ${process.version}, load avg ${load0.map((x) => x.toFixed(2)).join(' ')}, CPU busy before start ${results.machine.busy_pct_before ?? '?'}%`);
  if (results.machine.busy_pct_before > 20) console.log('WARNING: other processes are using the CPU; figures will be inflated and noisy (min is the most robust).');
  console.log('');
  const etl = await benchEtl({ input, runs: intFlag(flags['etl-runs'], 3, 20) });
  console.log('');
  const sql = await benchSql({ input, dataDir: etl.data_dir, runs: intFlag(flags['sql-runs'], 7, 50) });
  delete etl.data_dir; // a temp dir, removed below
  results.etl = etl;
  results.sql = sql;
  results.machine.loadavg_end = loadavg().map((x) => round(x, 2));
  results.machine.busy_pct_after = await busyPercent(1000);
  results.finished_at = new Date().toISOString();

  const rows = [];
  const add = (metric, value, target, pass) => rows.push({ metric, value, target, pass });
  const rssBytes = etl.fresh.max_rss_kb == null ? null : etl.fresh.max_rss_kb * 1024;
  add('etl fresh wall, median of ' + etl.runs, `${etl.fresh.wall_ms.median.toFixed(0)} ms (min ${etl.fresh.wall_ms.min.toFixed(0)})`, `< ${TARGETS.etl_wall_ms} ms`, etl.fresh.wall_ms.median < TARGETS.etl_wall_ms);
  add('etl peak RSS, max of fresh runs', rssBytes == null ? 'n/a' : `${etl.fresh.max_rss_mib} MiB`, '< 1.5 GB', rssBytes == null ? null : rssBytes < TARGETS.etl_peak_rss_bytes);
  add('etl stages, medians (ms)', Object.entries(etl.fresh.stages_ms).filter(([k]) => k !== 'total' && k !== 'load_existing').map(([k, v]) => `${k} ${v.median.toFixed(0)}`).join(' / '), '-', null);
  add('etl re-run: files written', `${etl.rerun.published.files_written} (${etl.rerun.wall_ms.toFixed(0)} ms)`, '0', etl.rerun.published.files_written === 0);
  add('etl append one day', `${etl.append.wall_ms.toFixed(0)} ms, ${etl.append.published.files_written} files`, '-', null);
  add('duckdb COPY baseline, median', `${etl.duckdb_copy.wall_ms.median.toFixed(0)} ms`, '-', null);
  add('ratio etl / duckdb COPY', `${etl.ratio_wall_median}x`, '-', null);
  add('node -e 0, median', `${sql.baseline.node_e0.median.toFixed(0)} ms`, '-', null);
  add('kestrel --version, median', `${sql.baseline.kestrel_version.median.toFixed(0)} ms`, '-', null);
  for (const [name, q] of Object.entries(sql.queries)) {
    add(`sql ${name}, median (min/p90)`, `${q.median.toFixed(0)} ms (${q.min.toFixed(0)}/${q.p90.toFixed(0)})`, `< ${TARGETS.sql_ms} ms`, q.median < TARGETS.sql_ms);
  }
  results.summary = rows;

  const w = [Math.max(6, ...rows.map((r) => r.metric.length)), Math.max(5, ...rows.map((r) => r.value.length)), Math.max(6, ...rows.map((r) => r.target.length))];
  const line = (a, b, c, d) => `${a.padEnd(w[0])}  ${b.padStart(w[1])}  ${c.padEnd(w[2])}  ${d}`;
  console.log('\nSummary' + (input.kind === 'full' ? '' : ' (NOT the full data set: targets are for the full set, pass is indicative only)'));
  console.log(line('metric', 'value', 'target', 'pass'));
  console.log(line('-'.repeat(w[0]), '-'.repeat(w[1]), '-'.repeat(w[2]), '----'));
  for (const r of rows) console.log(line(r.metric, r.value, r.target, r.pass == null ? '' : r.pass ? 'yes' : 'NO'));
  console.log(`CPU busy from other processes: ${results.machine.busy_pct_before ?? '?'}% before, ${results.machine.busy_pct_after ?? '?'}% after; load avg at end ${results.machine.loadavg_end.join(' ')}`);
  results.all_targets_met = rows.every((r) => r.pass !== false);
  if (flags.strict && !results.all_targets_met) process.exitCode = 1;
} catch (e) {
  failed = true;
  results.error = e.message;
  console.error(`\nbench: ${e.message}`);
  process.exitCode = 1;
} finally {
  cleanupTemp();
  const outDir = join(ROOT, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'results.json');
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`\n${failed ? 'partial results' : 'results'} written to ${file}`);
}
