import { describe, expect, it } from 'vitest';
import { batcher } from './batcher.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('batcher', () => {
  it('collects concurrent items into one batch and answers each in order', async () => {
    const batches: number[][] = [];
    const double = batcher(async (xs: readonly number[]) => {
      batches.push([...xs]);
      return xs.map((x) => x * 2);
    }, { maxBatch: 100, maxInFlight: 1 });
    const out = await Promise.all([1, 2, 3, 4].map(double));
    expect(out).toEqual([2, 4, 6, 8]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  it('runs at most maxInFlight batches; items arriving meanwhile wait and form the next batch', async () => {
    let running = 0;
    let maxRunning = 0;
    const sizes: number[] = [];
    const release: Array<() => void> = [];
    const f = batcher(async (xs: readonly number[]) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      sizes.push(xs.length);
      await new Promise<void>((r) => release.push(r));
      running--;
      return xs;
    }, { maxBatch: 100, maxInFlight: 1 });
    const first = f(0);
    await tick();
    await tick();
    expect(sizes).toEqual([1]);
    const rest = Array.from({ length: 10 }, (_, i) => f(i + 1));
    await tick();
    await tick();
    expect(sizes).toEqual([1]); // still waiting for the first batch
    release.shift()!();
    await first;
    await tick();
    expect(sizes).toEqual([1, 10]);
    release.shift()!();
    expect(await Promise.all(rest)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(maxRunning).toBe(1);
  });

  it('splits at maxBatch', async () => {
    const sizes: number[] = [];
    const f = batcher(async (xs: readonly number[]) => {
      sizes.push(xs.length);
      return xs;
    }, { maxBatch: 3, maxInFlight: 4 });
    await Promise.all(Array.from({ length: 7 }, (_, i) => f(i)));
    expect(sizes).toEqual([3, 3, 1]);
  });

  it('an Error in a slot fails only that item; a thrown error fails the batch and the next batch still runs', async () => {
    let fail = true;
    const f = batcher(async (xs: readonly number[]) => {
      if (fail) {
        fail = false;
        throw new Error('down');
      }
      return xs.map((x) => (x === 2 ? new Error('bad 2') : x));
    }, { maxBatch: 10, maxInFlight: 1 });
    await expect(Promise.all([f(1), f(2)])).rejects.toThrow('down');
    const r = await Promise.allSettled([f(1), f(2), f(3)]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((r[1] as PromiseRejectedResult).reason.message).toBe('bad 2');
  });
});
