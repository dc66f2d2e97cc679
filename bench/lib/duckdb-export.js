// Baseline for the export benchmark: DuckDB alone writing every features row to Parquet.
//   node bench/lib/duckdb-export.js <data-dir> <out.parquet>
// Same engine and default settings as kestrel's openDuck(); the file list comes from the
// data dir's manifest, as the catalog's `features` view does.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dataDir, output] = process.argv.slice(2);
if (!dataDir || !output) {
  process.stderr.write('usage: node bench/lib/duckdb-export.js <data-dir> <out.parquet>\n');
  process.exit(2);
}
const q = (s) => `'${s.replace(/'/g, "''")}'`;
const files = JSON.parse(readFileSync(join(dataDir, '_manifest.json'), 'utf8')).tables.features.map((f) => q(join(dataDir, f)));
const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
await con.run(`COPY (SELECT * FROM read_parquet([${files.join(', ')}], hive_partitioning = false)) TO ${q(output)} (FORMAT parquet, COMPRESSION zstd)`);
con.closeSync();
instance.closeSync();
