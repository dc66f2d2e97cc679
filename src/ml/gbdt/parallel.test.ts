import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { binMatrix, featureBounds, fitBinning } from './binning.js';
import { HistEngine, workerEntry } from './parallel.js';
import { makeRegression } from './testdata.js';
import { trainGbdt } from './train.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'kestrel-gbdt-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('worker entry', () => {
  it('uses worker.js beside compiled JavaScript and a tsx bootstrap beside TypeScript', () => {
    expect(workerEntry('file:///app/dist/ml/gbdt/parallel.js')).toEqual({ url: new URL('file:///app/dist/ml/gbdt/worker.js'), fromSource: false });
    const ts = workerEntry(import.meta.url.replace('parallel.test.ts', 'parallel.ts'));
    expect(ts.fromSource).toBe(true);
    expect(ts.url.protocol).toBe('data:');
    expect(decodeURIComponent(ts.url.href)).toContain('worker.ts');
  });
});

describe('HistEngine', () => {
  it('bins on several threads exactly as on one, and joins its workers on close', async () => {
    const d = makeRegression(20_000, 9, 12, { nanRate: 0.1 });
    const engine = await HistEngine.start(3);
    expect(engine.workerCount).toBe(2);
    try {
      const opts = { maxBin: 63, sampleCount: 5000, seed: 3 };
      const b3 = engine.fitBinning(d.X, d.nRows, d.nFeatures, opts);
      const b1 = fitBinning(d.X, d.nRows, d.nFeatures, opts);
      for (let j = 0; j < d.nFeatures; j++) expect(Array.from(featureBounds(b3, j))).toEqual(Array.from(featureBounds(b1, j)));
      expect(engine.binMatrix(d.X, d.nRows, d.nFeatures, b3)).toEqual(new Uint8Array(binMatrix(d.X, d.nRows, d.nFeatures, b1)));
    } finally {
      await engine.close();
    }
    expect(engine.workerCount).toBe(0);
    await engine.close(); // idempotent
  });
});

/** Runs a training script in a fresh Node process; it must finish and exit on its own (no hanging workers). */
function runChild(args: string[], script: string): { status: number | null; stdout: string; stderr: string; signal: string | null } {
  const file = join(tmp, `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [...args, file], { cwd: repo, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

const trainScript = (indexUrl: string, dataUrl: string): string => `
import { trainGbdt } from ${JSON.stringify(indexUrl)};
import { makeRegression } from ${JSON.stringify(dataUrl)};
const d = makeRegression(6000, 13, 6);
const r = await trainGbdt({ num_leaves: 15, num_boost_round: 5, seed: 2, bagging_fraction: 0.9, bagging_freq: 1 }, d, undefined, { threads: 2 });
console.log(JSON.stringify(r.model.toJSON()));
`;

describe('worker threads in a separate process', () => {
  const expected = async (): Promise<string> => {
    const d = makeRegression(6000, 13, 6);
    const r = await trainGbdt({ num_leaves: 15, num_boost_round: 5, seed: 2, bagging_fraction: 0.9, bagging_freq: 1 }, d, undefined, { threads: 1 });
    return JSON.stringify(r.model.toJSON());
  };

  it('work from compiled JavaScript (dist layout) and let the process exit', async () => {
    const out = join(tmp, 'dist');
    const tsc = spawnSync(
      process.execPath,
      [
        join(repo, 'node_modules/typescript/bin/tsc'),
        ...['--outDir', out, '--rootDir', join(repo, 'src'), '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'],
        ...['--strict', '--skipLibCheck', '--types', 'node', join(repo, 'src/ml/index.ts'), join(repo, 'src/ml/gbdt/worker.ts'), join(repo, 'src/ml/gbdt/testdata.ts')],
      ],
      { cwd: repo, encoding: 'utf8', timeout: 120_000 },
    );
    expect(tsc.stdout + tsc.stderr).toBe('');
    writeFileSync(join(out, 'package.json'), '{"type":"module"}');
    const r = runChild([], trainScript(pathToFileURL(join(out, 'ml/index.js')).href, pathToFileURL(join(out, 'ml/gbdt/testdata.js')).href));
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(await expected());
  }, 120_000);

  it('work from TypeScript sources under tsx and let the process exit', async () => {
    const tsx = pathToFileURL(join(repo, 'node_modules/tsx/dist/loader.mjs')).href;
    const r = runChild(['--import', tsx], trainScript(pathToFileURL(join(repo, 'src/ml/index.ts')).href, pathToFileURL(join(repo, 'src/ml/gbdt/testdata.ts')).href));
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(await expected());
  }, 120_000);
});
