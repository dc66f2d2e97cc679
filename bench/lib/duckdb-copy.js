// Baseline for the ETL benchmark: DuckDB alone turning the CSV.gz into one Parquet file.
//   node bench/lib/duckdb-copy.js <in.csv.gz> <out.parquet>
// Prints {"rows":…, "open_ms":…, "copy_ms":…} on stdout. Same engine and default settings
// (threads = cores) as kestrel's openDuck().
import { DuckDBInstance } from '@duckdb/node-api';
import { performance } from 'node:perf_hooks';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: node bench/lib/duckdb-copy.js <in.csv.gz> <out.parquet>\n');
  process.exit(2);
}
const q = (s) => `'${s.replace(/'/g, "''")}'`;
const t0 = performance.now();
const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
const t1 = performance.now();
await con.run(`COPY (SELECT * FROM read_csv(${q(input)})) TO ${q(output)} (FORMAT parquet)`);
const t2 = performance.now();
const rows = Number((await con.runAndReadAll(`SELECT count(*) AS n FROM read_parquet(${q(output)})`)).getRows()[0][0]);
con.closeSync();
instance.closeSync();
process.stdout.write(JSON.stringify({ rows, open_ms: Math.round(t1 - t0), copy_ms: Math.round(t2 - t1) }) + '\n');
