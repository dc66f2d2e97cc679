/**
 * The shared-memory state of histogram construction and the task every thread (the main thread as
 * thread 0, workers as 1..T-1) executes on it. Threads own disjoint groups of features, so each
 * feature's histogram is always built by one thread, from the same rows in the same order: the result
 * is bit-identical whatever the number of threads, and no cross-thread reduction is needed.
 *
 * A task is up to two jobs on histogram slots:
 *   BUILD     slot := histogram of rows idx[start..end)
 *   SUBTRACT  slot := slot − src                           (parent − smaller child = larger child)
 * each optionally followed by a best-split search over the thread's features, written to `result`.
 *
 * Other task kinds (set-up, binning) carry a payload: the main thread posts it on the worker's
 * MessagePort before signalling, and the worker, blocked in its task loop, takes it synchronously
 * with `receiveMessageOnPort`.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { boundsOfColumns, binRowsPadded } from './binning.js';
import { accumulateHistogram, clearFeatures, subtractFeatures, type HistLayout } from './histogram.js';
import { R_SIZE, findBestSplitForFeature, resetSplit, type SplitParams } from './split.js';

export const CTRL_SEQ = 0;
export const CTRL_DONE = 1;
export const CTRL_ERROR = 2;
export const CTRL_SIZE = 16;

export const TASK_KIND = 0;
export const TASK_NJOBS = 1;
/** 1: thread 0 does every feature (small tasks, not worth waking the workers). */
export const TASK_SOLO = 2;
export const TASK_JOBS = 4;
export const JOB_SIZE = 10;
export const MAX_JOBS = 2;
export const TASK_SIZE = TASK_JOBS + MAX_JOBS * JOB_SIZE;

export const KIND_JOBS = 1;
export const KIND_EXIT = 2;
/** Payload: {@link HistShared}; the worker builds its ThreadContext. */
export const KIND_SETUP = 3;
/** Payload: {@link FitPayload}; sort sample columns and find their bin bounds. */
export const KIND_FIT = 4;
/** Payload: {@link BinPayload}; bin a range of rows. */
export const KIND_BIN = 5;

export const J_MODE = 0;
export const J_SLOT = 1;
export const J_START = 2;
export const J_END = 3;
export const J_SRC = 4;
export const J_FIND = 5;
export const J_G = 6;
export const J_H = 7;
export const J_COUNT = 8;

export const MODE_BUILD = 0;
export const MODE_SUBTRACT = 1;

/** Float64 values in a thread's scratch histogram (256 bins × 2). */
export const TRASH_SIZE = 512;
export const ERR_BYTES = 4096;

/** Fixed control buffers of a thread pool (allocated when it starts). */
export interface ControlBuffers {
  nThreads: number;
  /** Float64 per thread: milliseconds spent on shared histogram tasks since the plan was last set. */
  busy: SharedArrayBuffer;
  task: SharedArrayBuffer;
  result: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
  err: SharedArrayBuffer;
}

/** Histogram state shared by all threads; structured-cloneable (SharedArrayBuffers are shared, the rest copied). */
export interface HistShared {
  nRows: number;
  nFeatures: number;
  wordsPerRow: number;
  nSlots: number;
  slotSize: number;
  featureOffset: Int32Array;
  nValueBins: Int32Array;
  split: SplitParams;
  bins: SharedArrayBuffer;
  gh: SharedArrayBuffer;
  idx: SharedArrayBuffer;
  hist: SharedArrayBuffer;
  /** Int32: [version, wordStart[0..T], words[0..wordsPerRow), used[0..nFeatures)] */
  plan: SharedArrayBuffer;
}

export interface FitPayload {
  cols: Float64Array;
  stride: number;
  counts: Int32Array;
  k0: number;
  k1: number;
  featureOfColumn: number;
  maxBin: number;
  padded: Float64Array;
  nValueBins: Int32Array;
}

export interface BinPayload {
  X: Float64Array;
  xRow: number;
  nFeatures: number;
  padded: Float64Array;
  nValueBins: Int32Array;
  out: Uint8Array;
  outRow: number;
  nRows: number;
}

export function runFit(m: FitPayload): void {
  boundsOfColumns(m.cols, m.stride, m.counts, m.k0, m.k1, m.featureOfColumn, m.maxBin, m.padded, m.nValueBins);
}

export function runBin(m: BinPayload): void {
  binRowsPadded(m.X, m.xRow, m.nFeatures, m.padded, m.nValueBins, m.out, m.outRow, m.nRows);
}

export function planSize(nThreads: number, wordsPerRow: number, nFeatures: number): number {
  return 2 + nThreads + wordsPerRow + nFeatures;
}

export function trashBase(s: Pick<HistShared, 'nSlots' | 'slotSize'>, tid: number): number {
  return s.nSlots * s.slotSize + tid * TRASH_SIZE;
}

export function histFloat64Length(nSlots: number, slotSize: number, nThreads: number): number {
  return nSlots * slotSize + nThreads * TRASH_SIZE;
}

/** One thread's view of the shared state and its cached share of the current plan. */
export class ThreadContext {
  readonly bins32: Uint32Array;
  readonly gh: Float64Array;
  readonly idx: Int32Array;
  readonly hist: Float64Array;
  readonly plan: Int32Array;
  readonly task: Float64Array;
  readonly result: Float64Array;
  readonly ctrl: Int32Array;
  readonly layout: HistLayout;
  readonly nThreads: number;
  readonly busy: Float64Array;
  private readonly trash: number;
  private readonly usedOffset: number;
  private readonly wordsOffset: number;
  // Cached share of the plan (per solo / shared mode).
  private cachedVersion = [-1, -1];
  private words: Int32Array[];
  private nWords = [0, 0];
  private features: Int32Array[];
  private nFeat = [0, 0];
  /** Offset of each processed feature inside a slot, or -1 when skipped (4 per word). */
  private relTarget: Int32Array[];
  private target: Int32Array;

  constructor(
    control: ControlBuffers,
    readonly s: HistShared,
    readonly tid: number,
  ) {
    this.nThreads = control.nThreads;
    this.busy = new Float64Array(control.busy);
    this.bins32 = new Uint32Array(s.bins);
    this.gh = new Float64Array(s.gh);
    this.idx = new Int32Array(s.idx);
    this.hist = new Float64Array(s.hist);
    this.plan = new Int32Array(s.plan);
    this.task = new Float64Array(control.task);
    this.result = new Float64Array(control.result);
    this.ctrl = new Int32Array(control.ctrl);
    this.layout = { featureOffset: s.featureOffset, nValueBins: s.nValueBins, slotSize: s.slotSize };
    this.trash = trashBase(s, tid);
    this.wordsOffset = 2 + this.nThreads;
    this.usedOffset = this.wordsOffset + s.wordsPerRow;
    const W = s.wordsPerRow;
    this.words = [new Int32Array(W), new Int32Array(W)];
    this.features = [new Int32Array(4 * W), new Int32Array(4 * W)];
    this.relTarget = [new Int32Array(4 * W), new Int32Array(4 * W)];
    this.target = new Int32Array(4 * W);
  }

  private loadPlan(mode: number): void {
    const plan = this.plan;
    const T = this.nThreads;
    const from = mode === 1 ? plan[1] : plan[1 + this.tid];
    const to = mode === 1 ? plan[1 + T] : plan[2 + this.tid];
    const words = this.words[mode];
    const feats = this.features[mode];
    const rel = this.relTarget[mode];
    const F = this.s.nFeatures;
    const off = this.s.featureOffset;
    let nf = 0;
    let nw = 0;
    for (let p = from; p < to; p++) {
      const w = plan[this.wordsOffset + p];
      words[nw] = w;
      for (let b = 0; b < 4; b++) {
        const f = 4 * w + b;
        if (f < F && plan[this.usedOffset + f] === 1) {
          feats[nf++] = f;
          rel[4 * nw + b] = off[f];
        } else rel[4 * nw + b] = -1;
      }
      nw++;
    }
    this.nWords[mode] = nw;
    this.nFeat[mode] = nf;
    this.cachedVersion[mode] = plan[0];
  }

  /** Runs this thread's share of the task currently in `task`. */
  execute(): void {
    const task = this.task;
    const mode = task[TASK_SOLO] === 1 ? 1 : 0;
    if (this.cachedVersion[mode] !== this.plan[0]) this.loadPlan(mode);
    const words = this.words[mode];
    const nw = this.nWords[mode];
    const feats = this.features[mode];
    const nf = this.nFeat[mode];
    const rel = this.relTarget[mode];
    const target = this.target;
    const hist = this.hist;
    const slotSize = this.s.slotSize;
    const off = this.s.featureOffset;
    const nvb = this.s.nValueBins;
    const nJobs = task[TASK_NJOBS];
    const t0 = mode === 0 ? performance.now() : 0;
    for (let j = 0; j < nJobs; j++) {
      const jb = TASK_JOBS + j * JOB_SIZE;
      const slotBase = task[jb + J_SLOT] * slotSize;
      if (task[jb + J_MODE] === MODE_BUILD) {
        clearFeatures(hist, slotBase, this.layout, feats, nf);
        for (let q = 0; q < 4 * nw; q++) target[q] = rel[q] >= 0 ? slotBase + rel[q] : this.trash;
        accumulateHistogram(this.bins32, this.s.wordsPerRow, this.gh, this.idx, task[jb + J_START], task[jb + J_END], words, nw, target, hist);
      } else {
        subtractFeatures(hist, slotBase, task[jb + J_SRC] * slotSize, this.layout, feats, nf);
      }
      const rb = (this.tid * MAX_JOBS + j) * R_SIZE;
      resetSplit(this.result, rb);
      if (task[jb + J_FIND] === 1) {
        const G = task[jb + J_G];
        const H = task[jb + J_H];
        const C = task[jb + J_COUNT];
        for (let k = 0; k < nf; k++) {
          const f = feats[k];
          findBestSplitForFeature(hist, slotBase + off[f], nvb[f], f, G, H, C, this.s.split, this.result, rb);
        }
      }
    }
    if (mode === 0) this.busy[this.tid] += performance.now() - t0;
  }
}

/** Workers spin this long (ms) for the next task before sleeping: waking a sleeping thread costs far more. */
const SPIN_MS = 0.2;

/** Takes the payload the main thread posted for the current task (it is enqueued before the signal). */
function takePayload(port: MessagePort): unknown {
  const t0 = performance.now();
  for (;;) {
    const m = receiveMessageOnPort(port);
    if (m !== undefined) return m.message;
    if (performance.now() - t0 > 10_000) throw new Error('task payload did not arrive');
  }
}

/** Worker side: wait for tasks, execute them, report completion; returns on KIND_EXIT. */
export function workerLoop(control: ControlBuffers, tid: number, port: MessagePort, initialSeq: number): void {
  const ctrl = new Int32Array(control.ctrl);
  const task = new Float64Array(control.task);
  const errBuf = new Uint8Array(control.err);
  let ctx: ThreadContext | null = null;
  let seen = initialSeq;
  for (;;) {
    let seq = Atomics.load(ctrl, CTRL_SEQ);
    let spins = 0;
    let since = 0;
    while (seq === seen) {
      if ((++spins & 1023) === 0) {
        const now = performance.now();
        if (since === 0) since = now;
        else if (now - since > SPIN_MS) Atomics.wait(ctrl, CTRL_SEQ, seen);
      }
      seq = Atomics.load(ctrl, CTRL_SEQ);
    }
    seen = seq;
    const kind = task[TASK_KIND];
    if (kind === KIND_EXIT) return;
    try {
      if (kind === KIND_JOBS) {
        if (ctx === null) throw new Error('histogram task before set-up');
        ctx.execute();
      } else if (kind === KIND_SETUP) ctx = new ThreadContext(control, takePayload(port) as HistShared, tid);
      else if (kind === KIND_FIT) runFit(takePayload(port) as FitPayload);
      else if (kind === KIND_BIN) runBin(takePayload(port) as BinPayload);
      else throw new Error(`unknown task kind ${kind}`);
    } catch (err) {
      const msg = new TextEncoder().encode(`worker ${tid}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      const n = Math.min(msg.length, errBuf.length - 4);
      new DataView(errBuf.buffer, errBuf.byteOffset).setInt32(0, n, true);
      errBuf.set(msg.subarray(0, n), 4);
      Atomics.store(ctrl, CTRL_ERROR, 1);
    }
    Atomics.add(ctrl, CTRL_DONE, 1);
    Atomics.notify(ctrl, CTRL_DONE);
  }
}
