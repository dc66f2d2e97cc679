import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_BARS } from '../cli/commands/start.js';
import { allocBars, type SymbolBars } from '../data/bars.js';
import { loadAdjustedBars } from '../data/bars-loader.js';
import { openCatalog } from '../data/catalog.js';
import { etl, tempDir } from '../data/test-helpers.js';
import { ALPHA158_NAMES, alpha158 } from '../features/alpha158.js';
import {
  CACHE_VALUE_BYTES,
  computeFeatureRow,
  decodeCacheValue,
  encodeCacheValue,
  FEATURE_COUNT,
  FEATURE_WINDOW,
  FeatureScratch,
  rowOf,
  windowFingerprint,
  windowStart,
} from './features.js';

describe('online features from the window tail', () => {
  const tmp = tempDir('kestrel-signals-features-');
  let bars: Map<string, SymbolBars>;
  beforeAll(async () => {
    await etl(SAMPLE_BARS, tmp.dir);
    const cat = await openCatalog(tmp.dir);
    try {
      bars = await loadAdjustedBars(cat);
    } finally {
      cat.close();
    }
  });
  afterAll(() => tmp.cleanup());

  it(`the last ${FEATURE_WINDOW} bars give the full-history Alpha158 values (1e-9 relative): every row of 3 symbols, every 11th of all 39`, () => {
    expect(bars.size).toBe(39); // the sample's 40 but SCG, whose only traded bar is quarantined (price_level)
    const scratch = new FeatureScratch();
    const out = new Float64Array(FEATURE_COUNT);
    let compared = 0;
    let defined = 0;
    const worst = { rel: 0, where: '' };
    const everyRow = new Set(['AAPL', 'XOM', 'KO']);
    for (const b of bars.values()) {
      const full = alpha158(b);
      const step = everyRow.has(b.symbol) ? 1 : 11;
      for (let row = 0; row < full.rows; row += step) {
        computeFeatureRow(b, row, scratch, out);
        for (let c = 0; c < FEATURE_COUNT; c++) {
          const want = full.values[c * full.rows + row]!;
          const got = out[c]!;
          compared++;
          if (Number.isNaN(want) || Number.isNaN(got)) {
            if (Number.isNaN(want) !== Number.isNaN(got)) throw new Error(`${b.symbol} row ${row} ${ALPHA158_NAMES[c]}: ${got} vs full history ${want}`);
            continue;
          }
          defined++;
          // 1e-9 relative; values below 1e-15 in magnitude are rounding noise around 0
          // (RESIn of a perfectly linear window comes out as ±1e-17 either way).
          const err = Math.abs(got - want);
          const scale = Math.max(Math.abs(want), Math.abs(got));
          if (err > 1e-9 * scale + 1e-15) throw new Error(`${b.symbol} row ${row} ${ALPHA158_NAMES[c]}: ${got} vs full history ${want}`);
          if (scale > 1e-12 && err / scale > worst.rel) Object.assign(worst, { rel: err / scale, where: `${b.symbol} row ${row} ${ALPHA158_NAMES[c]}` });
        }
      }
    }
    expect(compared).toBeGreaterThan((3 * 1200 + 37 * 100) * 158);
    expect(defined / compared).toBeGreaterThan(0.9);
    expect(worst.rel).toBeLessThan(1e-9);
  });

  it('every feature is defined at the end of a long history (the window is long enough for all 158)', () => {
    const b = bars.get('AAPL')!;
    const out = new Float64Array(FEATURE_COUNT);
    computeFeatureRow(b, b.day.length - 1, new FeatureScratch(), out);
    const undefinedCols = ALPHA158_NAMES.filter((_, c) => Number.isNaN(out[c]!));
    expect(undefinedCols).toEqual([]);
  });

  it('rowOf finds dates by binary search and -1 for a date without a bar', () => {
    const b = bars.get('MSFT')!;
    for (const i of [0, 1, 17, b.day.length - 1]) expect(rowOf(b.day, b.day[i]!)).toBe(i);
    expect(rowOf(b.day, b.day[0]! - 1)).toBe(-1);
    expect(rowOf(b.day, b.day[b.day.length - 1]! + 1)).toBe(-1);
    const gap = b.day.findIndex((d, i) => i + 1 < b.day.length && b.day[i + 1]! - d > 1); // a weekend
    expect(rowOf(b.day, b.day[gap]! + 1)).toBe(-1);
    expect(rowOf(new Int32Array(0), 1)).toBe(-1);
  });
});

describe('window fingerprint and the cache value', () => {
  function synthetic(n: number): SymbolBars {
    const b = allocBars('TEST', n, false);
    for (let i = 0; i < n; i++) {
      b.day[i] = 18000 + i;
      b.close[i] = 100 + Math.sin(i / 3) * 5;
      b.open[i] = b.close[i]! - 0.5;
      b.high[i] = b.close[i]! + 1;
      b.low[i] = b.close[i]! - 1;
      b.volume[i] = 1e6 + i * 10;
    }
    return b;
  }

  it('changes when any value inside the window changes, not when a bar before it does', () => {
    const b = synthetic(200);
    const row = 150;
    const fp = windowFingerprint(b, row);
    expect(Number.isSafeInteger(fp)).toBe(true);
    expect(windowFingerprint(b, row)).toBe(fp);
    expect(windowFingerprint(b, row - 1)).not.toBe(fp);
    for (const field of ['open', 'high', 'low', 'close', 'volume'] as const) {
      for (const i of [windowStart(row), row - 10, row]) {
        const c = synthetic(200);
        c[field][i] = c[field][i]! * (1 + 1e-15);
        expect(windowFingerprint(c, row), `${field}[${i}]`).not.toBe(fp);
      }
    }
    const shifted = synthetic(200);
    shifted.day[row - 3] = shifted.day[row - 3]! + 1e-9; // Int32Array: unchanged
    expect(windowFingerprint(shifted, row)).toBe(fp);
    const d = synthetic(200);
    d.day[row - 3] = d.day[row - 3]! - 1;
    expect(windowFingerprint(d, row)).not.toBe(fp);
    const before = synthetic(200);
    before.close[windowStart(row) - 1] = 1;
    expect(windowFingerprint(before, row)).toBe(fp);
  });

  it('round-trips a vector with NaN bit for bit and rejects other fingerprints, lengths and nothing', () => {
    const v = new Float64Array(FEATURE_COUNT).map((_, i) => (i % 7 === 0 ? NaN : i * 0.1 - 3));
    v[3] = -0;
    const buf = encodeCacheValue(v, 123456789);
    expect(buf.byteLength).toBe(CACHE_VALUE_BYTES);
    const out = new Float64Array(FEATURE_COUNT);
    expect(decodeCacheValue(buf, 123456789, out)).toBe(true);
    expect(Buffer.from(out.buffer).equals(Buffer.from(v.buffer))).toBe(true);
    // an unaligned copy (as a socket slice may be) decodes the same
    const unaligned = Buffer.alloc(buf.byteLength + 3).subarray(3);
    buf.copy(unaligned);
    const out2 = new Float64Array(FEATURE_COUNT);
    expect(decodeCacheValue(unaligned, 123456789, out2)).toBe(true);
    expect(Buffer.from(out2.buffer).equals(Buffer.from(v.buffer))).toBe(true);
    expect(decodeCacheValue(buf, 123456788, out)).toBe(false);
    expect(decodeCacheValue(buf.subarray(8), 123456789, out)).toBe(false);
    expect(decodeCacheValue(Buffer.from(new Float64Array(FEATURE_COUNT).buffer), 0, out)).toBe(false);
    expect(decodeCacheValue(null, 123456789, out)).toBe(false);
  });
});
