import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dayNumber } from '../../core/clock.js';
import { allocBars, type SymbolBars } from '../bars.js';
import { missingDates, PRICE_LEVEL_MIN_REFERENCE, ruleCode, runGates, type GateVerdicts } from './gates.js';
import { defaultGates, ROW_RULES, type GatesConfig } from './rules.js';

interface Row {
  date: string;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  adj?: number;
  file?: number;
  line?: number;
}

/** Builds a series by hand; rows must already be in date order (as parseBarFiles returns them). */
function bars(rows: Row[], symbol = 'TEST'): SymbolBars {
  const withAdj = rows.some((r) => r.adj !== undefined);
  const b = allocBars(symbol, rows.length, withAdj);
  rows.forEach((r, i) => {
    b.day[i] = dayNumber(r.date);
    if (!Number.isFinite(b.day[i])) throw new Error(`bad test date ${r.date}`);
    b.open[i] = r.o;
    b.high[i] = r.h;
    b.low[i] = r.l;
    b.close[i] = r.c;
    if (b.adjClose) b.adjClose[i] = r.adj ?? NaN;
    b.volume[i] = r.v;
    b.fileIdx[i] = r.file ?? 0;
    b.line[i] = r.line ?? i + 2;
  });
  return b;
}

/** A sane bar around close c: open = close, high/low ±1%. */
const bar = (date: string, c: number, v = 1000): Row => ({ date, o: c, h: c * 1.01, l: c * 0.99, c, v });
/** Closes on consecutive dates. */
const closes = (dates: string[], cs: number[]): Row[] => cs.map((c, i) => bar(dates[i]!, c));

const FILES = ['a.csv', 'b.csv'];
const run = (rows: Row[], cfg: GatesConfig = defaultGates(), actions: string[] = []): GateVerdicts =>
  runGates(bars(rows), cfg, new Set(actions.map(dayNumber)), FILES);
/** Verdicts as rule names ('ok' for accepted). */
const names = (v: GateVerdicts): string[] => Array.from(v.rule, (k) => (k === 0 ? 'ok' : ROW_RULES[k - 1]!));

// NYSE trading days of July 2019 (07-04 is Independence Day; 06/07, 13/14 are weekends).
const JULY = ['2019-07-01', '2019-07-02', '2019-07-03', '2019-07-05', '2019-07-08', '2019-07-09', '2019-07-10', '2019-07-11', '2019-07-12', '2019-07-15'];

describe('rule codes', () => {
  it('code k means ROW_RULES[k - 1] and 0 is reserved for accepted', () => {
    ROW_RULES.forEach((r, i) => expect(ruleCode(r)).toBe(i + 1));
  });
});

describe('clean data', () => {
  it('accepts a clean series and reports nothing', () => {
    const v = run(closes(JULY, [100, 101, 99, 102, 103, 101, 100, 104, 105, 103]));
    expect(names(v)).toEqual(Array(10).fill('ok'));
    expect(v.detail.size).toBe(0);
    expect(v.missing).toEqual({ count: 0, gaps: [] });
  });

  it('handles an empty series', () => {
    const v = run([]);
    expect(v.rule.length).toBe(0);
    expect(v.missing).toEqual({ count: 0, gaps: [] });
  });
});

describe('duplicate', () => {
  it('keeps the first row of a date and flags the others as identical or conflicting copies', () => {
    const rows = [bar('2019-07-01', 100), bar('2019-07-02', 101), bar('2019-07-02', 101), bar('2019-07-02', 102), bar('2019-07-03', 103)];
    rows[1]!.line = 3;
    rows[2]!.line = 4;
    rows[3]!.line = 5;
    const v = run(rows);
    expect(names(v)).toEqual(['ok', 'ok', 'duplicate', 'duplicate', 'ok']);
    expect(v.detail.get(2)).toBe('identical copy of a.csv:3');
    expect(v.detail.get(3)).toBe('conflicting copy of a.csv:3');
  });

  it('a difference in volume alone makes the copy conflicting', () => {
    const v = run([bar('2019-07-01', 100, 1000), bar('2019-07-01', 100, 1001)]);
    expect(v.detail.get(1)).toMatch(/^conflicting copy of /);
  });

  it('names the file of the kept row', () => {
    const rows = [bar('2019-07-01', 100), bar('2019-07-01', 100)];
    rows[0] = { ...rows[0]!, file: 1, line: 7 };
    const v = run(rows);
    expect(v.detail.get(1)).toBe('identical copy of b.csv:7');
  });

  it('identical bars on consecutive days are not duplicates', () => {
    const v = run([bar('2019-07-01', 100), bar('2019-07-02', 100)]);
    expect(names(v)).toEqual(['ok', 'ok']);
  });

  it('a duplicate is not counted as present for missing dates twice', () => {
    const v = run([bar('2019-07-01', 100), bar('2019-07-01', 100), bar('2019-07-03', 101)]);
    expect(v.missing).toEqual({ count: 1, gaps: [['2019-07-02', '2019-07-02']] });
  });
});

describe('non_trading_day', () => {
  it('flags weekends and holidays, accepts early-close and ordinary days', () => {
    const v = run([bar('2019-07-03', 100), bar('2019-07-04', 101), bar('2019-07-05', 102), bar('2019-07-06', 103), bar('2019-07-07', 104), bar('2019-07-08', 105)]);
    expect(names(v)).toEqual(['ok', 'non_trading_day', 'ok', 'non_trading_day', 'non_trading_day', 'ok']);
    expect(v.detail.get(1)).toBe('2019-07-04 is not an NYSE trading day');
    expect(v.detail.get(3)).toBe('2019-07-06 is not an NYSE trading day');
  });

  it('flags dates outside the calendar range instead of throwing', () => {
    const rows = [bar('1900-01-02', 50), bar('1989-12-29', 60), bar('2019-07-01', 100), bar('2019-07-02', 101), bar('2101-01-03', 200)];
    const v = run(rows); // used to throw RangeError from the calendar
    expect(names(v)).toEqual(['non_trading_day', 'non_trading_day', 'ok', 'ok', 'non_trading_day']);
    expect(v.detail.get(0)).toBe('1900-01-02 is outside the supported calendar range (1990..2100)');
    expect(v.detail.get(1)).toMatch(/^1989-12-29 is outside the supported calendar range/);
    expect(v.detail.get(4)).toMatch(/^2101-01-03 is outside the supported calendar range/);
    expect(v.missing).toEqual({ count: 0, gaps: [] });
  });

  it('the first and last supported years are judged normally', () => {
    // 1990-01-02 was a Tuesday (trading), 2100-12-31 a Friday (trading), 1990-01-01 New Year.
    const v = run([bar('1990-01-01', 10), bar('1990-01-02', 10.5)]);
    expect(names(v)).toEqual(['non_trading_day', 'ok']);
    expect(v.detail.get(0)).toBe('1990-01-01 is not an NYSE trading day');
    expect(names(run([bar('2100-12-31', 10)]))).toEqual(['ok']);
  });

  it('with the rule off, out-of-range rows do not crash and are left out of missing dates', () => {
    const cfg = defaultGates();
    cfg.non_trading_day.enabled = false;
    const v = run([bar('1900-01-02', 100), bar('2019-07-01', 100.5), bar('2019-07-03', 101), bar('2101-01-03', 101.5)], cfg);
    expect(names(v)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(v.missing).toEqual({ count: 1, gaps: [['2019-07-02', '2019-07-02']] });
  });
});

describe('non_positive_price', () => {
  it.each([
    ['open', { o: 0 }],
    ['high', { h: -1 }],
    ['low', { l: 0 }],
    ['close', { c: -0.01 }],
  ])('flags a non-positive %s', (_f, patch) => {
    const v = run([bar('2019-07-01', 100), { ...bar('2019-07-02', 100), ...patch }]);
    expect(names(v)).toEqual(['ok', 'non_positive_price']);
    expect(v.detail.get(1)).toMatch(/^open=.* high=.* low=.* close=/);
  });

  it('flags a non-positive adj_close but not a missing (NaN) one', () => {
    const v = run([
      { ...bar('2019-07-01', 100), adj: 99 },
      { ...bar('2019-07-02', 100.5), adj: 0 },
      { ...bar('2019-07-03', 101), adj: NaN },
    ]);
    expect(names(v)).toEqual(['ok', 'non_positive_price', 'ok']);
    expect(v.detail.get(1)).toContain('adj_close=0');
  });

  it('tiny positive prices pass this rule (price_level has its own floor)', () => {
    const cfg = defaultGates();
    cfg.price_level.minPrice = 0;
    const v = run([{ date: '2019-07-01', o: 0.0001, h: 0.0001, l: 0.0001, c: 0.0001, v: 1 }], cfg);
    expect(names(v)).toEqual(['ok']);
  });
});

describe('price_level', () => {
  /** n trading days from 2019-07-01 on (the NYSE calendar, so no row trips non_trading_day). */
  const DAYS = (n: number): string[] => {
    const out: string[] = [];
    for (let d = dayNumber('2019-07-01'); out.length < n; d++) {
      const s = new Date(d * 86_400_000).toISOString().slice(0, 10);
      const wd = new Date(d * 86_400_000).getUTCDay();
      if (wd !== 0 && wd !== 6 && s !== '2019-07-04' && s !== '2019-09-02' && s !== '2019-11-28' && s !== '2019-12-25') out.push(s);
    }
    return out;
  };
  /** A gently wandering series around `level` (±1%), so no two closes repeat (stale_price stays quiet). */
  const series = (cs: number[]): Row[] => closes(DAYS(cs.length), cs);
  const wave = (n: number, level: number, from = 0) => Array.from({ length: n }, (_, i) => level * (1 + 0.01 * Math.sin(i + from)));

  it('flags a close below the floor (minPrice), whatever its neighbours say', () => {
    const cs = wave(30, 0.0063);
    const v = run(series(cs));
    expect(names(v)).toEqual(Array(30).fill('price_level'));
    expect(v.detail.get(0)).toMatch(/^close 0\.006\d* is below the price floor 0\.01 \(minPrice\)$/);
    const cfg = defaultGates();
    cfg.price_level.minPrice = 0;
    expect(names(run(series(cs), cfg))).toEqual(Array(30).fill('ok'));
  });

  it('flags every row of a short glitch (a decimal shift for 4 days), and large_move then has nothing to add', () => {
    const cs = wave(40, 100);
    for (let i = 20; i < 24; i++) cs[i] = cs[i]! / 100;
    const v = run(series(cs));
    const got = names(v);
    expect(got.slice(20, 24)).toEqual(Array(4).fill('price_level'));
    expect(got.filter((x) => x !== 'ok')).toHaveLength(4);
    expect(v.detail.get(20)).toMatch(/^close 1\.\d+ is \d+(\.\d+)?x below the median 99\.\d+ of 21 closes 2019-\d\d-\d\d → 2019-\d\d-\d\d; limit 4x$/);
    // Without the rule, large_move catches only the edges: the glitch's first day and the first good day after it.
    const cfg = defaultGates();
    cfg.price_level.enabled = false;
    const old = names(run(series(cs), cfg));
    expect(old.slice(20, 24).filter((x) => x === 'ok')).toHaveLength(3);
  });

  it('accepts a genuine crash: the level falls 5x and stays there (large_move flags the day, as before)', () => {
    const cs = [...wave(30, 100), ...wave(30, 20, 30)];
    const got = names(run(series(cs)));
    expect(got).not.toContain('price_level');
    expect(got.filter((x) => x === 'large_move')).toHaveLength(1);
  });

  it('a 10:1 reverse split near the end: judged on the split-adjusted scale when the actions file has it', () => {
    const cs = [...wave(40, 5), ...wave(3, 50, 40)];
    const d = DAYS(cs.length);
    const withSplit = runGates(bars(closes(d, cs)), defaultGates(), new Set([dayNumber(d[40]!)]), FILES, new Map([[dayNumber(d[40]!), 0.1]]));
    expect(names(withSplit)).toEqual(Array(cs.length).fill('ok'));
    // Without it, three days at a new level after 40 at the old one cannot be told from a glitch.
    expect(names(run(closes(d, cs))).slice(40)).toEqual(['price_level', 'price_level', 'price_level']);
  });

  it('a split in the middle of the series needs no actions file: the median follows the step', () => {
    const cs = [...wave(30, 700), ...wave(30, 100, 30)];
    const got = names(run(series(cs)));
    expect(got).not.toContain('price_level');
  });

  it('judges nothing but the floor with fewer than PRICE_LEVEL_MIN_REFERENCE reference rows', () => {
    expect(PRICE_LEVEL_MIN_REFERENCE).toBe(5);
    expect(names(run(series([100, 100.5, 1, 101])))).not.toContain('price_level');
    expect(names(run(series([100, 100.5, 1, 101, 100.2])))).toEqual(['ok', 'ok', 'price_level', 'ok', 'ok']);
  });

  it('rows other rules flagged (zero volume) are not reference: a lone traded bar among them is not judged by level', () => {
    const rows = series(wave(20, 50)).map((r, i) => (i === 10 ? r : { ...r, v: 0 }));
    rows[10] = { ...rows[10]!, c: 5, o: 5, h: 5.05, l: 4.95 };
    const got = names(run(rows));
    expect(got[10]).toBe('ok');
    expect(got.filter((x) => x === 'non_positive_volume')).toHaveLength(19);
  });

  it('flags exactly the rows a naive median over the window (sorted anew for every row) flags', () => {
    const naive = (cs: number[], window: number, k: number): number[] => {
      const w = Math.min(window, cs.length);
      if (cs.length < PRICE_LEVEL_MIN_REFERENCE) return [];
      const out: number[] = [];
      cs.forEach((x, r) => {
        const lo = Math.min(Math.max(0, r - ((w - 1) >> 1)), cs.length - w);
        const win = cs.slice(lo, lo + w).sort((a, b) => a - b);
        const off = (m: number) => Math.max(x / m, m / x);
        if (off(win[(w - 1) >> 1]!) > k * (1 + 1e-9) && off(win[w >> 1]!) > k * (1 + 1e-9)) out.push(r);
      });
      return out;
    };
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ min: 50, max: 150, noNaN: true }), fc.double({ min: 1, max: 5, noNaN: true }), fc.constantFrom(100, 100, 10, 1000)), { minLength: 0, maxLength: 80 }),
        fc.integer({ min: 5, max: 30 }),
        (cs, window) => {
          const cfg = defaultGates();
          cfg.price_level.window = window;
          const got = names(runGates(bars(series(cs)), cfg, new Set(), FILES)).flatMap((x, i) => (x === 'price_level' ? [i] : []));
          expect(got).toEqual(naive(cs, window, cfg.price_level.maxFactor));
        },
      ),
      { numRuns: 300, seed: 13 },
    );
  });

  it('a close exactly maxFactor away passes', () => {
    // 99.99, 100, 100.01 in turn: the median of the 21 closes is exactly 100, and no run is stale.
    const cs = Array.from({ length: 21 }, (_, i) => 100 + ((i % 3) - 1) * 0.01);
    cs[10] = 25;
    const cfg = defaultGates();
    cfg.large_move.enabled = false;
    expect(names(run(series(cs), cfg))[10]).toBe('ok');
    cs[10] = 24.99;
    expect(names(run(series(cs), cfg))[10]).toBe('price_level');
  });
});

describe('ohlc_invariant', () => {
  const base = { date: '2019-07-02', v: 1000 };
  it.each([
    ['low above open', { o: 10, h: 12, l: 10.5, c: 11 }, 'low 10.5 > open 10'],
    ['low above close', { o: 11, h: 12, l: 10.5, c: 10 }, 'low 10.5 > close 10'],
    ['open above high', { o: 12.5, h: 12, l: 10, c: 11 }, 'open 12.5 > high 12'],
    ['close above high', { o: 11, h: 12, l: 10, c: 12.25 }, 'close 12.25 > high 12'],
  ])('flags %s', (_name, p, detail) => {
    const v = run([bar('2019-07-01', 11), { ...base, ...p }]);
    expect(names(v)).toEqual(['ok', 'ohlc_invariant']);
    expect(v.detail.get(1)).toBe(detail);
  });

  it('formats large prices with a fraction without dropping digits', () => {
    const v = run([{ ...base, o: 100000, h: 130000, l: 123450.2, c: 125000 }]);
    expect(v.detail.get(0)).toBe('low 123450 > open 100000');
  });

  it('lists every broken relation', () => {
    const v = run([{ ...base, o: 9, h: 8, l: 10, c: 9 }]);
    expect(v.detail.get(0)).toBe('low 10 > open 9; low 10 > close 9; open 9 > high 8; close 9 > high 8');
  });

  it('a bar touching its bounds (o = h, c = l, or all equal) passes', () => {
    const v = run([
      { ...base, date: '2019-07-01', o: 12, h: 12, l: 10, c: 10 },
      { ...base, date: '2019-07-02', o: 11, h: 11, l: 11, c: 11 },
    ]);
    expect(names(v)).toEqual(['ok', 'ok']);
  });

  it('relTolerance lets small inconsistencies through, not larger ones', () => {
    const cfg = defaultGates();
    cfg.ohlc_invariant.relTolerance = 0.01;
    const v = run(
      [
        { ...base, date: '2019-07-01', o: 100, h: 100, l: 99, c: 100.5 }, // close 0.5% above high
        { ...base, date: '2019-07-02', o: 100, h: 100, l: 99, c: 101.5 }, // 1.5% above
      ],
      cfg,
    );
    expect(names(v)).toEqual(['ok', 'ohlc_invariant']);
    // Without tolerance both fail.
    expect(names(run([{ ...base, date: '2019-07-01', o: 100, h: 100, l: 99, c: 100.5 }]))).toEqual(['ohlc_invariant']);
  });
});

describe('non_positive_volume', () => {
  it('flags zero and negative volume, accepts a volume of 1', () => {
    const v = run([bar('2019-07-01', 100, 0), bar('2019-07-02', 101, -5), bar('2019-07-03', 102, 1)]);
    expect(names(v)).toEqual(['non_positive_volume', 'non_positive_volume', 'ok']);
    expect(v.detail.get(0)).toBe('volume=0');
    expect(v.detail.get(1)).toBe('volume=-5');
  });

  it('a structural problem takes precedence (one verdict per row)', () => {
    const v = run([{ date: '2019-07-06', o: 0, h: 0, l: 0, c: 0, v: 0 }]);
    expect(names(v)).toEqual(['non_trading_day']);
    expect(v.detail.size).toBe(1);
  });
});

describe('stale_price (default maxUnchangedDays = 5)', () => {
  const flat = (date: string, p: number): Row => ({ date, o: p, h: p, l: p, c: p, v: 1000 });

  it('a run of exactly 5 identical bars passes', () => {
    // 99, then 100 on 5 consecutive trading days, then 101.
    const rows = [flat(JULY[0]!, 99), ...JULY.slice(1, 6).map((d) => flat(d, 100)), flat(JULY[6]!, 101)];
    expect(names(run(rows))).toEqual(Array(7).fill('ok'));
  });

  it('the 6th identical bar (and every one after it) is flagged', () => {
    const rows = [flat(JULY[0]!, 99), ...JULY.slice(1, 8).map((d) => flat(d, 100)), flat(JULY[8]!, 101)];
    const v = run(rows);
    // Run 07-02, 03, 05, 08, 09 (5 bars) ok; 07-10 and 07-11 are the 6th and 7th.
    expect(names(v)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'stale_price', 'stale_price', 'ok']);
    expect(v.detail.get(6)).toBe('price 100 unchanged since 2019-07-02 (more than 5 days)');
  });

  it('only a fully unchanged bar counts: a different open breaks the run', () => {
    const rows = JULY.slice(0, 8).map((d) => flat(d, 100));
    rows[3] = { ...rows[3]!, o: 100.5, h: 100.5 };
    expect(names(run(rows))).toEqual(Array(8).fill('ok'));
  });

  it('honours a custom threshold', () => {
    const cfg = defaultGates();
    cfg.stale_price.maxUnchangedDays = 2;
    const v = run(JULY.slice(0, 4).map((d) => flat(d, 100)), cfg);
    expect(names(v)).toEqual(['ok', 'ok', 'stale_price', 'stale_price']);
  });
});

describe('large_move (default maxAbsReturn = 0.3)', () => {
  it('a move of exactly +30% or -30% passes', () => {
    expect(names(run(closes(JULY, [100, 130])))).toEqual(['ok', 'ok']);
    expect(names(run(closes(JULY, [100, 70])))).toEqual(['ok', 'ok']);
    expect(names(run(closes(JULY, [10, 13, 9.1])))).toEqual(['ok', 'ok', 'ok']);
  });

  it('a move of 30.01% either way is flagged', () => {
    const up = run(closes(JULY, [100, 130.01]));
    expect(names(up)).toEqual(['ok', 'large_move']);
    expect(up.detail.get(1)).toBe('close 130.01 vs 100 on 2019-07-01: +30.0% with no corporate action');
    const down = run(closes(JULY, [100, 69.99]));
    expect(names(down)).toEqual(['ok', 'large_move']);
    expect(down.detail.get(1)).toBe('close 69.99 vs 100 on 2019-07-01: -30.0% with no corporate action');
  });

  it('a one-day spike flags only the spike', () => {
    const v = run(closes(JULY, [100, 150, 100, 101]));
    expect(names(v)).toEqual(['ok', 'large_move', 'ok', 'ok']);
    expect(v.detail.get(1)).toBe('close 150 vs 100 on 2019-07-01: +50.0% with no corporate action');
  });

  it('a persistent level shift flags only its first day', () => {
    const v = run(closes(JULY, [100, 60, 61, 60]));
    expect(names(v)).toEqual(['ok', 'large_move', 'ok', 'ok']);
    expect(v.detail.get(1)).toBe('close 60 vs 100 on 2019-07-01: -40.0% with no corporate action');
  });

  it('a corporate-action day is exempt (and becomes the new reference)', () => {
    const rows = closes(JULY, [100, 50, 51, 50.5]);
    expect(names(run(rows, defaultGates(), ['2019-07-02']))).toEqual(['ok', 'ok', 'ok', 'ok']);
    // Same data, action on another day: the split day is flagged.
    expect(names(run(rows, defaultGates(), ['2019-07-03']))).toEqual(['ok', 'large_move', 'ok', 'ok']);
  });

  it('judges against the last accepted close, skipping rows flagged by other rules', () => {
    const rows = closes(JULY, [100, 100, 140]);
    rows[1] = { ...rows[1]!, c: 1000, h: 900 }; // close above high → ohlc_invariant, not a reference
    expect(names(run(rows))).toEqual(['ok', 'ohlc_invariant', 'large_move']);
  });

  it('honours a custom threshold', () => {
    const cfg = defaultGates();
    cfg.large_move.maxAbsReturn = 0.1;
    expect(names(run(closes(JULY, [100, 110, 121.5]), cfg))).toEqual(['ok', 'ok', 'large_move']);
  });
});

describe('missing_dates', () => {
  it('counts absent trading days; a weekend/holiday inside a run does not split the gap', () => {
    // Present 07-01, 02, 03, 10. Absent trading days: 07-05 (Fri), 07-08 (Mon), 07-09 (Tue).
    // 07-04 is a holiday and 07-06/07 a weekend, so the three are consecutive trading days: one gap.
    const v = run(closes(['2019-07-01', '2019-07-02', '2019-07-03', '2019-07-10'], [100, 101, 102, 103]));
    expect(names(v)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(v.missing).toEqual({ count: 3, gaps: [['2019-07-05', '2019-07-09']] });
  });

  it('separate gaps are reported separately', () => {
    // Present 07-01, 03, 08, 10: absent 07-02, 07-05, 07-09.
    const v = run(closes(['2019-07-01', '2019-07-03', '2019-07-08', '2019-07-10'], [100, 101, 102, 103]));
    expect(v.missing).toEqual({
      count: 3,
      gaps: [
        ['2019-07-02', '2019-07-02'],
        ['2019-07-05', '2019-07-05'],
        ['2019-07-09', '2019-07-09'],
      ],
    });
  });

  it('a flagged row does not count as present', () => {
    const v = run([bar('2019-07-01', 100), bar('2019-07-02', 101, 0), bar('2019-07-03', 102)]);
    expect(names(v)).toEqual(['ok', 'non_positive_volume', 'ok']);
    expect(v.missing).toEqual({ count: 1, gaps: [['2019-07-02', '2019-07-02']] });
  });

  it('only spans the first..last accepted rows', () => {
    // Flagged rows at both ends (weekend before, zero volume after) do not stretch the range.
    const v = run([bar('2019-06-29', 99), bar('2019-07-01', 100), bar('2019-07-02', 101), bar('2019-07-15', 102, 0)]);
    expect(v.missing).toEqual({ count: 0, gaps: [] });
  });

  it('nothing accepted → nothing missing', () => {
    expect(run([bar('2019-07-06', 100), bar('2019-07-07', 100)]).missing).toEqual({ count: 0, gaps: [] });
  });

  it('missingDates can be called directly with a verdict array', () => {
    const day = Int32Array.from(['2019-07-01', '2019-07-02', '2019-07-03', '2019-07-05'].map(dayNumber));
    expect(missingDates(day, new Uint8Array([0, 0, 0, 0]))).toEqual({ count: 0, gaps: [] });
    expect(missingDates(day, new Uint8Array([0, 1, 1, 0]))).toEqual({ count: 2, gaps: [['2019-07-02', '2019-07-03']] });
  });

  it('when disabled, reports nothing', () => {
    const cfg = defaultGates();
    cfg.missing_dates.enabled = false;
    expect(run(closes(['2019-07-01', '2019-07-10'], [100, 101]), cfg).missing).toEqual({ count: 0, gaps: [] });
    // Sanity: with the rule on, the same data misses 07-02, 03, 05, 08 and 09.
    expect(run(closes(['2019-07-01', '2019-07-10'], [100, 101])).missing.count).toBe(5);
  });
});

describe('disabled rules', () => {
  // One series with a problem for every row rule.
  const nasty: Row[] = [
    bar('2019-07-01', 100),
    bar('2019-07-01', 100), // duplicate
    bar('2019-07-02', 101),
    bar('2019-07-06', 102), // Saturday
    { ...bar('2019-07-08', 103), l: 0 }, // non-positive price
    { ...bar('2019-07-09', 104), c: 200 }, // close above high
    bar('2019-07-10', 105, 0), // zero volume
    bar('2019-07-11', 300), // spike
    ...['2019-07-12', '2019-07-15', '2019-07-16', '2019-07-17', '2019-07-18', '2019-07-19'].map((d): Row => ({ date: d, o: 106, h: 106, l: 106, c: 106, v: 10 })), // 6 identical
  ];

  it('with every rule on, each rule fires on its row', () => {
    expect(names(run(nasty))).toEqual([
      'ok',
      'duplicate',
      'ok',
      'non_trading_day',
      'non_positive_price',
      'ohlc_invariant',
      'non_positive_volume',
      'large_move',
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'stale_price',
    ]);
  });

  it('with every rule off, nothing is flagged', () => {
    const cfg = defaultGates();
    for (const r of ['duplicate', 'non_trading_day', 'non_positive_price', 'ohlc_invariant', 'non_positive_volume', 'price_level', 'stale_price', 'large_move', 'missing_dates'] as const) {
      cfg[r].enabled = false;
    }
    const v = run(nasty, cfg);
    expect(names(v)).toEqual(Array(nasty.length).fill('ok'));
    expect(v.detail.size).toBe(0);
    expect(v.missing).toEqual({ count: 0, gaps: [] });
  });

  it.each(['duplicate', 'non_trading_day', 'non_positive_price', 'ohlc_invariant', 'non_positive_volume', 'stale_price', 'large_move'] as const)(
    'turning off %s alone stops only that rule',
    (r) => {
      const cfg = defaultGates();
      cfg[r].enabled = false;
      const got = names(run(nasty, cfg));
      expect(got).not.toContain(r);
      // Rows flagged by other rules with everything on stay flagged the same way.
      const all = names(run(nasty));
      all.forEach((name, i) => {
        if (name !== r && name !== 'ok' && name !== 'large_move' && name !== 'stale_price') expect(got[i]).toBe(name);
      });
    },
  );
});
