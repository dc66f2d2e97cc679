import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FailureError, InputError, KestrelError } from '../core/errors.js';
import { ALPHA158_COLUMNS, ALPHA158_NAMES, alpha158, type BarsInput, type FeatureMatrix } from './alpha158.js';
import type { WorkerFailure, WorkerRequest, WorkerResponse } from './compute-protocol.js';

/**
 * Alpha158 for many symbols. `threads: 1` computes in-process; `threads: k > 1` splits the
 * symbols into k contiguous groups of about equal row counts, packs each group's OHLCV into
 * one Float64Array, transfers it to a worker thread and gets the group's features and
 * labels back as two transferred buffers (no copies of the results). Workers are started for the call and
 * terminated before it returns, also on failure.
 *
 * Memory: the matrices of one group (all symbols with threads: 1) are views into one
 * packed buffer (a single allocation and a single transfer per worker); the buffer lives
 * until every matrix of the group is unreachable. Copy a matrix's `values` to keep it alone.
 *
 * The worker is resolved next to this module (import.meta.url): compute-worker.js when
 * running from dist/; compute-worker.ts, loaded through ts-worker-bootstrap.mjs which
 * registers tsx in the thread, when running from sources (vitest, tsx).
 */

export interface ComputeOptions {
  /**
   * Worker threads; 1 = in-process. Default: min(2, available cores), or in-process when
   * the input has fewer than 2 × AUTO_MIN_ROWS_PER_WORKER rows (starting a worker costs
   * about as much as computing 100k rows).
   */
  threads?: number;
}

export const AUTO_MIN_ROWS_PER_WORKER = 100_000;

export async function computeAlpha158(series: Iterable<BarsInput>, opts: ComputeOptions = {}): Promise<FeatureMatrix[]> {
  const list = [...series];
  for (const b of list) checkLengths(b);
  const rows = list.reduce((s, b) => s + b.close.length, 0);
  const threads = opts.threads ?? (rows < 2 * AUTO_MIN_ROWS_PER_WORKER ? 1 : Math.min(2, availableParallelism()));
  if (!Number.isInteger(threads) || threads < 1) throw new InputError(`threads must be a positive integer, got ${threads}`, 'bad_input');
  const k = Math.min(threads, list.length);
  if (k <= 1) return computeInProcess(list);

  const groups = splitByRows(list, k);
  const workers: Worker[] = [];
  try {
    const parts = await Promise.all(
      groups.map((g) => {
        const w = spawnWorker();
        workers.push(w);
        return runGroup(w, g);
      }),
    );
    return parts.flat();
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function checkLengths(b: BarsInput): void {
  for (const f of ['day', 'open', 'high', 'low', 'volume'] as const) {
    if (b[f].length !== b.close.length) throw new InputError(`${b.symbol}: ${f} has ${b[f].length} rows, close has ${b.close.length}`, 'bad_length');
  }
}

function rowOffsets(group: BarsInput[]): Int32Array {
  const offsets = new Int32Array(group.length + 1);
  for (let s = 0; s < group.length; s++) offsets[s + 1] = offsets[s]! + group[s]!.close.length;
  return offsets;
}

/** Per-symbol matrices as views into the group's packed buffers. */
function unpack(group: BarsInput[], offsets: Int32Array, values: Float64Array, labels: Float64Array): FeatureMatrix[] {
  return group.map((b, s) => {
    const a = offsets[s]!;
    const e = offsets[s + 1]!;
    return {
      symbol: b.symbol,
      names: ALPHA158_NAMES,
      day: b.day.slice(),
      rows: e - a,
      layout: 'column-major' as const,
      values: values.subarray(a * ALPHA158_COLUMNS, e * ALPHA158_COLUMNS),
      label: labels.subarray(a, e),
    };
  });
}

function computeInProcess(list: BarsInput[]): FeatureMatrix[] {
  const offsets = rowOffsets(list);
  const total = offsets[list.length]!;
  const values = new Float64Array(total * ALPHA158_COLUMNS);
  const labels = new Float64Array(total);
  list.forEach((b, s) => {
    const a = offsets[s]!;
    const e = offsets[s + 1]!;
    alpha158(b, { values: values.subarray(a * ALPHA158_COLUMNS, e * ALPHA158_COLUMNS), label: labels.subarray(a, e) });
  });
  return unpack(list, offsets, values, labels);
}

/** Contiguous groups with about equal total rows (input order preserved). */
function splitByRows(list: BarsInput[], k: number): BarsInput[][] {
  const total = list.reduce((s, b) => s + b.close.length, 0);
  const groups: BarsInput[][] = [];
  let cur: BarsInput[] = [];
  let acc = 0;
  for (let i = 0; i < list.length; i++) {
    const b = list[i]!;
    cur.push(b);
    acc += b.close.length;
    const left = list.length - i - 1;
    const groupsLeft = k - groups.length - 1;
    if (groupsLeft > 0 && (acc >= (total * (groups.length + 1)) / k || left === groupsLeft)) {
      groups.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

function spawnWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./compute-worker.js', import.meta.url));
  // From sources: a .mjs bootstrap registers tsx in the worker thread, then imports the .ts
  // worker (see ts-worker-bootstrap.mjs for why `--import tsx` alone fails on Node 20).
  return new Worker(new URL('./ts-worker-bootstrap.mjs', import.meta.url), {
    workerData: { entry: new URL('./compute-worker.ts', import.meta.url).href },
  });
}

function runGroup(w: Worker, group: BarsInput[]): Promise<FeatureMatrix[]> {
  const offsets = rowOffsets(group);
  const total = offsets[group.length]!;
  const prices = new Float64Array(5 * total);
  for (let s = 0; s < group.length; s++) {
    const b = group[s]!;
    const a = offsets[s]!;
    prices.set(b.open, a);
    prices.set(b.high, total + a);
    prices.set(b.low, 2 * total + a);
    prices.set(b.close, 3 * total + a);
    prices.set(b.volume, 4 * total + a);
  }
  const req: WorkerRequest = { symbols: group.map((b) => b.symbol), offsets, prices };
  return new Promise<FeatureMatrix[]>((resolve, reject) => {
    const onExit = (code: number): void => reject(new FailureError(`feature worker exited with code ${code} before answering`, 'worker_failed'));
    w.once('error', (e) => reject(e instanceof KestrelError ? e : new FailureError(`feature worker failed: ${e.message}`, 'worker_failed')));
    w.once('exit', onExit);
    w.once('message', (res: WorkerResponse | WorkerFailure) => {
      w.off('exit', onExit);
      if (!res.ok) {
        reject(res.exitCode === 2 ? new InputError(res.message, res.code) : new FailureError(res.message, res.code));
        return;
      }
      resolve(unpack(group, offsets, res.values, res.labels));
    });
    w.postMessage(req, [prices.buffer]);
  });
}
