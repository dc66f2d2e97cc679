// Runs the kestrel CLI (or, with --script FILE, another Node script) in this process and, at
// exit, writes this process's peak RSS to stderr as `KESTREL_BENCH_MAXRSS_KB=<KiB>`.
// Used by the benchmarks when GNU time (/usr/bin/time) is not available.
//   node bench/lib/rss-wrap.js etl --input x.csv.gz --json
//   node bench/lib/rss-wrap.js --script bench/lib/duckdb-copy.js in.csv.gz out.parquet
import { writeSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

process.on('exit', () => {
  writeSync(2, `\nKESTREL_BENCH_MAXRSS_KB=${process.resourceUsage().maxRSS}\n`);
});

let args = process.argv.slice(2);
if (args[0] === '--script') {
  const script = args[1];
  args = args.slice(2);
  process.argv = [process.argv[0], script, ...args];
  await import(pathToFileURL(script).href);
} else {
  const { main } = await import(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)));
  process.exitCode = await main(args);
}
