import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { abs, greater, less, log, ref } from './elementwise.js';
import { f64 } from './test-helpers.js';

describe('Ref', () => {
  const x = f64([1, 2, 3, 4]);
  it('positive d looks into the past', () => {
    expect([...ref(x, 1)]).toEqual([NaN, 1, 2, 3]);
    expect([...ref(x, 3)]).toEqual([NaN, NaN, NaN, 1]);
  });
  it('negative d looks into the future', () => {
    expect([...ref(x, -1)]).toEqual([2, 3, 4, NaN]);
    expect([...ref(x, -2)]).toEqual([3, 4, NaN, NaN]);
  });
  it('shift beyond the series is all NaN; 0 is the identity', () => {
    expect([...ref(x, 9)]).toEqual([NaN, NaN, NaN, NaN]);
    expect([...ref(x, -9)]).toEqual([NaN, NaN, NaN, NaN]);
    expect([...ref(x, 0)]).toEqual([1, 2, 3, 4]);
    expect(ref(new Float64Array(0), 2).length).toBe(0);
  });
  it('rejects non-integer shifts and aliasing', () => {
    expect(() => ref(x, 1.5)).toThrow(InputError);
    expect(() => ref(x, 1, x)).toThrow(InputError);
  });
});

describe('Greater / Less / Abs / Log', () => {
  it('follow numpy: NaN propagates', () => {
    const a = f64([1, -2, NaN, 5]);
    const b = f64([0, 0, 1, NaN]);
    expect([...greater(a, b)]).toEqual([1, 0, NaN, NaN]);
    expect([...less(a, b)]).toEqual([0, -2, NaN, NaN]);
    expect([...greater(a, 0)]).toEqual([1, 0, NaN, 5]);
    expect([...less(a, 0)]).toEqual([0, -2, NaN, 0]);
    expect([...abs(a)]).toEqual([1, 2, NaN, 5]);
  });
  it('Log: log 0 = -Infinity, log of a negative = NaN', () => {
    const r = log(f64([1, Math.E, 0, -1]));
    expect(r[0]).toBe(0);
    expect(r[1]).toBeCloseTo(1, 15);
    expect(r[2]).toBe(-Infinity);
    expect(r[3]).toBeNaN();
  });
  it('may write in place', () => {
    const a = f64([-1, 2]);
    abs(a, a);
    expect([...a]).toEqual([1, 2]);
  });
  it('rejects mismatched lengths', () => {
    expect(() => greater(f64([1, 2]), f64([1]))).toThrow(InputError);
    expect(() => abs(f64([1, 2]), new Float64Array(1))).toThrow(InputError);
  });
});
