// Export benchmark: `SELECT * FROM features` out of kestrel sql, whole processes, wall time and
// peak RSS (GNU time, or the in-process wrapper), against DuckDB alone writing the same rows.
//   node bench/sql-export.js --data-dir DIR [--json]
// DIR must hold features (`kestrel etl` then `kestrel features`); on the full data set that is
// 592k rows × 161 columns (~1.6 GB as CSV, ~3 GB as JSON). Subjects, one run each:
//   --csv and --json to stdout (streamed; the bench counts the bytes and drops them),
//   --out x.parquet and --out x.csv (DuckDB's COPY),
//   baseline: bench/lib/duckdb-export.js, a bare @duckdb/node-api COPY of the same query.
// Before issue #13, `--csv` held the whole result in the V8 heap: 6.8 GB RSS and a
// heap-out-of-memory abort after 407 s with no output on the full set.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { CLI, ROOT, cleanupTemp, installSignalCleanup, isMain, mib, parseFlags, rssMethod, round, tempDir } from './lib/common.js';

const TIMEOUT_MS = 30 * 60_000;
const GNU_TIME = '/usr/bin/time';

/** Runs node with args; stdout is counted, not kept. Returns wall ms, peak RSS KiB, stdout bytes. */
function run(args, { env = process.env } = {}) {
  const rssFile = join(tempDir('export-rss'), 'maxrss');
  const gnu = rssMethod() === 'gnu-time';
  const cmd = gnu ? GNU_TIME : process.execPath;
  const [script, ...rest] = args;
  const argv = gnu ? ['-f', '%M', '-o', rssFile, process.execPath, ...args] : [join(ROOT, 'bench', 'lib', 'rss-wrap.js'), ...(script === CLI ? [] : ['--script', script]), ...rest];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let err = '';
    child.stdout.on('data', (b) => (bytes += b.length));
    child.stderr.on('data', (b) => (err += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      let maxRssKb = null;
      if (gnu && existsSync(rssFile)) maxRssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
      else {
        const m = /KESTREL_BENCH_MAXRSS_KB=(\d+)/.exec(err);
        if (m) maxRssKb = Number(m[1]);
      }
      resolve({ code, signal, wallMs, maxRssKb, bytes, stderr: err.trim().split('\n').slice(-3).join('\n') });
    });
  });
}

export async function benchSqlExport({ dataDir, log = console.log } = {}) {
  if (!dataDir || !existsSync(join(dataDir, '_manifest.json'))) throw new Error('--data-dir DIR with features is required (kestrel etl, then kestrel features)');
  const out = tempDir('export');
  const query = 'SELECT * FROM features';
  const subjects = [
    { key: 'duckdb_copy_parquet', label: 'DuckDB alone: COPY … TO x.parquet', args: [join(ROOT, 'bench', 'lib', 'duckdb-export.js'), dataDir, join(out, 'base.parquet')], file: join(out, 'base.parquet') },
    { key: 'out_parquet', label: 'kestrel sql --out x.parquet', args: [CLI, 'sql', '--data-dir', dataDir, '--out', join(out, 'x.parquet'), query], file: join(out, 'x.parquet') },
    { key: 'out_csv', label: 'kestrel sql --out x.csv', args: [CLI, 'sql', '--data-dir', dataDir, '--out', join(out, 'x.csv'), query], file: join(out, 'x.csv') },
    { key: 'csv_stdout', label: 'kestrel sql --csv > stdout', args: [CLI, 'sql', '--data-dir', dataDir, '--csv', query] },
    { key: 'json_stdout', label: 'kestrel sql --json > stdout', args: [CLI, 'sql', '--data-dir', dataDir, '--json', query] },
  ];
  const results = {};
  for (const s of subjects) {
    const r = await run(s.args);
    if (r.code !== 0) throw new Error(`${s.label}: exit ${r.code ?? r.signal}\n${r.stderr}`);
    const bytes = s.file ? statSync(s.file).size : r.bytes;
    results[s.key] = { label: s.label, wall_ms: round(r.wallMs), max_rss_mib: mib(r.maxRssKb), output_mib: round(bytes / 2 ** 20) };
  }
  const base = results.duckdb_copy_parquet;
  log(`SQL export of "${query}" from ${dataDir} (peak RSS by ${rssMethod()})`);
  for (const r of Object.values(results)) {
    r.rss_ratio_to_duckdb = round(r.max_rss_mib / base.max_rss_mib, 2);
    log(`  ${r.label.padEnd(36)} ${String(Math.round(r.wall_ms / 1000)).padStart(5)} s  peak RSS ${String(r.max_rss_mib).padStart(7)} MiB (${r.rss_ratio_to_duckdb}x DuckDB alone)  output ${r.output_mib} MiB`);
  }
  return results;
}

if (isMain(import.meta.url)) {
  installSignalCleanup();
  const flags = parseFlags(process.argv.slice(2));
  try {
    const r = await benchSqlExport({ dataDir: flags['data-dir'], log: flags.json ? () => {} : console.log });
    if (flags.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  } finally {
    cleanupTemp();
  }
}
