import { InputError } from '../../core/errors.js';
import { outArray, sameLength } from './util.js';

/**
 * Element-wise operators of Qlib's expression language (qlib/data/ops.py): Ref, Greater,
 * Less, Abs, Log. NaN propagates like numpy: Greater/Less are np.maximum/np.minimum (NaN
 * if either side is NaN), Log is np.log (log 0 = -Infinity, log of a negative = NaN).
 * Plain loops over Float64Array; `out` may alias an input except for `ref`.
 */

/**
 * Ref(x, d): x shifted by d rows. d > 0 looks into the past (out[i] = x[i-d]), d < 0 into
 * the future (out[i] = x[i+|d|]); rows shifted in from outside the series are NaN.
 * d = 0 is the identity (Qlib's Ref(x, 0) instead broadcasts the first value; Alpha158
 * never uses it).
 */
export function ref(x: Float64Array, d: number, out?: Float64Array): Float64Array {
  if (!Number.isInteger(d)) throw new InputError(`Ref: shift must be an integer, got ${d}`, 'bad_window');
  const n = x.length;
  const o = outArray(out, n, 'Ref');
  if (o === x && d !== 0) throw new InputError('Ref: out must not alias the input', 'bad_input');
  if (d >= 0) {
    const k = Math.min(d, n);
    for (let i = 0; i < k; i++) o[i] = NaN;
    for (let i = k; i < n; i++) o[i] = x[i - d]!;
  } else {
    const k = Math.max(n + d, 0);
    for (let i = 0; i < k; i++) o[i] = x[i - d]!;
    for (let i = k; i < n; i++) o[i] = NaN;
  }
  return o;
}

/** Greater(a, b) = np.maximum(a, b): element-wise max, NaN if either is NaN. `b` may be a scalar. */
export function greater(a: Float64Array, b: Float64Array | number, out?: Float64Array): Float64Array {
  const n = a.length;
  const o = outArray(out, n, 'Greater');
  if (typeof b === 'number') {
    for (let i = 0; i < n; i++) o[i] = Math.max(a[i]!, b);
  } else {
    sameLength(a, b, 'Greater');
    for (let i = 0; i < n; i++) o[i] = Math.max(a[i]!, b[i]!);
  }
  return o;
}

/** Less(a, b) = np.minimum(a, b): element-wise min, NaN if either is NaN. `b` may be a scalar. */
export function less(a: Float64Array, b: Float64Array | number, out?: Float64Array): Float64Array {
  const n = a.length;
  const o = outArray(out, n, 'Less');
  if (typeof b === 'number') {
    for (let i = 0; i < n; i++) o[i] = Math.min(a[i]!, b);
  } else {
    sameLength(a, b, 'Less');
    for (let i = 0; i < n; i++) o[i] = Math.min(a[i]!, b[i]!);
  }
  return o;
}

/** Abs(x). */
export function abs(x: Float64Array, out?: Float64Array): Float64Array {
  const n = x.length;
  const o = outArray(out, n, 'Abs');
  for (let i = 0; i < n; i++) o[i] = Math.abs(x[i]!);
  return o;
}

/** Log(x): natural log (np.log semantics: 0 → -Infinity, negative → NaN). */
export function log(x: Float64Array, out?: Float64Array): Float64Array {
  const n = x.length;
  const o = outArray(out, n, 'Log');
  for (let i = 0; i < n; i++) o[i] = Math.log(x[i]!);
  return o;
}
