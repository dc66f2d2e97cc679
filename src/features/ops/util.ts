import { InputError } from '../../core/errors.js';

/**
 * Shared conventions of the rolling operators (see ops/README in each file's header):
 *
 * - A window of size w ending at row i covers rows [i-w+1, i]. Rows whose window is not
 *   full (i < w-1) are NaN: min_periods = window, no partial windows.
 * - A NaN inside a window makes that window's result NaN — what pandas returns with
 *   `rolling(w, min_periods=w)`. Sum-based operators (Mean, Std, Sum, Slope, Rsquare,
 *   Resi, Corr) treat ±Infinity the same way (pandas would return ±Inf or NaN there, and
 *   Alpha158 maps ±Inf to NaN anyway). Order-based operators (Max, Min, IdxMax, IdxMin,
 *   Quantile, Rank) order ±Infinity like any other number; only NaN poisons their window.
 * - `out`, when given, must have the input's length and must not alias the input.
 */

export function checkWindow(w: number, op: string): void {
  if (!Number.isInteger(w) || w < 1) {
    throw new InputError(`${op}: window must be a positive integer, got ${w}`, 'bad_window');
  }
}

export function outArray(out: Float64Array | null | undefined, n: number, op: string): Float64Array {
  if (out === undefined || out === null) return new Float64Array(n);
  if (out.length !== n) throw new InputError(`${op}: output length ${out.length} != input length ${n}`, 'bad_length');
  return out;
}

export function checkOut(out: Float64Array | null, n: number, op: string): void {
  if (out !== null && out.length !== n) {
    throw new InputError(`${op}: output length ${out.length} != input length ${n}`, 'bad_length');
  }
}

export function sameLength(a: Float64Array, b: Float64Array, op: string): void {
  if (a.length !== b.length) throw new InputError(`${op}: input lengths differ (${a.length} vs ${b.length})`, 'bad_length');
}

/** Sets out[0, min(k, n)) to NaN (the rows before the first full window). */
export function fillHead(out: Float64Array | null, k: number): void {
  if (out !== null) out.fill(NaN, 0, Math.min(k, out.length));
}
