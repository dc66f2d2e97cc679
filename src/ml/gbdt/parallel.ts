/**
 * The GBDT thread pool: worker_threads sharing the binned matrix, gradients, row indices and histogram
 * slots through SharedArrayBuffers. The main thread is thread 0 and takes its share of each task; tasks
 * are signalled with Atomics (no message passing on the hot path). The pool also bins the data in
 * parallel: sorting sample columns for the bin boundaries, and binning row ranges.
 *
 * The worker script is resolved next to this module (see {@link workerEntry}), so it works from the
 * compiled dist/ and from TypeScript sources (vitest, tsx).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { FailureError } from '../../core/errors.js';
import {
  PAD,
  binRowsPadded,
  binningFromPadded,
  binningSampleRows,
  gatherColumns,
  paddedBounds,
  rowStrideFor,
  type Binning,
  type FitBinningOptions,
} from './binning.js';
import { R_SIZE, mergeSplit, resetSplit } from './split.js';
import {
  CTRL_DONE,
  CTRL_ERROR,
  CTRL_SEQ,
  CTRL_SIZE,
  ERR_BYTES,
  J_COUNT,
  J_END,
  J_FIND,
  J_G,
  J_H,
  J_MODE,
  J_SLOT,
  J_SRC,
  J_START,
  JOB_SIZE,
  KIND_BIN,
  KIND_EXIT,
  KIND_FIT,
  KIND_JOBS,
  KIND_SETUP,
  MAX_JOBS,
  TASK_JOBS,
  TASK_KIND,
  TASK_NJOBS,
  TASK_SIZE,
  TASK_SOLO,
  ThreadContext,
  runBin,
  runFit,
  type BinPayload,
  type ControlBuffers,
  type FitPayload,
  type HistShared,
} from './task.js';

export { MODE_BUILD, MODE_SUBTRACT } from './task.js';

/**
 * Where the worker script is, for the module at `moduleUrl`: `worker.js` beside compiled JavaScript; beside
 * TypeScript sources, a tiny ESM bootstrap (data: URL) that registers tsx in the worker thread and then
 * imports `worker.ts`. (`--import tsx` in execArgv is not enough on Node 20: tsx registers its hooks only
 * in the main thread there.)
 */
export function workerEntry(moduleUrl: string = import.meta.url): { url: URL; fromSource: boolean } {
  const fromSource = /\.[cm]?ts$/.test(new URL(moduleUrl).pathname);
  if (!fromSource) return { url: new URL('./worker.js', moduleUrl), fromSource };
  const target = new URL('./worker.ts', moduleUrl).href;
  const code = `import { register } from ${JSON.stringify(tsxEsmApi(moduleUrl))};\nregister();\nawait import(${JSON.stringify(target)});\n`;
  return { url: new URL(`data:text/javascript,${encodeURIComponent(code)}`), fromSource };
}

/** file: URL of tsx's ESM API (a devDependency), found through its package.json exports. */
function tsxEsmApi(moduleUrl: string): string {
  const require = createRequire(moduleUrl);
  let pkgPath: string;
  try {
    pkgPath = require.resolve('tsx/package.json');
  } catch {
    throw new FailureError('running the GBDT worker from TypeScript sources needs the tsx devDependency (or use the compiled dist/)');
  }
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports?: Record<string, unknown> };
  const entry = pkg.exports?.['./esm/api'];
  const rel = typeof entry === 'string' ? entry : ((entry as { import?: { default?: string } } | undefined)?.import?.default ?? './dist/esm/api/index.mjs');
  return pathToFileURL(join(dirname(pkgPath), rel)).href;
}

/** The parent's Node flags (profiling, memory limits) minus module loaders, which the bootstrap handles. */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (/^--(import|require|loader|experimental-loader)$/.test(a) || a === '-r') i++;
    else if (!/^--(import|require|loader|experimental-loader)=/.test(a)) out.push(a);
  }
  return out;
}

/** Below this many rows in a task, thread 0 does all the work (waking workers would cost more). */
const SOLO_ROWS = 384;
const MAIN_SPIN_MS = 0.5;
/** A single histogram task takes well under a second; a worker silent this long is dead. */
const TASK_TIMEOUT_S = 300;

export class HistEngine {
  readonly nThreads: number;
  /** Merged best split per job after `run`. */
  readonly merged = new Float64Array(MAX_JOBS * R_SIZE);
  private readonly task: Float64Array;
  private readonly ctrl: Int32Array;
  private readonly errBuf: Uint8Array;
  private context: ThreadContext | null = null;
  private sharedState: HistShared | null = null;
  private nJobs = 0;
  private jobRows = 0;
  private closed = false;
  /** Smoothed throughput (plan cost per ms) of each thread on shared tasks; drives the word split. */
  private readonly speed: Float64Array;
  private readonly assigned: Float64Array;
  private readonly busy: Float64Array;

  private constructor(
    readonly control: ControlBuffers,
    private readonly workers: Worker[],
    private readonly ports: MessagePort[],
  ) {
    this.nThreads = control.nThreads;
    this.task = new Float64Array(control.task);
    this.ctrl = new Int32Array(control.ctrl);
    this.errBuf = new Uint8Array(control.err);
    this.busy = new Float64Array(control.busy);
    this.speed = new Float64Array(this.nThreads);
    this.assigned = new Float64Array(this.nThreads);
  }

  /** Starts a pool of `nThreads` threads: this one plus `nThreads − 1` workers. */
  static async start(nThreads: number): Promise<HistEngine> {
    const control: ControlBuffers = {
      nThreads,
      busy: new SharedArrayBuffer(8 * nThreads),
      task: new SharedArrayBuffer(TASK_SIZE * 8),
      result: new SharedArrayBuffer(nThreads * MAX_JOBS * R_SIZE * 8),
      ctrl: new SharedArrayBuffer(CTRL_SIZE * 4),
      err: new SharedArrayBuffer(ERR_BYTES),
    };
    const workers: Worker[] = [];
    const ports: MessagePort[] = [];
    if (nThreads > 1) {
      const { url } = workerEntry();
      const ready: Promise<void>[] = [];
      for (let t = 1; t < nThreads; t++) {
        const { port1, port2 } = new MessageChannel();
        const w = new Worker(url, { workerData: { control, tid: t, port: port2 }, transferList: [port2], execArgv: workerExecArgv() });
        workers.push(w);
        ports.push(port1);
        ready.push(
          new Promise<void>((resolve, reject) => {
            port1.once('message', (m: unknown) => (m === 'ready' ? resolve() : reject(new FailureError(`GBDT worker ${t} sent ${String(m)}`))));
            w.once('error', reject);
            w.once('exit', (code) => reject(new FailureError(`GBDT worker ${t} exited with code ${code} before starting`)));
          }),
        );
      }
      try {
        await Promise.all(ready);
      } catch (err) {
        await Promise.all(workers.map((w) => w.terminate()));
        for (const p of ports) p.close();
        throw err;
      }
      for (let k = 0; k < workers.length; k++) {
        workers[k].removeAllListeners();
        ports[k].removeAllListeners();
        // Workers block in Atomics.wait between tasks; they must never keep the process alive on their own.
        workers[k].unref();
        ports[k].unref();
      }
    }
    return new HistEngine(control, workers, ports);
  }

  /** The main thread's histogram context (after {@link setupHist}). */
  get ctx(): ThreadContext {
    if (this.context === null) throw new FailureError('GBDT thread pool: histogram state not set up');
    return this.context;
  }

  get shared(): HistShared {
    if (this.sharedState === null) throw new FailureError('GBDT thread pool: histogram state not set up');
    return this.sharedState;
  }

  /** Installs the histogram state on every thread. */
  setupHist(shared: HistShared): void {
    this.sharedState = shared;
    this.context = new ThreadContext(this.control, shared, 0);
    this.runPayload(KIND_SETUP, () => shared, () => undefined);
  }

  /** Signals the workers, runs `main` here, waits for the workers; rethrows a worker's error. */
  private signalAndWait(nWorkers: number, main: () => void): void {
    if (this.closed) throw new FailureError('GBDT thread pool is closed');
    const ctrl = this.ctrl;
    if (nWorkers > 0) {
      Atomics.store(ctrl, CTRL_DONE, 0);
      Atomics.add(ctrl, CTRL_SEQ, 1);
      Atomics.notify(ctrl, CTRL_SEQ);
    }
    main();
    if (nWorkers === 0) return;
    // Spin while the workers finish their share (tasks take micro- to milliseconds), then sleep.
    let spins = 0;
    let since = 0;
    let waited = 0;
    for (;;) {
      const d = Atomics.load(ctrl, CTRL_DONE);
      if (d >= nWorkers) break;
      if ((++spins & 1023) !== 0) continue;
      const now = performance.now();
      if (since === 0) since = now;
      else if (now - since > MAIN_SPIN_MS && Atomics.wait(ctrl, CTRL_DONE, d, 1000) === 'timed-out' && ++waited >= TASK_TIMEOUT_S) {
        throw new FailureError(`GBDT worker did not finish a task within ${TASK_TIMEOUT_S} s`);
      }
    }
    if (Atomics.load(ctrl, CTRL_ERROR) !== 0) {
      const n = new DataView(this.errBuf.buffer).getInt32(0, true);
      throw new FailureError(`GBDT worker failed: ${new TextDecoder().decode(this.errBuf.slice(4, 4 + n))}`);
    }
  }

  /** Runs a task of `kind` whose payload for worker `tid` is `payload(tid)`, with `main` as thread 0's share. */
  private runPayload(kind: number, payload: (tid: number) => unknown, main: () => void): void {
    this.task[TASK_KIND] = kind;
    for (let t = 1; t < this.nThreads; t++) this.ports[t - 1].postMessage(payload(t));
    this.signalAndWait(this.nThreads - 1, main);
  }

  /** Splits [0, n) into nThreads contiguous ranges; returns the T + 1 boundaries. */
  private ranges(n: number): number[] {
    const T = this.nThreads;
    return Array.from({ length: T + 1 }, (_, t) => Math.floor((n * t) / T));
  }

  /** Bin boundaries of every feature from a sample of rows; columns are sorted on all threads. */
  fitBinning(X: Float64Array, nRows: number, nFeatures: number, opts: FitBinningOptions): Binning {
    const rows = binningSampleRows(nRows, opts.sampleCount, opts.seed);
    const nSample = rows ? rows.length : nRows;
    const BLOCK = Math.min(nFeatures, 8 * this.nThreads);
    const sab = (bytes: number): SharedArrayBuffer => new SharedArrayBuffer(bytes);
    const cols = new Float64Array(sab(8 * BLOCK * nSample));
    const counts = new Int32Array(sab(4 * BLOCK));
    const padded = new Float64Array(sab(8 * nFeatures * PAD));
    const nValueBins = new Int32Array(sab(4 * nFeatures));
    for (let j0 = 0; j0 < nFeatures; j0 += BLOCK) {
      const j1 = Math.min(nFeatures, j0 + BLOCK);
      gatherColumns(X, nFeatures, rows, nSample, j0, j1, cols, nSample, counts);
      const r = this.ranges(j1 - j0);
      const part = (t: number): FitPayload => ({ cols, stride: nSample, counts, k0: r[t], k1: r[t + 1], featureOfColumn: j0, maxBin: opts.maxBin, padded, nValueBins });
      this.runPayload(KIND_FIT, part, () => runFit(part(0)));
    }
    return binningFromPadded(padded, nValueBins);
  }

  /**
   * Bins X into a new shared row-major Uint8 matrix (rows padded to 4 bytes), rows split among the threads.
   * Workers read a shared copy of their rows unless X is already backed by a SharedArrayBuffer.
   */
  binMatrix(X: Float64Array, nRows: number, nFeatures: number, binning: Binning): Uint8Array {
    const out = new Uint8Array(new SharedArrayBuffer(nRows * rowStrideFor(nFeatures)));
    const padded = paddedBounds(binning, this.nThreads > 1);
    const nvb = new Int32Array(new SharedArrayBuffer(4 * nFeatures));
    nvb.set(binning.nValueBins);
    if (this.nThreads === 1 || nRows < 4096) {
      binRowsPadded(X, 0, nFeatures, padded, nvb, out, 0, nRows);
      return out;
    }
    const r = this.ranges(nRows);
    const isShared = X.buffer instanceof SharedArrayBuffer;
    const part = (t: number): BinPayload => {
      let src = X;
      let xRow = r[t];
      if (!isShared && t > 0) {
        src = new Float64Array(new SharedArrayBuffer(8 * (r[t + 1] - r[t]) * nFeatures));
        src.set(X.subarray(r[t] * nFeatures, r[t + 1] * nFeatures));
        xRow = 0;
      }
      return { X: src, xRow, nFeatures, padded, nValueBins: nvb, out, outRow: r[t], nRows: r[t + 1] - r[t] };
    };
    this.runPayload(KIND_BIN, part, () => runBin(part(0)));
    return out;
  }

  /**
   * Sets the features used by the next tasks (per tree: feature sampling) and splits their 4-feature
   * words among the threads. The histogram kernel costs about the same per word whatever the number of
   * used features in it; each thread gets a share proportional to its measured throughput on the previous
   * trees (threads can differ: other load on a core, cheaper or dearer features). Which thread builds which
   * feature does not change any result.
   */
  setPlan(used: Uint8Array): void {
    const s = this.shared;
    const T = this.nThreads;
    const plan = this.ctx.plan;
    const wordsOffset = 2 + T;
    const usedOffset = wordsOffset + s.wordsPerRow;
    // Update throughput estimates from the tasks run since the last plan.
    for (let t = 0; t < T; t++) {
      if (this.busy[t] > 1 && this.assigned[t] > 0) {
        const v = this.assigned[t] / this.busy[t];
        this.speed[t] = this.speed[t] > 0 ? 0.7 * this.speed[t] + 0.3 * v : v;
      }
      this.busy[t] = 0;
    }
    let speedSum = 0;
    for (let t = 0; t < T; t++) speedSum += this.speed[t] > 0 ? this.speed[t] : 0;
    const share = (t: number): number => (speedSum > 0 && this.speed.every((v) => v > 0) ? this.speed[t] / speedSum : 1 / T);

    let nw = 0;
    let total = 0;
    const weight: number[] = [];
    for (let w = 0; w < s.wordsPerRow; w++) {
      let c = 0;
      for (let b = 0; b < 4; b++) {
        const f = 4 * w + b;
        if (f < s.nFeatures && used[f] === 1) c++;
      }
      if (c > 0) {
        plan[wordsOffset + nw++] = w;
        const cost = 16 + c; // per-row cost of a word dominates; used features add split search
        weight.push(cost);
        total += cost;
      }
    }
    for (let f = 0; f < s.nFeatures; f++) plan[usedOffset + f] = used[f] === 1 ? 1 : 0;
    plan[1] = 0;
    let acc = 0;
    let t = 1;
    let bound = total * share(0);
    let prevAcc = 0;
    for (let k = 0; k < nw && t < T; k++) {
      acc += weight[k];
      while (t < T && acc >= bound) {
        plan[1 + t] = k + 1;
        this.assigned[t - 1] = acc - prevAcc;
        prevAcc = acc;
        bound += total * share(t);
        t++;
      }
    }
    while (t <= T) {
      plan[1 + t] = nw;
      this.assigned[t - 1] = total - prevAcc;
      prevAcc = total;
      t++;
    }
    plan[0] = plan[0] + 1;
  }

  /** Sets job `j` of the next histogram task. */
  job(j: number, mode: number, slot: number, start: number, end: number, src: number, find: boolean, sumG: number, sumH: number, count: number): void {
    const b = TASK_JOBS + j * JOB_SIZE;
    const t = this.task;
    t[b + J_MODE] = mode;
    t[b + J_SLOT] = slot;
    t[b + J_START] = start;
    t[b + J_END] = end;
    t[b + J_SRC] = src;
    t[b + J_FIND] = find ? 1 : 0;
    t[b + J_G] = sumG;
    t[b + J_H] = sumH;
    t[b + J_COUNT] = count;
    if (j + 1 > this.nJobs) this.nJobs = j + 1;
    this.jobRows += end - start;
  }

  /** Runs the jobs set since the last run on all threads and merges their best splits into `merged`. */
  run(): void {
    const task = this.task;
    const ctx = this.ctx;
    const nJobs = this.nJobs;
    const solo = this.nThreads === 1 || this.jobRows < SOLO_ROWS;
    task[TASK_KIND] = KIND_JOBS;
    task[TASK_NJOBS] = nJobs;
    task[TASK_SOLO] = solo ? 1 : 0;
    this.signalAndWait(solo ? 0 : this.nThreads - 1, () => ctx.execute());
    const res = ctx.result;
    const threads = solo ? 1 : this.nThreads;
    for (let j = 0; j < nJobs; j++) {
      const mb = j * R_SIZE;
      resetSplit(this.merged, mb);
      for (let t = 0; t < threads; t++) mergeSplit(this.merged, mb, res, (t * MAX_JOBS + j) * R_SIZE);
    }
    this.nJobs = 0;
    this.jobRows = 0;
  }

  /** Stops and joins the workers (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.workers.length === 0) return;
    const exited = this.workers.map((w) => {
      w.ref(); // keep the process alive until the worker has actually exited
      return new Promise<void>((resolve) => (w.threadId === -1 ? resolve() : w.once('exit', () => resolve())));
    });
    this.task[TASK_KIND] = KIND_EXIT;
    Atomics.add(this.ctrl, CTRL_SEQ, 1);
    Atomics.notify(this.ctrl, CTRL_SEQ);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref());
    if ((await Promise.race([Promise.all(exited), timeout])) === 'timeout') await Promise.all(this.workers.map((w) => w.terminate()));
    for (const p of this.ports) p.close();
  }

  /** Number of live worker threads. */
  get workerCount(): number {
    return this.closed ? 0 : this.workers.length;
  }
}
