import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { ALPHA158_NAMES, alpha158, type BarsInput } from './alpha158.js';
import { computeAlpha158 } from './compute.js';

function walk(symbol: string, n: number, seed: number): BarsInput {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const close = new Float64Array(n);
  let p = 50 + seed;
  for (let i = 0; i < n; i++) close[i] = p = Math.round(p * (1 + (rnd() - 0.5) * 0.04) * 100) / 100;
  return {
    symbol,
    day: Int32Array.from({ length: n }, (_, i) => 17000 + i),
    open: close.map((c) => c * 0.995),
    high: close.map((c) => c * 1.01),
    low: close.map((c) => c * 0.985),
    close,
    volume: close.map(() => Math.round(1e5 * (1 + rnd()))),
  };
}

const SERIES = [walk('AAA', 300, 1), walk('BBB', 70, 2), walk('CCC', 5, 3), walk('DDD', 250, 4), walk('EEE', 0, 5)];

describe('computeAlpha158', () => {
  it('threads: 1 equals alpha158 per symbol, in input order', async () => {
    const res = await computeAlpha158(SERIES, { threads: 1 });
    expect(res.map((m) => m.symbol)).toEqual(['AAA', 'BBB', 'CCC', 'DDD', 'EEE']);
    res.forEach((m, s) => {
      const want = alpha158(SERIES[s]!);
      expect(m.rows).toBe(SERIES[s]!.close.length);
      expect(m.names).toBe(ALPHA158_NAMES);
      expect([...m.day]).toEqual([...SERIES[s]!.day]);
      expect(Buffer.from(m.values.buffer, m.values.byteOffset, m.values.byteLength).equals(Buffer.from(want.values.buffer))).toBe(true);
      expect([...m.label]).toEqual([...want.label]);
    });
  });
  it('threads: 2 (worker threads) gives bit-identical results and leaves the inputs intact', async () => {
    const one = await computeAlpha158(SERIES, { threads: 1 });
    const two = await computeAlpha158(SERIES, { threads: 2 });
    expect(two.map((m) => m.symbol)).toEqual(one.map((m) => m.symbol));
    two.forEach((m, s) => {
      expect(m.rows).toBe(one[s]!.rows);
      expect(Buffer.from(m.values.buffer, m.values.byteOffset, m.values.byteLength).equals(Buffer.from(one[s]!.values.buffer, one[s]!.values.byteOffset, one[s]!.values.byteLength))).toBe(true);
      expect([...m.label]).toEqual([...one[s]!.label]);
    });
    expect(SERIES[0]!.close.length).toBe(300); // not detached by the transfer
  });
  it('more threads than symbols, and no symbols at all', async () => {
    expect((await computeAlpha158(SERIES.slice(0, 1), { threads: 4 })).length).toBe(1);
    expect(await computeAlpha158([], { threads: 2 })).toEqual([]);
  });
  it('rejects bad input before starting workers', async () => {
    await expect(computeAlpha158([{ ...SERIES[0]!, low: new Float64Array(3) }], { threads: 2 })).rejects.toThrow(InputError);
    await expect(computeAlpha158(SERIES, { threads: 0 })).rejects.toThrow(InputError);
  });
});
