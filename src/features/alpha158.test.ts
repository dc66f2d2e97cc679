import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import {
  ALPHA158_EXPRESSIONS,
  ALPHA158_NAMES,
  ALPHA158_WINDOWS,
  adjustByAdjClose,
  alpha158,
  featureColumn,
  label0,
  toRowMajor,
  type BarsInput,
} from './alpha158.js';
import { f64, isNaNv, maxRelDiff, naive, naiveRolling } from './ops/test-helpers.js';

function bars(cols: { open: number[]; high: number[]; low: number[]; close: number[]; volume: number[] }): BarsInput {
  const n = cols.close.length;
  return {
    symbol: 'TEST',
    day: Int32Array.from({ length: n }, (_, i) => 16000 + i),
    open: f64(cols.open),
    high: f64(cols.high),
    low: f64(cols.low),
    close: f64(cols.close),
    volume: f64(cols.volume),
  };
}

// A tiny series (8 rows) checked by hand below.
const TINY = bars({
  close: [10, 11, 10.5, 12, 12.5, 12, 13, 14],
  open: [9.8, 10.5, 11, 10.8, 12.2, 12.6, 12.1, 13.2],
  high: [10.2, 11.3, 11.2, 12.1, 12.8, 12.7, 13.2, 14.1],
  low: [9.7, 10.4, 10.3, 10.7, 12.0, 11.8, 12.0, 13.1],
  volume: [100, 200, 150, 300, 250, 100, 400, 500],
});

describe('Alpha158 names', () => {
  it('158 unique names in Qlib order', () => {
    expect(ALPHA158_NAMES.length).toBe(158);
    expect(new Set(ALPHA158_NAMES).size).toBe(158);
    expect(ALPHA158_EXPRESSIONS.length).toBe(158);
    expect(ALPHA158_NAMES.slice(0, 13)).toEqual(['KMID', 'KLEN', 'KMID2', 'KUP', 'KUP2', 'KLOW', 'KLOW2', 'KSFT', 'KSFT2', 'OPEN0', 'HIGH0', 'LOW0', 'VWAP0']);
    const families = ['ROC', 'MA', 'STD', 'BETA', 'RSQR', 'RESI', 'MAX', 'MIN', 'QTLU', 'QTLD', 'RANK', 'RSV', 'IMAX', 'IMIN', 'IMXD', 'CORR', 'CORD', 'CNTP', 'CNTN', 'CNTD', 'SUMP', 'SUMN', 'SUMD', 'VMA', 'VSTD', 'WVMA', 'VSUMP', 'VSUMN', 'VSUMD'];
    expect(ALPHA158_NAMES.slice(13)).toEqual(families.flatMap((f) => [5, 10, 20, 30, 60].map((d) => `${f}${d}`)));
    expect(ALPHA158_NAMES[157]).toBe('VSUMD60');
  });
  it("expressions are Qlib's, windows substituted", () => {
    const at = (name: string): string => ALPHA158_EXPRESSIONS[ALPHA158_NAMES.indexOf(name)]!;
    expect(at('KMID')).toBe('($close-$open)/$open');
    expect(at('KSFT2')).toBe('(2*$close-$high-$low)/($high-$low+1e-12)');
    expect(at('VWAP0')).toBe('$vwap/$close');
    expect(at('ROC5')).toBe('Ref($close, 5)/$close');
    expect(at('RSV20')).toBe('($close-Min($low, 20))/(Max($high, 20)-Min($low, 20)+1e-12)');
    expect(at('IMXD60')).toBe('(IdxMax($high, 60)-IdxMin($low, 60))/60');
    expect(at('CORD10')).toBe('Corr($close/Ref($close,1), Log($volume/Ref($volume, 1)+1), 10)');
    expect(at('WVMA30')).toBe('Std(Abs($close/Ref($close, 1)-1)*$volume, 30)/(Mean(Abs($close/Ref($close, 1)-1)*$volume, 30)+1e-12)');
  });
});

describe('Alpha158 values by hand (8-row series)', () => {
  const m = alpha158(TINY);
  const col = (name: string): Float64Array => featureColumn(m, name);
  it('shape and layout', () => {
    expect(m.rows).toBe(8);
    expect(m.values.length).toBe(8 * 158);
    expect(m.layout).toBe('column-major');
    expect(m.values[ALPHA158_NAMES.indexOf('KLEN') * 8 + 3]).toBe(col('KLEN')[3]);
  });
  it('KBAR row 0: o 9.8, h 10.2, l 9.7, c 10', () => {
    expect(col('KMID')[0]).toBeCloseTo(0.2 / 9.8, 14); // (10 - 9.8)/9.8
    expect(col('KLEN')[0]).toBeCloseTo(0.5 / 9.8, 14); // (10.2 - 9.7)/9.8
    expect(col('KMID2')[0]).toBeCloseTo(0.2 / 0.5, 10); // (10 - 9.8)/(0.5 + 1e-12)
    expect(col('KUP')[0]).toBeCloseTo(0.2 / 9.8, 14); // (10.2 - max(9.8, 10))/9.8
    expect(col('KLOW')[0]).toBeCloseTo(0.1 / 9.8, 14); // (min(9.8, 10) - 9.7)/9.8
    expect(col('KSFT')[0]).toBeCloseTo(0.1 / 9.8, 14); // (20 - 10.2 - 9.7)/9.8
    expect(col('VWAP0')[0]).toBeCloseTo(29.9 / 3 / 10, 14); // ((10.2 + 9.7 + 10)/3)/10
    expect(col('OPEN0')[0]).toBeCloseTo(0.98, 14);
  });
  it('ROC5: Ref($close, 5)/$close', () => {
    expect([...col('ROC5').subarray(0, 5)]).toEqual([NaN, NaN, NaN, NaN, NaN]);
    expect(col('ROC5')[5]).toBeCloseTo(10 / 12, 14); // close[0]/close[5]
    expect(col('ROC5')[7]).toBeCloseTo(10.5 / 14, 14); // close[2]/close[7]
  });
  it('MA5 / STD5 at row 4', () => {
    // closes 10, 11, 10.5, 12, 12.5: mean 56/5 = 11.2 → 11.2/12.5 = 0.896
    expect(col('MA5')[3]).toBeNaN();
    expect(col('MA5')[4]).toBeCloseTo(0.896, 14);
    // deviations -1.2, -0.2, -0.7, 0.8, 1.3 → squares sum 4.3 → var 4.3/4 = 1.075
    expect(col('STD5')[4]).toBeCloseTo(Math.sqrt(1.075) / 12.5, 14);
  });
  it('RSV5 / IMAX5 / IMIN5 / MAX5 / MIN5', () => {
    // row 4: min low(0..4) = 9.7, max high(0..4) = 12.8 → (12.5 - 9.7)/(12.8 - 9.7 + 1e-12) = 2.8/3.1
    expect(col('RSV5')[4]).toBeCloseTo(2.8 / 3.1, 10);
    expect(col('MAX5')[4]).toBeCloseTo(12.8 / 12.5, 14);
    expect(col('MIN5')[4]).toBeCloseTo(9.7 / 12.5, 14);
    // highs(0..4) [10.2, 11.3, 11.2, 12.1, 12.8] → max at position 5 → 5/5
    expect(col('IMAX5')[4]).toBe(1);
    // highs(1..5) [11.3, 11.2, 12.1, 12.8, 12.7] → position 4 → 0.8
    expect(col('IMAX5')[5]).toBe(0.8);
    // lows(0..4) [9.7, 10.4, 10.3, 10.7, 12.0] → position 1 → 0.2; IMXD = (5 - 1)/5
    expect(col('IMIN5')[4]).toBe(0.2);
    expect(col('IMXD5')[4]).toBe(0.8);
  });
  it('CNTP5 / CNTN5 / CNTD5: $close>Ref($close,1) is 0 where Ref is NaN (numpy), as in Qlib', () => {
    // up days: row0 NaN→0, row1 11>10, row2 no, row3 12>10.5, row4 12.5>12, row5 no, row6 13>12, row7 14>13
    expect(col('CNTP5')[3]).toBeNaN();
    expect(col('CNTP5')[4]).toBeCloseTo(3 / 5, 15); // rows 0..4: 0,1,0,1,1
    expect(col('CNTP5')[7]).toBeCloseTo(4 / 5, 15); // rows 3..7: 1,1,0,1,1
    expect(col('CNTN5')[4]).toBeCloseTo(1 / 5, 15); // row 2 only
    expect(col('CNTD5')[4]).toBeCloseTo(2 / 5, 15);
  });
  it('SUMP5 / SUMN5 / SUMD5', () => {
    // diffs rows 1..5: +1, -0.5, +1.5, +0.5, -0.5 → gains 3, losses 1, |diff| 4
    expect(col('SUMP5')[4]).toBeNaN(); // row 0's diff is NaN and in the window
    expect(col('SUMP5')[5]).toBeCloseTo(3 / 4, 10);
    expect(col('SUMN5')[5]).toBeCloseTo(1 / 4, 10);
    expect(col('SUMD5')[5]).toBeCloseTo(2 / 4, 10);
  });
  it('VMA5 at row 4: mean(100,200,150,300,250) = 200 → 200/250', () => {
    expect(col('VMA5')[4]).toBeCloseTo(0.8, 12);
  });
  it('windows longer than the series are NaN everywhere', () => {
    for (const name of ['MA10', 'STD60', 'RANK20', 'CORR30', 'QTLU10']) expect([...col(name)].every(Number.isNaN)).toBe(true);
  });
  it('LABEL0 = Ref($close,-2)/Ref($close,-1) - 1', () => {
    expect(m.label[0]).toBeCloseTo(10.5 / 11 - 1, 15);
    expect(m.label[5]).toBeCloseTo(14 / 13 - 1, 15);
    expect([...m.label.subarray(6)]).toEqual([NaN, NaN]);
    expect([...label0(f64([1, 0, 2]))]).toEqual([NaN, NaN, NaN]); // 2/0 → Infinity → NaN
  });
});

/** Straight evaluation of Qlib's expressions with naive O(n·w) windows (independent of the kernels). */
function naiveAlpha158(b: BarsInput): Map<string, Float64Array> {
  const n = b.close.length;
  const o = [...b.open];
  const h = [...b.high];
  const l = [...b.low];
  const c = [...b.close];
  const v = [...b.volume];
  const ref1 = (a: number[]): number[] => a.map((_, i) => (i >= 1 ? a[i - 1]! : NaN));
  const pc = ref1(c);
  const pv = ref1(v);
  const map = (f: (i: number) => number): Float64Array => Float64Array.from({ length: n }, (_, i) => f(i));
  const out = new Map<string, Float64Array>();
  out.set('KMID', map((i) => (c[i]! - o[i]!) / o[i]!));
  out.set('KLEN', map((i) => (h[i]! - l[i]!) / o[i]!));
  out.set('KMID2', map((i) => (c[i]! - o[i]!) / (h[i]! - l[i]! + 1e-12)));
  out.set('KUP', map((i) => (h[i]! - Math.max(o[i]!, c[i]!)) / o[i]!));
  out.set('KUP2', map((i) => (h[i]! - Math.max(o[i]!, c[i]!)) / (h[i]! - l[i]! + 1e-12)));
  out.set('KLOW', map((i) => (Math.min(o[i]!, c[i]!) - l[i]!) / o[i]!));
  out.set('KLOW2', map((i) => (Math.min(o[i]!, c[i]!) - l[i]!) / (h[i]! - l[i]! + 1e-12)));
  out.set('KSFT', map((i) => (2 * c[i]! - h[i]! - l[i]!) / o[i]!));
  out.set('KSFT2', map((i) => (2 * c[i]! - h[i]! - l[i]!) / (h[i]! - l[i]! + 1e-12)));
  out.set('OPEN0', map((i) => o[i]! / c[i]!));
  out.set('HIGH0', map((i) => h[i]! / c[i]!));
  out.set('LOW0', map((i) => l[i]! / c[i]!));
  out.set('VWAP0', map((i) => (h[i]! + l[i]! + c[i]!) / 3 / c[i]!));
  const diff = c.map((x, i) => x - pc[i]!);
  const vdiff = v.map((x, i) => x - pv[i]!);
  const gt = c.map((x, i) => (x > pc[i]! ? 1 : 0));
  const lt = c.map((x, i) => (x < pc[i]! ? 1 : 0));
  const logv = v.map((x) => Math.log(x + 1));
  const ratio = c.map((x, i) => x / pc[i]!);
  const logvr = v.map((x, i) => Math.log(x / pv[i]! + 1));
  const wv = c.map((x, i) => Math.abs(x / pc[i]! - 1) * v[i]!);
  const roll = (a: number[], d: number, f: (win: number[]) => number, poison?: (x: number) => boolean): Float64Array => naiveRolling(a, d, f, poison);
  const corr = (a: number[], bb: number[], d: number): Float64Array =>
    naiveRolling(
      a.map((_, i) => i),
      d,
      (idx) => {
        const x = idx.map((i) => a[i]!);
        const y = idx.map((i) => bb[i]!);
        if (![...x, ...y].every(Number.isFinite)) return NaN;
        return naive.std(x) <= 2e-5 || naive.std(y) <= 2e-5 ? NaN : naive.corr(x, y);
      },
    );
  const div = (a: ArrayLike<number>, bb: ArrayLike<number>, eps = 0): Float64Array => map((i) => a[i]! / (bb[i]! + eps));
  const pos = (a: number[]): number[] => a.map((x) => Math.max(x, 0));
  const neg = (a: number[]): number[] => a.map((x) => Math.max(-x, 0));
  const absA = (a: number[]): number[] => a.map(Math.abs);
  const fam = new Map<string, (d: number) => Float64Array>([
    ['ROC', (d) => map((i) => (i >= d ? c[i - d]! : NaN) / c[i]!)],
    ['MA', (d) => div(roll(c, d, naive.mean), c)],
    ['STD', (d) => div(roll(c, d, naive.std), c)],
    ['BETA', (d) => div(roll(c, d, (a) => naive.ols(a)[0]), c)],
    ['RSQR', (d) => roll(c, d, (a) => (naive.std(a) <= 2e-5 ? NaN : naive.ols(a)[1]))],
    ['RESI', (d) => div(roll(c, d, (a) => naive.ols(a)[2]), c)],
    ['MAX', (d) => div(roll(h, d, naive.max, isNaNv), c)],
    ['MIN', (d) => div(roll(l, d, naive.min, isNaNv), c)],
    ['QTLU', (d) => div(roll(c, d, (a) => naive.quantile(a, 0.8), isNaNv), c)],
    ['QTLD', (d) => div(roll(c, d, (a) => naive.quantile(a, 0.2), isNaNv), c)],
    ['RANK', (d) => roll(c, d, naive.rank, isNaNv)],
    ['RSV', (d) => { const mn = roll(l, d, naive.min, isNaNv); const mx = roll(h, d, naive.max, isNaNv); return map((i) => (c[i]! - mn[i]!) / (mx[i]! - mn[i]! + 1e-12)); }],
    ['IMAX', (d) => map((i) => roll(h, d, naive.idxMax, isNaNv)[i]! / d)],
    ['IMIN', (d) => map((i) => roll(l, d, naive.idxMin, isNaNv)[i]! / d)],
    ['IMXD', (d) => { const a = roll(h, d, naive.idxMax, isNaNv); const bb = roll(l, d, naive.idxMin, isNaNv); return map((i) => (a[i]! - bb[i]!) / d); }],
    ['CORR', (d) => corr(c, logv, d)],
    ['CORD', (d) => corr(ratio, logvr, d)],
    ['CNTP', (d) => roll(gt, d, naive.mean)],
    ['CNTN', (d) => roll(lt, d, naive.mean)],
    ['CNTD', (d) => { const p = roll(gt, d, naive.mean); const q = roll(lt, d, naive.mean); return map((i) => p[i]! - q[i]!); }],
    ['SUMP', (d) => div(roll(pos(diff), d, naive.sum), roll(absA(diff), d, naive.sum), 1e-12)],
    ['SUMN', (d) => div(roll(neg(diff), d, naive.sum), roll(absA(diff), d, naive.sum), 1e-12)],
    ['SUMD', (d) => { const p = roll(pos(diff), d, naive.sum); const q = roll(neg(diff), d, naive.sum); return div(map((i) => p[i]! - q[i]!), roll(absA(diff), d, naive.sum), 1e-12); }],
    ['VMA', (d) => div(roll(v, d, naive.mean), v, 1e-12)],
    ['VSTD', (d) => div(roll(v, d, naive.std), v, 1e-12)],
    ['WVMA', (d) => div(roll(wv, d, naive.std), roll(wv, d, naive.mean), 1e-12)],
    ['VSUMP', (d) => div(roll(pos(vdiff), d, naive.sum), roll(absA(vdiff), d, naive.sum), 1e-12)],
    ['VSUMN', (d) => div(roll(neg(vdiff), d, naive.sum), roll(absA(vdiff), d, naive.sum), 1e-12)],
    ['VSUMD', (d) => { const p = roll(pos(vdiff), d, naive.sum); const q = roll(neg(vdiff), d, naive.sum); return div(map((i) => p[i]! - q[i]!), roll(absA(vdiff), d, naive.sum), 1e-12); }],
  ]);
  for (const [f, fn] of fam) for (const d of ALPHA158_WINDOWS) out.set(`${f}${d}`, fn(d));
  for (const a of out.values()) for (let i = 0; i < n; i++) if (!Number.isFinite(a[i]!)) a[i] = NaN;
  return out;
}

/** A random walk around `level` with occasional flat days, gaps and zero volumes. */
function randomBars(seed: number, n: number, level: number): BarsInput {
  let s = seed >>> 0;
  const rnd = (): number => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const close: number[] = [];
  const open: number[] = [];
  const high: number[] = [];
  const low: number[] = [];
  const volume: number[] = [];
  let p = level;
  for (let i = 0; i < n; i++) {
    const flat = rnd() < 0.1;
    const o = flat ? p : Math.round(p * (1 + (rnd() - 0.5) * 0.02) * 100) / 100;
    const c = flat ? p : Math.round(o * (1 + (rnd() - 0.5) * 0.03) * 100) / 100;
    open.push(o);
    close.push(c);
    high.push(Math.max(o, c) + (flat ? 0 : Math.round(rnd() * p) / 100));
    low.push(Math.min(o, c) - (flat ? 0 : Math.round(rnd() * p) / 100));
    volume.push(rnd() < 0.03 ? 0 : Math.round(1e6 * (0.5 + rnd())));
    p = c;
  }
  return bars({ open, high, low, close, volume });
}

describe('Alpha158 against a naive evaluation of the expressions', () => {
  it('all 158 columns on random walks (levels 20 and 1e4, flat days, zero volumes)', () => {
    for (const [seed, level] of [[1, 20], [2, 1e4], [3, 150]] as const) {
      const b = randomBars(seed, 150, level);
      const m = alpha158(b);
      const ref = naiveAlpha158(b);
      for (const name of ALPHA158_NAMES) {
        const ours = featureColumn(m, name);
        const want = ref.get(name)!;
        const diff = maxRelDiff(ours, want); // relative: x/(0 + 1e-12) columns reach 1e17
        if (diff < 0 || diff > 1e-9) throw new Error(`${name} (seed ${seed}): max rel diff ${diff}`);
      }
    }
  });
  it('no ±Infinity anywhere, even with zero prices and volumes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(0, 1, 2, 3), fc.constantFrom(0, 10, 20)), { minLength: 1, maxLength: 80 }), (rows) => {
        const b = bars({ open: rows.map((r) => r[0]), high: rows.map((r) => r[0] + 1), low: rows.map((r) => Math.max(r[0] - 1, 0)), close: rows.map((r) => r[0]), volume: rows.map((r) => r[1]) });
        const m = alpha158(b);
        for (const x of m.values) expect(x === Infinity || x === -Infinity).toBe(false);
        for (const x of m.label) expect(x === Infinity || x === -Infinity).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});

describe('Alpha158 helpers', () => {
  it('toRowMajor transposes', () => {
    const m = alpha158(TINY);
    const r = toRowMajor(m);
    expect(r[3 * 158 + 1]).toBe(featureColumn(m, 'KLEN')[3]);
  });
  it('writes into caller buffers and checks their size', () => {
    const values = new Float64Array(8 * 158).fill(123);
    const label = new Float64Array(8);
    const m = alpha158(TINY, { values, label });
    expect(m.values).toBe(values);
    expect([...values]).toEqual([...alpha158(TINY).values]);
    expect(() => alpha158(TINY, { values: new Float64Array(5), label })).toThrow(InputError);
  });
  it('rejects columns of different lengths', () => {
    expect(() => alpha158({ ...TINY, volume: f64([1, 2]) })).toThrow(InputError);
  });
  it('adjustByAdjClose multiplies OHLC by adj_close/close, keeps volume', () => {
    const b = { ...TINY, adjClose: TINY.close.map((c) => c / 2) };
    const a = adjustByAdjClose(b);
    expect(a.open[0]).toBeCloseTo(4.9, 14);
    expect(a.close[7]).toBeCloseTo(7, 14);
    expect(a.volume).toBe(TINY.volume);
    expect(adjustByAdjClose({ ...TINY, adjClose: null })).toEqual({ ...TINY, adjClose: null });
  });
  it('an empty series gives an empty matrix', () => {
    const m = alpha158(bars({ open: [], high: [], low: [], close: [], volume: [] }));
    expect(m.rows).toBe(0);
    expect(m.values.length).toBe(0);
  });
});
