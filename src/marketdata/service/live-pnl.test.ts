import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../core/clock.js';
import type { Db } from '../../db/db.js';
import { migrate } from '../../db/migrate.js';
import { openPglite } from '../../db/pglite.js';
import type { Mark, PnlSnapshot } from '../../pnl/portfolio.js';
import { waitFor } from '../../bus/test-helpers.js';
import { LivePnl } from './live-pnl.js';
import { seedPositions } from './test-helpers.js';

describe('LivePnl', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openPglite(null);
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it('computes hand-checked numbers from the positions table and the marks', async () => {
    await seedPositions(db, [
      ['AAPL', '10', '150.00', '5.5'],
      ['TSLA', '-5', '200', '0'],
      ['MSFT', '0', '0', '-12.25'], // closed: realized only, needs no mark
      ['NVDA', '2', '100', '0'], // no mark yet: valued at entry, listed missing
    ]);
    const clock = fixedClock('2026-11-25T14:31:00.000Z');
    const marks = new Map<string, Mark>([
      ['AAPL', { price: '155.25', ts: '2026-11-25T14:30:59.000Z' }],
      ['TSLA', { price: '210.10', ts: '2026-11-25T14:29:00.000Z' }], // 2 min old: stale at 60 s
    ]);
    const live = new LivePnl({ db, marks: { get: (s) => marks.get(s) }, clock, cash: '1000', staleAfterMs: 60_000 });
    const s = await live.reload();
    // AAPL: (155.25 − 150) × 10 = 52.5 unrealized, value 1552.5
    // TSLA: (210.10 − 200) × −5 = −50.5 unrealized, value −1050.5
    // NVDA: no mark → 0 unrealized, value 200; MSFT: realized −12.25
    // market value 1552.5 − 1050.5 + 200 = 702; equity 1702; unrealized 2; realized −6.75; total −4.75
    expect(Number(s.market_value)).toBe(702);
    expect(s.market_value).toMatch(/^702(\.0+)?$/);
    expect(Number(s.equity)).toBe(1702);
    expect(Number(s.unrealized_pnl)).toBe(2);
    expect(Number(s.realized_pnl)).toBe(-6.75);
    expect(Number(s.total_pnl)).toBe(-4.75);
    expect(s.timezone).toBe('UTC');
    expect(s.as_of).toBe('2026-11-25T14:31:00.000Z');
    expect(s.stale_marks).toEqual(['TSLA']);
    expect(s.missing_marks).toEqual(['NVDA']);
    const aapl = s.positions.find((p) => p.symbol === 'AAPL')!;
    expect([aapl.unrealized_pnl, aapl.market_value, aapl.total_pnl].map(Number)).toEqual([52.5, 1552.5, 58]);
    expect(live.openSymbols().sort()).toEqual(['AAPL', 'NVDA', 'TSLA']);
    live.close();
  });

  it('coalesces: a burst of price updates is one computation that includes all of them; snapshot() is never behind', async () => {
    await seedPositions(db, [['AAPL', '1', '100', '0']]);
    let price = 100;
    const live = new LivePnl({ db, marks: { get: () => ({ price: String(price), ts: new Date().toISOString() }) }, throttleMs: 60_000 });
    await live.reload();
    const computed: PnlSnapshot[] = [];
    live.onCompute((s) => void computed.push(s));
    for (let i = 0; i < 50; i++) {
      price = 101 + i;
      live.onPrice('AAPL');
    }
    live.onPrice('ZZZZ'); // not held: ignored
    expect(computed).toHaveLength(0); // not yet: the burst is still running
    await Promise.resolve(); // the microtask after the burst
    expect(computed).toHaveLength(1);
    expect(Number(computed[0]!.unrealized_pnl)).toBe(50); // the last price (150) − 100
    // settle() (the service calls it at the end of every feed frame) computes at once…
    price = 160;
    live.onPrice('AAPL');
    live.settle();
    expect(computed).toHaveLength(2);
    expect(Number(computed[1]!.unrealized_pnl)).toBe(60);
    await Promise.resolve();
    expect(computed).toHaveLength(2); // …and the pending microtask finds nothing left to do
    live.settle();
    expect(computed).toHaveLength(2);
    // a read in the middle of a burst sees every update so far
    price = 170;
    live.onPrice('AAPL');
    expect(Number(live.snapshot().unrealized_pnl)).toBe(70);
    live.onPrice('ZZZZ');
    await Promise.resolve();
    expect(computed).toHaveLength(3);
    live.close();
  });

  it('throttles notifications, not computations: one immediate and one trailing notification with the newest snapshot', async () => {
    await seedPositions(db, [['AAPL', '1', '100', '0']]);
    let price = 100;
    const live = new LivePnl({ db, marks: { get: () => ({ price: String(price), ts: new Date().toISOString() }) }, throttleMs: 100 });
    await live.reload();
    const seen: PnlSnapshot[] = [];
    live.subscribe((s) => void seen.push(s));
    await new Promise((r) => setTimeout(r, 120));
    const computations = live.computations;
    for (let i = 0; i < 5; i++) {
      price = 101 + i;
      live.onPrice('AAPL');
      live.settle(); // five frames
    }
    expect(live.computations).toBe(computations + 5);
    expect(seen).toHaveLength(1); // leading edge: the first frame's snapshot
    expect(Number(seen[0]!.unrealized_pnl)).toBe(1);
    await waitFor(() => seen.length === 2, 2000, 'trailing notification');
    expect(Number(seen[1]!.unrealized_pnl)).toBe(5); // the newest (105 − 100)
    await new Promise((r) => setTimeout(r, 150));
    expect(seen).toHaveLength(2);
    expect(live.notifications).toBe(2);
    live.close();
  });
});
