import type { SymbolBars } from '../data/bars.js';
import { ALPHA158_COLUMNS, ALPHA158_NAMES, alpha158 } from '../features/alpha158.js';

/**
 * Online features of the signal service: the Alpha158 vector of one symbol on one date,
 * computed from the last FEATURE_WINDOW bars ending at that date (every Alpha158 window is at
 * most 60 bars, 61 with the `Ref($x, 1)` they apply to; the test `features.test.ts` checks the
 * tail gives the full-history values), and its cache encoding.
 *
 * Cache value (`features:{symbol}:{date}`): FEATURE_COUNT little-endian doubles in
 * ALPHA158_NAMES order (NaN where undefined), followed by one double, the window's fingerprint:
 * a 53-bit hash of the exact bars (dates and OHLCV) the vector was computed from and of the
 * feature-set version. A reader recomputes the fingerprint from the bars it holds and treats a
 * mismatch as a miss, so a re-published snapshot (corporate actions re-adjust history), a
 * change of the feature code or another replica on an older snapshot can never serve stale
 * features; no invalidation is needed and the TTL only bounds memory.
 */

/** Bars ending at the date that the features read (≥ 61 needed; 70 leaves room). */
export const FEATURE_WINDOW = 70;
export const FEATURE_NAMES: readonly string[] = ALPHA158_NAMES;
export const FEATURE_COUNT = ALPHA158_COLUMNS;
/** Bump when the feature computation changes: every cached vector becomes a miss. */
export const FEATURE_SET_VERSION = 1;
/** Bytes of one cache value (features + fingerprint). */
export const CACHE_VALUE_BYTES = (FEATURE_COUNT + 1) * 8;

/** Index of `day` in the symbol's sorted dates, or -1. */
export function rowOf(days: Int32Array, day: number): number {
  let lo = 0;
  let hi = days.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const d = days[mid]!;
    if (d === day) return mid;
    if (d < day) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** First row of the feature window that ends at `row` (inclusive). */
export function windowStart(row: number): number {
  return Math.max(0, row - FEATURE_WINDOW + 1);
}

/** Reusable output storage for {@link computeFeatureRow} (one per caller; not shared across awaits). */
export class FeatureScratch {
  readonly values = new Float64Array(FEATURE_WINDOW * FEATURE_COUNT);
  readonly label = new Float64Array(FEATURE_WINDOW);
}

/**
 * The Alpha158 vector of `bars` at `row`, from the window [windowStart(row), row], written to
 * `out` (FEATURE_COUNT values, ±Infinity already mapped to NaN by alpha158).
 */
export function computeFeatureRow(bars: SymbolBars, row: number, scratch: FeatureScratch, out: Float64Array): void {
  const s = windowStart(row);
  const e = row + 1;
  const n = e - s;
  const m = alpha158(
    {
      symbol: bars.symbol,
      day: bars.day.subarray(s, e),
      open: bars.open.subarray(s, e),
      high: bars.high.subarray(s, e),
      low: bars.low.subarray(s, e),
      close: bars.close.subarray(s, e),
      volume: bars.volume.subarray(s, e),
    },
    { values: scratch.values.subarray(0, n * FEATURE_COUNT), label: scratch.label.subarray(0, n) },
  );
  const v = m.values;
  const last = n - 1;
  for (let c = 0; c < FEATURE_COUNT; c++) out[c] = v[c * n + last]!;
}

const SEED_A = 0x6b43a9b5 ^ FEATURE_SET_VERSION;
const SEED_B = 0x2545f491 ^ (FEATURE_WINDOW << 8);

/**
 * Per-row hashes (two independent 32-bit lanes) of a series' date and OHLCV bits, computed once
 * per series (a snapshot's bars are immutable) and kept as long as the series lives.
 */
const rowHashCache = new WeakMap<SymbolBars, Uint32Array>();

function rowHashes(bars: SymbolBars): Uint32Array {
  let h = rowHashCache.get(bars);
  if (h) return h;
  const n = bars.day.length;
  h = new Uint32Array(2 * n);
  const cols = [bars.open, bars.high, bars.low, bars.close, bars.volume].map((a) => new Uint32Array(a.buffer, a.byteOffset, a.length * 2));
  for (let i = 0; i < n; i++) {
    let a = SEED_A ^ (bars.day[i]! | 0);
    let b = Math.imul(SEED_B + (bars.day[i]! | 0), 0x85ebca77);
    for (let c = 0; c < 5; c++) {
      const w = cols[c]!;
      for (let k = 2 * i; k < 2 * i + 2; k++) {
        const x = w[k]!;
        a = Math.imul(a ^ x, 0x9e3779b1);
        a ^= a >>> 15;
        b = Math.imul(b + x, 0x85ebca77) ^ 0x27d4eb2f;
        b ^= b >>> 13;
      }
    }
    h[2 * i] = a;
    h[2 * i + 1] = b;
  }
  rowHashCache.set(bars, h);
  return h;
}

/** Precomputes what fingerprints need for a series (at snapshot load, so no request pays it). */
export function prepareSeries(bars: SymbolBars): void {
  rowHashes(bars);
}

/** murmur3's fmix32. */
function fmix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * 53-bit fingerprint of the bars the features at `row` are computed from: the window's dates
 * and OHLCV bit for bit (through per-row hashes), its length, the window size and
 * FEATURE_SET_VERSION. Exact as a double.
 */
export function windowFingerprint(bars: SymbolBars, row: number): number {
  const h = rowHashes(bars);
  const s = windowStart(row);
  let a = SEED_A ^ Math.imul(row + 1 - s, 0x01000193);
  let b = SEED_B;
  for (let i = s; i <= row; i++) {
    a = Math.imul(a ^ h[2 * i]!, 0x9e3779b1);
    a ^= a >>> 15;
    b = Math.imul(b + h[2 * i + 1]!, 0x85ebca77) ^ 0x27d4eb2f;
    b ^= b >>> 13;
  }
  const fa = fmix(a);
  const fb = fmix(b ^ fa);
  return fa * 2 ** 21 + (fb & 0x1fffff);
}

/** The cache value: the vector then its fingerprint (one copy into a fresh Buffer). */
export function encodeCacheValue(vector: Float64Array, fingerprint: number): Buffer {
  const out = new Float64Array(FEATURE_COUNT + 1);
  out.set(vector.subarray(0, FEATURE_COUNT));
  out[FEATURE_COUNT] = fingerprint;
  return bufferOf(out);
}

/**
 * Copies a cached vector into `out` when `buf` is a well-formed value with the expected
 * fingerprint; false (a miss) otherwise — wrong length, other data, other feature version.
 */
export function decodeCacheValue(buf: Buffer | null, fingerprint: number, out: Float64Array): boolean {
  if (buf === null || buf.byteLength !== CACHE_VALUE_BYTES) return false;
  if (buf.readDoubleLE(FEATURE_COUNT * 8) !== fingerprint) return false;
  if (LITTLE_ENDIAN && buf.byteOffset % 8 === 0) {
    out.set(new Float64Array(buf.buffer, buf.byteOffset, FEATURE_COUNT));
  } else {
    for (let c = 0; c < FEATURE_COUNT; c++) out[c] = buf.readDoubleLE(c * 8);
  }
  return true;
}

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

function bufferOf(v: Float64Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const b = Buffer.allocUnsafe(v.byteLength);
  for (let i = 0; i < v.length; i++) b.writeDoubleLE(v[i]!, i * 8);
  return b;
}
