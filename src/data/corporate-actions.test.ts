import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dayNumber, dayString } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { allocBars, type CorporateAction, type SymbolBars } from './bars.js';
import {
  adjustmentFactors,
  applyAdjustment,
  deriveDividends,
  parseActionsCsv,
  summarizeErrors,
  unapplyAdjustment,
  vendorAdjustmentError,
} from './corporate-actions.js';

const D0 = dayNumber('2020-01-01');

/** Bars on consecutive calendar days from `start`, with o/h/l derived from close. */
function mkBars(closes: number[], opts: { start?: string; adj?: number[]; volume?: number[]; symbol?: string } = {}): SymbolBars {
  const n = closes.length;
  const b = allocBars(opts.symbol ?? 'TEST', n, opts.adj !== undefined);
  const s = dayNumber(opts.start ?? '2020-01-01');
  for (let i = 0; i < n; i++) {
    b.day[i] = s + i;
    b.close[i] = closes[i]!;
    b.open[i] = closes[i]! * 0.99;
    b.high[i] = closes[i]! * 1.01;
    b.low[i] = closes[i]! * 0.98;
    b.volume[i] = opts.volume?.[i] ?? 1000 + i;
    if (b.adjClose) b.adjClose[i] = opts.adj![i]!;
    b.fileIdx[i] = 0;
    b.line[i] = i + 2;
  }
  return b;
}

const split = (exDate: string, value: number, symbol = 'TEST'): CorporateAction => ({ symbol, exDate, type: 'split', value, source: 'file' });
const div = (exDate: string, value: number, symbol = 'TEST'): CorporateAction => ({ symbol, exDate, type: 'dividend', value, source: 'file' });
/** Ex-date of row i in mkBars with the default start. */
const row = (i: number): string => dayString(D0 + i);

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

function expectClose(actual: Float64Array, expected: number[], digits = 12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i]!, digits);
}

describe('adjustmentFactors', () => {
  it('2:1 split halves prices and doubles volume before the ex-date', () => {
    // closes 100, 102, 51 (ex on row 3): rows 1–2 × 1/2 → 50, 51, 51
    const b = mkBars([100, 102, 51]);
    const f = adjustmentFactors(b, [split(row(2), 2)]);
    expectClose(f.price, [0.5, 0.5, 1]);
    expectClose(f.volume, [2, 2, 1]);
    const adj = applyAdjustment(b, f);
    expectClose(adj.close, [50, 51, 51]);
    expectClose(adj.volume, [2000, 2002, 1002]);
  });

  it('7:1 split (AAPL 2014-06-09)', () => {
    // 2014-06-05 647.35, 2014-06-06 645.57, 2014-06-09 93.70: pre-split closes ÷ 7
    // 645.57 / 7 = 92.224285714…, volume × 7
    const b = allocBars('AAPL', 3, false);
    ['2014-06-05', '2014-06-06', '2014-06-09'].forEach((d, i) => (b.day[i] = dayNumber(d)));
    b.close.set([647.35, 645.57, 93.7]);
    b.volume.set([75e6 / 7, 87e6 / 7, 75e6]);
    const f = adjustmentFactors(b, [split('2014-06-09', 7, 'AAPL')]);
    expectClose(f.price, [1 / 7, 1 / 7, 1]);
    expectClose(f.volume, [7, 7, 1]);
    const adj = applyAdjustment(b, f);
    expect(adj.close[1]).toBeCloseTo(92.224285714, 8);
    expect(adj.volume[0]).toBeCloseTo(75e6, 4);
  });

  it('1:10 reverse split multiplies old prices by 10 and divides volume', () => {
    // closes 1.2, 1.1, 11.5 (ex row 3, ratio 0.1): adjusted 12, 11, 11.5; volume × 0.1
    const b = mkBars([1.2, 1.1, 11.5]);
    const f = adjustmentFactors(b, [split(row(2), 0.1)]);
    expectClose(f.price, [10, 10, 1]);
    expectClose(f.volume, [0.1, 0.1, 1]);
    expectClose(applyAdjustment(b, f).close, [12, 11, 11.5]);
  });

  it('cash dividend uses the raw close before the ex-date and leaves volume alone', () => {
    // closes 100, 102, 101; $1 ex on row 3 → rows 1–2 × (1 − 1/102) = 101/102 = 0.990196078…
    const b = mkBars([100, 102, 101]);
    const f = adjustmentFactors(b, [div(row(2), 1)]);
    expectClose(f.price, [101 / 102, 101 / 102, 1]);
    expect(f.price[0]).toBeCloseTo(0.990196078, 9);
    expectClose(f.volume, [1, 1, 1]);
    // adjusted close on row 2 = 102 × 101/102 = 101: the ex-date drop is removed
    expect(applyAdjustment(b, f).close[1]).toBeCloseTo(101, 12);
  });

  it('split and dividend on the same day: dividend is per post-split share', () => {
    // close 100 before; 2:1 split + $0.50 per new share = $1 per old share on ex row 2
    // f = (1/2) × (1 − 0.5 × 2 / 100) = 0.5 × 0.99 = 0.495; volume × 2
    const b = mkBars([100, 49.5]);
    const f = adjustmentFactors(b, [div(row(1), 0.5), split(row(1), 2)]);
    expectClose(f.price, [0.495, 1]);
    expectClose(f.volume, [2, 1]);
  });

  it('actions on/before the first row do nothing; actions after the last row scale every row', () => {
    const b = mkBars([10, 11, 12]);
    const before = adjustmentFactors(b, [split(dayString(D0 - 30), 2), div(row(0), 0.5)]);
    expectClose(before.price, [1, 1, 1]);
    expectClose(before.volume, [1, 1, 1]);
    // $0.6 ex after the data: close before = 12 → every row × (1 − 0.6/12) = 0.95; 3:1 split after → × 1/3
    const after = adjustmentFactors(b, [div(row(10), 0.6), split(row(20), 3)]);
    expectClose(after.price, [0.95 / 3, 0.95 / 3, 0.95 / 3]);
    expectClose(after.volume, [3, 3, 3]);
  });

  it('multiple dividends compound and the input order does not matter', () => {
    // closes 50, 51, 52, 53, 54; $0.5 ex row 3 (close before 51); $1 ex row 5 (close before 53)
    // row 5: 1; rows 3–4: 1 − 1/53 = 52/53; rows 1–2: 52/53 × (1 − 0.5/51) = 52/53 × 50.5/51
    const b = mkBars([50, 51, 52, 53, 54]);
    const f = adjustmentFactors(b, [div(row(4), 1), div(row(2), 0.5)]);
    const a = 52 / 53;
    const c = a * (50.5 / 51);
    expectClose(f.price, [c, c, a, a, 1]);
    expectClose(f.volume, [1, 1, 1, 1, 1]);
  });

  it('volume is only touched by splits', () => {
    // split 2 ex row 2, dividend $1 ex row 4 (close before 52): volume [2, 2, 1, 1, 1]
    const b = mkBars([100, 101, 51, 52, 51]);
    const f = adjustmentFactors(b, [split(row(2), 2), div(row(4), 1)]);
    expectClose(f.volume, [2, 2, 1, 1, 1]);
    // price: rows 3–4 × (1 − 1/52); rows 1–2 also × 1/2
    const d = 1 - 1 / 52;
    expectClose(f.price, [d / 2, d / 2, d, d, 1]);
  });

  it('ex-date between trading days uses the last row before it', () => {
    // rows on 2020-01-01 (100), 2020-01-02 (102), 2020-01-06 (101); ex 2020-01-04 (weekend)
    const b = mkBars([100, 102, 101]);
    b.day[2] = D0 + 5;
    const f = adjustmentFactors(b, [div('2020-01-04', 1)]);
    expectClose(f.price, [101 / 102, 101 / 102, 1]);
  });

  it('a dividend not below the close before it is an InputError naming symbol and date', () => {
    const b = mkBars([100, 5, 4]);
    expect(() => adjustmentFactors(b, [div(row(2), 5)])).toThrow(InputError);
    expect(() => adjustmentFactors(b, [div(row(2), 5)])).toThrow(/TEST 2020-01-03: dividend 5/);
    // $3 per post-split share with 2:1 = $6 per old share ≥ 5
    expect(() => adjustmentFactors(b, [div(row(2), 3), split(row(2), 2)])).toThrow(/per post-split share/);
  });

  it('rejects malformed actions', () => {
    const b = mkBars([1, 2]);
    expect(() => adjustmentFactors(b, [split('2020-13-01', 2)])).toThrow(InputError);
    expect(() => adjustmentFactors(b, [split(row(1), 0)])).toThrow(InputError);
    expect(() => adjustmentFactors(b, [split(row(1), 2), split(row(1), 2, 'OTHER')])).toThrow(/one symbol/);
  });
});

describe('apply/unapply', () => {
  it('scales OHLC and volume, copies adjClose and metadata without aliasing', () => {
    const b = mkBars([100, 102, 51], { adj: [48, 49, 51] });
    const f = adjustmentFactors(b, [split(row(2), 2)]);
    const a = applyAdjustment(b, f);
    expectClose(a.open, [49.5, 50.49, 50.49]);
    expectClose(a.high, [50.5, 51.51, 51.51]);
    expectClose(a.low, [49, 49.98, 49.98]);
    expect(Array.from(a.adjClose!)).toEqual([48, 49, 51]);
    expect(a.adjClose).not.toBe(b.adjClose);
    expect(Array.from(a.day)).toEqual(Array.from(b.day));
    expect(Array.from(a.line)).toEqual([2, 3, 4]);
    const back = unapplyAdjustment(a, f);
    expectClose(back.close, [100, 102, 51]);
    expectClose(back.volume, [1000, 1001, 1002]);
  });
});

describe('parseActionsCsv', () => {
  it('reads splits (number and N:M) and dividends', () => {
    const csv = ['symbol,ex_date,type,value', 'AAPL,2014-06-09,split,7:1', 'XYZ,2020-03-02,SPLIT,1:10', 'msft,2020-02-19,Dividend,0.51', '', 'T,2021-01-04,split,2', ''].join('\n');
    expect(parseActionsCsv(csv, 'a.csv')).toEqual([
      { symbol: 'AAPL', exDate: '2014-06-09', type: 'split', value: 7, source: 'file' },
      { symbol: 'XYZ', exDate: '2020-03-02', type: 'split', value: 0.1, source: 'file' },
      { symbol: 'MSFT', exDate: '2020-02-19', type: 'dividend', value: 0.51, source: 'file' },
      { symbol: 'T', exDate: '2021-01-04', type: 'split', value: 2, source: 'file' },
    ]);
  });

  it('accepts any column order, case-insensitive names, aliases, CRLF and a BOM', () => {
    const a = parseActionsCsv('\uFEFFType,Ratio,Date,SYMBOL\r\nsplit,3:2,2020-05-01,ABC\r\n', 'a.csv');
    expect(a).toEqual([{ symbol: 'ABC', exDate: '2020-05-01', type: 'split', value: 1.5, source: 'file' }]);
    const b = parseActionsCsv('date,symbol,type,amount,note\n2020-05-01,ABC,dividend,0.25,"q2"\n', 'b.csv');
    expect(b[0]).toMatchObject({ type: 'dividend', value: 0.25 });
    expect(parseActionsCsv('', 'e.csv')).toEqual([]);
    expect(parseActionsCsv('symbol,ex_date,type,value\n', 'e.csv')).toEqual([]);
  });

  const bad = (body: string): string => {
    try {
      parseActionsCsv(`symbol,ex_date,type,value\nAAPL,2014-06-09,split,7:1\n\n${body}\n`, 'actions.csv');
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      const msg = (e as Error).message;
      expect(msg).not.toContain('\n');
      return msg;
    }
    throw new Error('expected an InputError');
  };

  it('names file and 1-based line for bad lines (empty lines still count)', () => {
    expect(bad('AAPL,2020-01-02,split,0')).toBe('actions.csv:4: split ratio must be positive, got "0"');
    expect(bad('AAPL,2020-01-02,split,-2')).toBe('actions.csv:4: split ratio must be positive, got "-2"');
    expect(bad('AAPL,2020-01-02,split,0:1')).toBe('actions.csv:4: split ratio must be positive, got "0:1"');
    expect(bad('AAPL,2020-01-02,split,two')).toBe('actions.csv:4: split ratio must be a number or N:M, got "two"');
    expect(bad('AAPL,2020-01-02,dividend,0')).toBe('actions.csv:4: dividend amount must be positive, got "0"');
    expect(bad('AAPL,2020-01-02,dividend,')).toBe('actions.csv:4: dividend amount must be a number, got ""');
    expect(bad('AAPL,2020-02-30,dividend,1')).toMatch(/^actions\.csv:4: ex_date must be a real YYYY-MM-DD date, got "2020-02-30"$/);
    expect(bad('AAPL,2020-01-02,merger,1')).toBe('actions.csv:4: type must be "split" or "dividend", got "merger"');
    expect(bad('AAPL,2020-01-02,split')).toBe('actions.csv:4: expected at least 4 fields, got 3');
    expect(bad('A B,2020-01-02,split,2')).toMatch(/^actions\.csv:4: bad symbol/);
  });

  it('rejects duplicate (symbol, ex_date, type) lines but allows split + dividend on one day', () => {
    expect(bad('aapl,2014-06-09,SPLIT,7')).toBe('actions.csv:4: duplicate split for AAPL on 2014-06-09 (first on line 2)');
    expect(() => parseActionsCsv('symbol,ex_date,type,value\nA,2020-01-02,split,2\nA,2020-01-02,dividend,1\n', 'x.csv')).not.toThrow();
  });

  it('rejects a header without the needed columns', () => {
    expect(() => parseActionsCsv('symbol,when,type,value\nA,2020-01-02,split,2\n', 'h.csv')).toThrow('h.csv:1: header is missing column "ex_date"');
    expect(() => parseActionsCsv('symbol,date,type,ratio,amount\n', 'h.csv')).toThrow(/h\.csv:1: column "value" given twice/);
  });
});

/** A vendor-style series: adj_close = round4(close × dividend factor). */
function withVendorAdj(closes: number[], dividends: CorporateAction[]): SymbolBars {
  const b = mkBars(closes);
  const f = adjustmentFactors(b, dividends);
  const adj = new Float64Array(closes.length);
  for (let i = 0; i < closes.length; i++) adj[i] = round4(closes[i]! * f.price[i]!);
  b.adjClose = adj;
  return b;
}

describe('deriveDividends', () => {
  it('recovers known dividends from a rounded vendor adj_close', () => {
    // closes around 100; dividends $1 (row 3), $0.5 (row 6), $0.01 (row 8, 1e-4 relative)
    const closes = [100, 102, 101, 100.5, 99, 98.25, 99.5, 100, 100.2, 101];
    const truth = [div(row(2), 1), div(row(5), 0.5), div(row(7), 0.01)];
    const b = withVendorAdj(closes, truth);
    const { dividends, anomalies } = deriveDividends(b);
    expect(anomalies).toEqual([]);
    expect(dividends.map((d) => d.exDate)).toEqual([row(2), row(5), row(7)]);
    for (let k = 0; k < truth.length; k++) {
      // rounding adj to 4 decimals moves D by at most ~close × 1e-4/adj ≈ 1e-4
      expect(Math.abs(dividends[k]!.value - truth[k]!.value)).toBeLessThan(2e-4);
      expect(dividends[k]).toMatchObject({ symbol: 'TEST', type: 'dividend', source: 'derived' });
    }
  });

  it('does not invent dividends from rounding noise on a long flat-ratio series', () => {
    // 5000 rows, random walk 5…500, adj = round4(close × 0.8731): the ratio only jitters by rounding
    const rnd = fc.sample(fc.double({ min: -0.03, max: 0.03, noNaN: true }), { numRuns: 5000, seed: 42 });
    const closes: number[] = [];
    let c = 40;
    for (const r of rnd) {
      c = Math.min(500, Math.max(5, c * (1 + r)));
      closes.push(Math.round(c * 100) / 100);
    }
    const b = mkBars(closes, { adj: closes.map((x) => round4(x * 0.8731)) });
    expect(deriveDividends(b)).toEqual({ dividends: [], anomalies: [] });
  });

  it('skips invalid rows and reports wrong-way steps as anomalies', () => {
    // row 3 invalid: the $1 step between rows 2 and 4 is still found, ex-date = row 4
    const b = withVendorAdj([100, 102, 101, 100], [div(row(2), 1)]);
    b.close[2] = NaN;
    b.adjClose![2] = 0;
    const { dividends } = deriveDividends(b);
    expect(dividends).toHaveLength(1);
    expect(dividends[0]!.exDate).toBe(row(3));
    // close before = 102: D = 102 × (1 − 101/102) ≈ 1
    expect(dividends[0]!.value).toBeCloseTo(1, 3);

    // r = adj/close falls 0.99 → 0.98 going forward (q = 0.99/0.98 > 1, a 1 − 0.98/0.99 = 1.01% fall): the wrong way for a dividend
    const up = mkBars([50, 50, 50], { adj: [49.5, 49.5, 49] });
    const r = deriveDividends(up);
    expect(r.dividends).toEqual([]);
    expect(r.anomalies).toHaveLength(1);
    expect(r.anomalies[0]!.exDate).toBe(row(2));
    expect(r.anomalies[0]!.detail).toMatch(/fell 1\.01%/);
  });

  it('flags huge steps that look like a split missing from close', () => {
    const b = mkBars([100, 51], { adj: [50, 51] });
    const r = deriveDividends(b);
    expect(r.dividends[0]!.value).toBeCloseTo(50, 6);
    expect(r.anomalies[0]!.detail).toMatch(/split/);
  });

  it('honours minRelStep and returns nothing without adj_close', () => {
    const b = withVendorAdj([100, 102, 101], [div(row(2), 0.05)]); // 0.049% step
    expect(deriveDividends(b).dividends).toHaveLength(1);
    expect(deriveDividends(b, { minRelStep: 1e-3 }).dividends).toHaveLength(0);
    expect(deriveDividends(mkBars([1, 2]))).toEqual({ dividends: [], anomalies: [] });
  });
});

describe('vendor error', () => {
  it('computes relative errors and summarises them ignoring NaN', () => {
    const e = vendorAdjustmentError(new Float64Array([101, 99, NaN, 5]), new Float64Array([100, 100, 100, 0]));
    expect(e[0]).toBeCloseTo(0.01, 12);
    expect(e[1]).toBeCloseTo(0.01, 12);
    expect(e[2]).toBeNaN();
    expect(e[3]).toBeNaN();
    const s = summarizeErrors([e, new Float64Array([0.03, NaN])]);
    expect(s.rows).toBe(3);
    expect(s.max).toBeCloseTo(0.03, 12);
    expect(s.median).toBeCloseTo(0.01, 12);
    expect(summarizeErrors([new Float64Array([1, 3, 2, 4])]).median).toBe(2.5);
    expect(summarizeErrors([]).rows).toBe(0);
  });
});

describe('properties', () => {
  /** Random closes plus actions at random rows (or outside the range) that are always valid. */
  const scenario = fc
    .record({
      closes: fc.array(fc.double({ min: 0.5, max: 2000, noNaN: true }), { minLength: 1, maxLength: 60 }),
      acts: fc.array(
        fc.record({
          at: fc.integer({ min: -3, max: 65 }),
          kind: fc.constantFrom('split', 'dividend', 'both'),
          ratio: fc.oneof(fc.constantFrom(2, 3, 7, 1.5, 0.1, 0.5, 0.25), fc.double({ min: 0.05, max: 20, noNaN: true })),
          frac: fc.double({ min: 1e-4, max: 0.5, noNaN: true }),
        }),
        { maxLength: 8 },
      ),
    })
    .map(({ closes, acts }) => {
      const b = mkBars(closes);
      const n = closes.length;
      const actions: CorporateAction[] = [];
      const used = new Set<string>();
      for (const a of acts) {
        const exDate = row(a.at);
        if (used.has(exDate)) continue;
        used.add(exDate);
        // close before the ex-date (or last close when ex is after the data); none before row 0
        const cb = a.at <= 0 ? 1 : closes[Math.min(a.at, n) - 1]!;
        const r = a.kind === 'dividend' ? 1 : a.ratio;
        if (a.kind !== 'dividend') actions.push(split(exDate, r));
        if (a.kind !== 'split') actions.push(div(exDate, (a.frac * cb) / r));
      }
      return { b, actions };
    });

  it('unapply(apply(x)) = x within 1e-9 relative', () => {
    fc.assert(
      fc.property(scenario, ({ b, actions }) => {
        const f = adjustmentFactors(b, actions);
        const back = unapplyAdjustment(applyAdjustment(b, f), f);
        for (const k of ['open', 'high', 'low', 'close', 'volume'] as const) {
          for (let i = 0; i < b.day.length; i++) {
            const x = b[k][i]!;
            if (Math.abs(back[k][i]! - x) > 1e-9 * Math.abs(x)) return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('adjusting with derived dividends reproduces a synthetic vendor adj_close within 1e-4', () => {
    // Closes 20…500 and ≤ 8 dividends of 0.1–3%: adj stays ≥ ~15, so each derived step is off by
    // ≤ 1e-4/15 and the accumulated error stays well under 1e-4.
    const series = fc
      .record({
        closes: fc.array(fc.double({ min: 20, max: 500, noNaN: true }), { minLength: 2, maxLength: 250 }),
        divs: fc.array(fc.record({ at: fc.nat(), frac: fc.double({ min: 1e-3, max: 0.03, noNaN: true }) }), { maxLength: 8 }),
      })
      .map(({ closes, divs }) => {
        const n = closes.length;
        const cl = closes.map((x) => Math.round(x * 100) / 100);
        const byRow = new Map<number, number>();
        for (const d of divs) {
          const at = 1 + (d.at % (n - 1));
          byRow.set(at, Math.round(d.frac * cl[at - 1]! * 1e4) / 1e4 || 0.0001);
        }
        const truth = [...byRow].map(([at, amt]) => div(row(at), amt));
        return { b: withVendorAdj(cl, truth), truth };
      });
    fc.assert(
      fc.property(series, ({ b, truth }) => {
        const { dividends, anomalies } = deriveDividends(b);
        if (anomalies.length > 0 || dividends.length !== truth.length) return false;
        const f = adjustmentFactors(b, dividends);
        const ours = new Float64Array(b.close.length);
        for (let i = 0; i < ours.length; i++) ours[i] = b.close[i]! * f.price[i]!;
        return summarizeErrors([vendorAdjustmentError(ours, b.adjClose!)]).max <= 1e-4;
      }),
      { numRuns: 300 },
    );
  });
});
