// SQL benchmark: `kestrel sql --json` as whole processes (Node start + DuckDB open + views + query + JSON out).
//   node bench/sql.js [--data-dir DIR] [--input FILE] [--runs N] [--json]
// Without --data-dir it first runs the ETL into a temp data dir. Each query gets one untimed
// warm-up run (reported as cold_ms), then N timed runs (default 7), interleaved round-robin
// with the baselines: min / median / p90 ms (p90 linearly interpolated).
// Baselines in the same run: `kestrel --version` (bare CLI start) and `node -e 0` (bare Node).
import { join } from 'node:path';
import {
  CLI, installSignalCleanup, cleanupTemp, describeInput, intFlag, isMain, mustSucceed, parseFlags, pickInput, round, runNode, summarize, tempDir,
} from './lib/common.js';

const SQL_TIMEOUT_MS = 60_000;

/** The three queries of the issue. Symbols exist in both the full data set and the sample. */
export const QUERIES = [
  {
    name: 'symbol_year',
    what: "one symbol's year (AAPL 2019)",
    sql: "SELECT date, open, high, low, close, volume FROM bars WHERE symbol = 'AAPL' AND date >= DATE '2019-01-01' AND date < DATE '2020-01-01' ORDER BY date",
  },
  {
    name: 'pair_join',
    what: 'two-symbol join on date (AAPL/MSFT, all dates)',
    sql: "SELECT a.date, a.close AS aapl_close, b.close AS msft_close, a.close / b.close AS ratio FROM bars a JOIN bars b ON b.date = a.date WHERE a.symbol = 'AAPL' AND b.symbol = 'MSFT' ORDER BY a.date",
  },
  {
    name: 'symbol_aggregates',
    what: 'per-symbol aggregates over all rows',
    sql: 'SELECT symbol, min(date) AS first_date, max(date) AS last_date, count(*) AS bars, min(low) AS min_low, max(high) AS max_high, arg_max(close, date) AS last_close, avg(close * volume) AS avg_dollar_volume FROM bars GROUP BY symbol ORDER BY symbol',
  },
];

export async function benchSql({ dataDir, input = pickInput(), runs = 7, log = console.log } = {}) {
  let dir = dataDir;
  let populatedBy = 'given';
  if (!dir) {
    dir = join(tempDir('sql'), 'data');
    log(`SQL bench: populating ${dir} from ${describeInput(input)}`);
    mustSucceed('kestrel etl (populate)', await runNode(CLI, ['etl', '--input', input.path, '--data-dir', dir, '--json'], { timeoutMs: 180_000 }));
    populatedBy = 'etl';
  }
  log(`SQL bench: data dir ${dir}, 1 warm-up + ${runs} timed runs per subject, interleaved`);
  const rowsCount = (r) => {
    const rows = JSON.parse(r.stdout);
    if (!Array.isArray(rows) || rows.length === 0) throw new Error(`query returned no rows: ${r.stdout.slice(0, 200)}`);
    return { rows: rows.length };
  };

  // Each subject gets one untimed warm-up; then the timed runs go round-robin over all subjects,
  // so drift on a shared machine (other load, CPU frequency) hits every subject alike.
  const subjects = [
    { key: 'node_e0', label: 'node -e 0', script: '-e', args: ['0'] }, // runNode passes the script slot to node as-is
    { key: 'kestrel_version', label: 'kestrel --version', script: CLI, args: ['--version'] },
    ...QUERIES.map((q) => ({ key: q.name, label: `kestrel sql (${q.name})`, script: CLI, args: ['sql', '--data-dir', dir, '--json', q.sql], query: q })),
  ];
  const cold = {};
  const info = {};
  const times = Object.fromEntries(subjects.map((s) => [s.key, []]));
  for (const s of subjects) {
    const r = mustSucceed(s.label, await runNode(s.script, s.args, { timeoutMs: SQL_TIMEOUT_MS }));
    cold[s.key] = round(r.wallMs);
    if (s.query) info[s.key] = rowsCount(r);
  }
  for (let i = 0; i < runs; i++) {
    for (const s of subjects) {
      const r = mustSucceed(s.label, await runNode(s.script, s.args, { timeoutMs: SQL_TIMEOUT_MS }));
      times[s.key].push(r.wallMs);
    }
  }
  const stat = (key) => ({ cold_ms: cold[key], ...summarize(times[key]) });
  const node = stat('node_e0');
  const version = stat('kestrel_version');
  log(`  baseline node -e 0:         min ${node.min.toFixed(0)}  median ${node.median.toFixed(0)}  p90 ${node.p90.toFixed(0)} ms`);
  log(`  baseline kestrel --version: min ${version.min.toFixed(0)}  median ${version.median.toFixed(0)}  p90 ${version.p90.toFixed(0)} ms`);
  const queries = {};
  for (const q of QUERIES) {
    const r = { ...stat(q.name), ...info[q.name] };
    r.ratio_to_version = round(r.median / version.median, 2);
    r.over_version_ms = round(r.median - version.median);
    queries[q.name] = { what: q.what, sql: q.sql, ...r };
    log(`  ${q.name.padEnd(18)} ${String(r.rows).padStart(5)} rows: cold ${r.cold_ms.toFixed(0)}  min ${r.min.toFixed(0)}  median ${r.median.toFixed(0)}  p90 ${r.p90.toFixed(0)} ms  (${r.ratio_to_version}x --version, ${r.over_version_ms >= 0 ? '+' : ''}${r.over_version_ms.toFixed(0)} ms)`);
  }
  return { input: input.path, input_kind: input.kind, data_dir_populated_by: populatedBy, runs, baseline: { node_e0: node, kestrel_version: version }, queries };
}


if (isMain(import.meta.url)) {
  installSignalCleanup();
  const flags = parseFlags(process.argv.slice(2));
  try {
    const res = await benchSql({ dataDir: flags['data-dir'], input: pickInput(flags.input), runs: intFlag(flags.runs, 7, 50) });
    if (flags.json) console.log(JSON.stringify(res, null, 2));
  } catch (e) {
    console.error(`bench/sql: ${e.message}`);
    process.exitCode = 1;
  } finally {
    cleanupTemp();
  }
}
