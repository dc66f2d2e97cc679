import { checkOut, checkWindow, fillHead, outArray } from './util.js';

/**
 * Rolling Max / Min and IdxMax / IdxMin — Qlib's Max, Min (pandas rolling max/min) and
 * IdxMax, IdxMin (`rolling(N).apply(lambda x: x.argmax() + 1)`): the 1-based position of
 * the extreme inside the window (1 = oldest row, N = newest), first occurrence on ties.
 *
 * O(n) with a monotonic deque of row indices: for Max the deque holds indices with
 * non-increasing values; popping only strictly smaller values keeps the earliest of
 * equal maxima in front, which gives numpy's first-occurrence argmax. NaN rows are never
 * pushed; a window containing NaN is NaN (see util.ts).
 */

let dequeBuf = new Int32Array(1024);
function deque(n: number): Int32Array {
  if (dequeBuf.length < n) dequeBuf = new Int32Array(Math.max(n, dequeBuf.length * 2));
  return dequeBuf;
}

/** Fused rolling Max and IdxMax; either output may be null. */
export function rollingMaxIdx(x: Float64Array, w: number, outMax: Float64Array | null, outIdx: Float64Array | null): void {
  checkWindow(w, 'Max/IdxMax');
  const n = x.length;
  checkOut(outMax, n, 'Max');
  checkOut(outIdx, n, 'IdxMax');
  const first = w - 1;
  fillHead(outMax, first);
  fillHead(outIdx, first);
  if (n < w) return;
  const dq = deque(n);
  let head = 0;
  let tail = 0;
  let lastNaN = -1;
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    if (v !== v) lastNaN = i;
    else {
      while (tail > head && x[dq[tail - 1]!]! < v) tail--;
      dq[tail++] = i;
    }
    if (i < first) continue;
    const lo = i - first;
    while (head < tail && dq[head]! < lo) head++;
    if (lastNaN >= lo) {
      if (outMax !== null) outMax[i] = NaN;
      if (outIdx !== null) outIdx[i] = NaN;
    } else {
      const m = dq[head]!;
      if (outMax !== null) outMax[i] = x[m]!;
      if (outIdx !== null) outIdx[i] = m - lo + 1;
    }
  }
}

/** Fused rolling Min and IdxMin; either output may be null. */
export function rollingMinIdx(x: Float64Array, w: number, outMin: Float64Array | null, outIdx: Float64Array | null): void {
  checkWindow(w, 'Min/IdxMin');
  const n = x.length;
  checkOut(outMin, n, 'Min');
  checkOut(outIdx, n, 'IdxMin');
  const first = w - 1;
  fillHead(outMin, first);
  fillHead(outIdx, first);
  if (n < w) return;
  const dq = deque(n);
  let head = 0;
  let tail = 0;
  let lastNaN = -1;
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    if (v !== v) lastNaN = i;
    else {
      while (tail > head && x[dq[tail - 1]!]! > v) tail--;
      dq[tail++] = i;
    }
    if (i < first) continue;
    const lo = i - first;
    while (head < tail && dq[head]! < lo) head++;
    if (lastNaN >= lo) {
      if (outMin !== null) outMin[i] = NaN;
      if (outIdx !== null) outIdx[i] = NaN;
    } else {
      const m = dq[head]!;
      if (outMin !== null) outMin[i] = x[m]!;
      if (outIdx !== null) outIdx[i] = m - lo + 1;
    }
  }
}

/** Max(x, w). */
export function rollingMax(x: Float64Array, w: number, out?: Float64Array): Float64Array {
  const o = outArray(out, x.length, 'Max');
  rollingMaxIdx(x, w, o, null);
  return o;
}

/** Min(x, w). */
export function rollingMin(x: Float64Array, w: number, out?: Float64Array): Float64Array {
  const o = outArray(out, x.length, 'Min');
  rollingMinIdx(x, w, o, null);
  return o;
}

/** IdxMax(x, w): 1-based position of the window's maximum (first occurrence on ties). */
export function rollingIdxMax(x: Float64Array, w: number, out?: Float64Array): Float64Array {
  const o = outArray(out, x.length, 'IdxMax');
  rollingMaxIdx(x, w, null, o);
  return o;
}

/** IdxMin(x, w): 1-based position of the window's minimum (first occurrence on ties). */
export function rollingIdxMin(x: Float64Array, w: number, out?: Float64Array): Float64Array {
  const o = outArray(out, x.length, 'IdxMin');
  rollingMinIdx(x, w, null, o);
  return o;
}
