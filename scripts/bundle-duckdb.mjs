// Bundles @duckdb/node-api (≈100 CommonJS files) into one file under dist/vendor: loading it
// costs ~40 ms instead of ~110 ms, which is most of `kestrel sql`'s start-up. The native
// bindings stay external. src/data/duck.ts falls back to the package when the bundle is absent.
import { build } from 'esbuild';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
await build({
  entryPoints: [require.resolve('@duckdb/node-api')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['@duckdb/node-bindings'],
  outfile: 'dist/vendor/duckdb-node-api.cjs',
  logLevel: 'warning',
});
