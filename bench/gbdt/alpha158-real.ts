/**
 * Real-data bench of the research pipeline (issue #3): the 2015-2017 Alpha158 matrix of the
 * shared data set, Qlib's LightGBM defaults, our GBDT against XGBoost 1.7 `hist` (2 threads)
 * on the same rows and labels, for both labels: `return` (LABEL0, z-scored per date) and
 * `abs_return` (|LABEL0|, z-scored per date: next-day volatility, a label with real signal).
 * Prints valid MSE (and the zero predictor's), test IC / Rank IC, training time per tree.
 * Run: npx tsx bench/gbdt/alpha158-real.ts [--data-dir DIR] (DIR: an ETL'd data directory;
 * default: ETL of /work/shared/data into a temp dir, or the bundled sample).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { loadAdjustedBars } from '../../src/data/bars-loader.js';
import { openCatalog } from '../../src/data/catalog.js';
import { runEtl } from '../../src/data/etl.js';
import { defaultGates } from '../../src/data/quality/rules.js';
import { computeAlpha158 } from '../../src/features/compute.js';
import { buildSplit, DEFAULT_SPLIT, type LabeledSet } from '../../src/ml/dataset.js';
import { icSummary, mse } from '../../src/ml/metrics.js';
import { trainGbdt } from '../../src/ml/gbdt/train.js';
import { QLIB_ALPHA158_PARAMS } from '../../src/ml/training-job.js';

const SHARED = '/work/shared/data/sp500_daily_2015_2020.csv.gz';
const arg = (k: string) => {
  const i = process.argv.indexOf(k);
  return i > 0 ? process.argv[i + 1] : undefined;
};

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'kestrel-gbdt-real-'));
  try {
    let dataDir = arg('--data-dir');
    if (!dataDir) {
      dataDir = join(work, 'data');
      const input = existsSync(SHARED) ? SHARED : 'data/sample/bars.csv.gz';
      console.log(`ETL of ${input}${input === SHARED ? '' : ' (shared data set absent: bundled sample, figures indicative only)'}`);
      await runEtl({ input, dataDir, gates: defaultGates(), clock: fixedClock('2020-01-13T00:00:00Z'), logger: silentLogger() });
    }
    const cat = await openCatalog(dataDir);
    const bars = await loadAdjustedBars(cat);
    cat.close();
    let t = performance.now();
    const mats = await computeAlpha158(bars.values(), { threads: 2 });
    console.log(`Alpha158 for ${mats.length} symbols: ${Math.round(performance.now() - t)} ms`);
    const xgbOk = (() => {
      try {
        execFileSync('/usr/bin/python3', ['-c', 'import xgboost'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    if (!xgbOk) console.log('python3-xgboost not installed: XGBoost columns skipped (apt-get install python3-xgboost)');

    for (const label of ['abs_return', 'return'] as const) {
      const s = buildSplit(mats, DEFAULT_SPLIT, label);
      console.log(`\nlabel=${label}: train ${s.train.nRows} × ${s.train.nFeatures}, valid ${s.valid.nRows}, test ${s.test.nRows}`);
      t = performance.now();
      const r = await trainGbdt(QLIB_ALPHA158_PARAMS, s.train, s.valid, { threads: 2 });
      const ourS = (performance.now() - t) / 1000;
      const trees = r.history.length;
      const pv = r.model.predict(s.valid.X, s.valid.nRows);
      const pt = r.model.predict(s.test.X, s.test.nRows);
      const row = (name: string, pvv: Float64Array, ptt: Float64Array, secs: number, nTrees: number, best: number) => {
        const ic = icSummary(ptt, s.test.y, s.test.day);
        return { model: name, valid_mse: mse(pvv, s.valid.y), test_ic: ic.ic.mean, test_rank_ic: ic.rankIc.mean, test_icir: ic.ic.icir, train_s: secs, trees: nTrees, best_iteration: best, s_per_tree: secs / nTrees };
      };
      const rows = [row('kestrel', pv, pt, ourS, trees, r.bestIteration)];
      rows.push({ model: 'zero', valid_mse: mse(new Float64Array(s.valid.nRows), s.valid.y), test_ic: NaN, test_rank_ic: NaN, test_icir: NaN, train_s: 0, trees: 0, best_iteration: 0, s_per_tree: NaN });
      if (xgbOk) {
        const dump = (name: string, set: LabeledSet, withY: boolean) => {
          writeFileSync(join(work, `${name}.bin`), Buffer.from(set.X.buffer, set.X.byteOffset, set.X.byteLength));
          if (withY) writeFileSync(join(work, `y${name.slice(1)}.bin`), Buffer.from(set.y.buffer, set.y.byteOffset, set.y.byteLength));
        };
        dump('X', s.train, true);
        dump('Xv', s.valid, true);
        dump('Xt', s.test, false);
        const out = execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'xgb_quality.py'), work, String(s.train.nRows), String(s.valid.nRows), String(s.test.nRows), String(s.train.nFeatures)], { encoding: 'utf8', maxBuffer: 1 << 24 });
        const x = JSON.parse(out.trim().split('\n').pop()!) as { train_s: number; dmatrix_s: number; trees: number; best_iteration: number; version: string };
        const readF64 = (f: string) => new Float64Array(new Uint8Array(readFileSync(join(work, f))).buffer);
        rows.push(row(`xgboost ${x.version}`, readF64('pv_xgb.bin'), readF64('pt_xgb.bin'), x.train_s + x.dmatrix_s, x.trees, x.best_iteration));
      }
      console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toPrecision(5)) : v]))));
      if (rows.length === 3) {
        const [k, , x] = rows as [(typeof rows)[0], unknown, (typeof rows)[0]];
        console.log(
          `kestrel vs xgboost: valid MSE ${(((k.valid_mse - x.valid_mse) / x.valid_mse) * 100).toFixed(3)}% (target within ±0.3%), ` +
            `test IC ${(((k.test_ic - x.test_ic) / Math.abs(x.test_ic)) * 100).toFixed(1)}% (target within ±10% for abs_return), ` +
            `time per tree ${(k.s_per_tree / x.s_per_tree).toFixed(2)}x, total ${(k.train_s / x.train_s).toFixed(2)}x`,
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
