import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../core/clock.js';
import type { Queryable } from '../../db/db.js';
import { migrate } from '../../db/migrate.js';
import { openPglite } from '../../db/pglite.js';
import { openPositionSymbols, SubscriptionManager, todaysSignalSymbols } from './subscriptions.js';
import { seedPositions } from './test-helpers.js';
import type { SubscriptionTarget } from './types.js';

class RecordingTarget implements SubscriptionTarget {
  readonly calls: Array<['sub' | 'unsub', string[]]> = [];
  readonly live = new Set<string>();
  subscribe(symbols: string[]): void {
    this.calls.push(['sub', symbols]);
    for (const s of symbols) this.live.add(s);
  }
  unsubscribe(symbols: string[]): void {
    this.calls.push(['unsub', symbols]);
    for (const s of symbols) this.live.delete(s);
  }
}

describe('SubscriptionManager', () => {
  it('subscribes to open positions ∪ signals, diffs on refresh, drops closed positions', async () => {
    const db = await openPglite(null);
    try {
      await migrate(db);
      await seedPositions(db, [
        ['AAPL', '10', '150', '0'],
        ['TSLA', '-3', '200', '0'],
        ['MSFT', '0', '0', '4'], // closed
      ]);
      let signals = ['NVDA', 'AAPL'];
      const target = new RecordingTarget();
      const mgr = new SubscriptionManager({ target, positionSymbols: () => openPositionSymbols(db), signalSymbols: () => signals });

      expect(await mgr.refresh()).toEqual({ added: ['AAPL', 'NVDA', 'TSLA'], removed: [] });
      expect(target.calls).toEqual([['sub', ['AAPL', 'NVDA', 'TSLA']]]);

      // nothing changed: no calls
      expect(await mgr.refresh()).toEqual({ added: [], removed: [] });
      expect(target.calls).toHaveLength(1);

      // TSLA closed, AAPL dropped from signals but still held, new signal AMD, NVDA gone
      await db.query("UPDATE positions SET qty = 0 WHERE symbol = 'TSLA'");
      signals = ['AMD'];
      expect(await mgr.refresh()).toEqual({ added: ['AMD'], removed: ['NVDA', 'TSLA'] });
      expect(target.calls.slice(1)).toEqual([
        ['unsub', ['NVDA', 'TSLA']],
        ['sub', ['AMD']],
      ]);
      expect(mgr.subscribed()).toEqual(['AAPL', 'AMD']);
      expect([...target.live].sort()).toEqual(mgr.subscribed());
    } finally {
      await db.close();
    }
  });

  it('serialises concurrent refreshes so the target never gets a symbol twice', async () => {
    const target = new RecordingTarget();
    let n = 0;
    const mgr = new SubscriptionManager({
      target,
      positionSymbols: async () => {
        await new Promise((r) => setTimeout(r, 5));
        return n++ === 0 ? ['A'] : ['A', 'B'];
      },
      signalSymbols: () => [],
    });
    await Promise.all([mgr.refresh(), mgr.refresh(), mgr.refresh()]);
    expect(target.calls).toEqual([
      ['sub', ['A']],
      ['sub', ['B']],
    ]);
  });
});

/** One orchestrator run with its plan: [symbol, target_weight | null] per row. */
async function seedRun(db: Queryable, run: { strategy: string; asOf: string; tradeDate: string; dryRun?: boolean }, plan: Array<[string, string | null]>): Promise<void> {
  const r = await db.query<{ id: number }>(
    `INSERT INTO orchestration_runs (strategy_id, as_of_date, trade_date, status, trigger, dry_run, capital, max_position_pct, top_n, bottom_n, created_at, updated_at)
     VALUES ($1, $2::date, $3::date, 'completed', 'event', $4, 1000000, 0.1, 2, 2, now(), now()) RETURNING id`,
    [run.strategy, run.asOf, run.tradeDate, run.dryRun ?? false],
  );
  let seq = 0;
  for (const [symbol, weight] of plan) {
    await db.query(
      `INSERT INTO orchestration_orders (run_id, seq, symbol, leg, target_weight, current_qty, order_status, updated_at) VALUES ($1, $2, $3, 'rebalance', $4::numeric, 0, 'unchanged', now())`,
      [r.rows[0]!.id, ++seq, symbol, weight],
    );
  }
}

describe('todaysSignalSymbols', () => {
  it("is the non-zero picks of today's real runs (New York date); yesterday's and dry runs are not", async () => {
    const db = await openPglite(null);
    try {
      await migrate(db);
      // Thursday's signals traded on Friday 2026-11-20; Friday's (after the close) are scheduled for Monday.
      await seedRun(db, { strategy: 'a', asOf: '2026-11-18', tradeDate: '2026-11-19' }, [['OLD', '0.5']]);
      await seedRun(db, { strategy: 'a', asOf: '2026-11-19', tradeDate: '2026-11-20' }, [
        ['LONG', '0.5'],
        ['SHORT', '-0.5'],
        ['HELD', null], // a held symbol outside the signals: the positions cover it
        ['ZERO', '0'],
      ]);
      await seedRun(db, { strategy: 'b', asOf: '2026-11-19', tradeDate: '2026-11-20' }, [['LONG', '0.25'], ['OTHER', '0.75']]);
      await seedRun(db, { strategy: 'a', asOf: '2026-11-19', tradeDate: '2026-11-20', dryRun: true }, [['DRY', '1']]);
      await seedRun(db, { strategy: 'a', asOf: '2026-11-20', tradeDate: '2026-11-23' }, [['NEXT', '1']]);

      // 2026-11-21T01:00Z is still Friday evening in New York.
      expect(await todaysSignalSymbols(db, new Date('2026-11-21T01:00:00.000Z'))).toEqual(['LONG', 'OTHER', 'SHORT']);
      expect(await todaysSignalSymbols(db, new Date('2026-11-20T14:00:00.000Z'))).toEqual(['LONG', 'OTHER', 'SHORT']);
      expect(await todaysSignalSymbols(db, new Date('2026-11-19T15:00:00.000Z'))).toEqual(['OLD']);
      expect(await todaysSignalSymbols(db, new Date('2026-11-21T15:00:00.000Z'))).toEqual([]); // Saturday
      expect(await todaysSignalSymbols(db, new Date('2026-11-23T15:00:00.000Z'))).toEqual(['NEXT']);
    } finally {
      await db.close();
    }
  });

  it('drives the subscriptions with the positions: picks expire at the New York day change, closed positions drop', async () => {
    const db = await openPglite(null);
    try {
      await migrate(db);
      await seedPositions(db, [
        ['AAPL', '10', '150', '0'],
        ['LONG', '5', '20', '0'], // held and picked: subscribed once
      ]);
      await seedRun(db, { strategy: 'a', asOf: '2026-11-19', tradeDate: '2026-11-20' }, [['LONG', '0.5'], ['SHORT', '-0.5']]);
      const clock = fixedClock('2026-11-20T15:00:00.000Z');
      const target = new RecordingTarget();
      const mgr = new SubscriptionManager({ target, positionSymbols: () => openPositionSymbols(db), signalSymbols: () => todaysSignalSymbols(db, clock.now()) });

      expect(await mgr.refresh()).toEqual({ added: ['AAPL', 'LONG', 'SHORT'], removed: [] });
      // a fill opens NVDA: the next refresh picks it up
      await seedPositions(db, [
        ['AAPL', '10', '150', '0'],
        ['LONG', '5', '20', '0'],
        ['NVDA', '1', '100', '0'],
      ]);
      expect(await mgr.refresh()).toEqual({ added: ['NVDA'], removed: [] });
      // still Friday in New York at 04:59Z Saturday
      clock.set('2026-11-21T04:59:00.000Z');
      expect(await mgr.refresh()).toEqual({ added: [], removed: [] });
      // Saturday: Friday's picks expire; LONG stays while held
      clock.set('2026-11-21T05:00:00.000Z');
      expect(await mgr.refresh()).toEqual({ added: [], removed: ['SHORT'] });
      await db.query("UPDATE positions SET qty = 0 WHERE symbol = 'LONG'");
      expect(await mgr.refresh()).toEqual({ added: [], removed: ['LONG'] });
      expect(mgr.subscribed()).toEqual(['AAPL', 'NVDA']);
      expect([...target.live].sort()).toEqual(['AAPL', 'NVDA']);
    } finally {
      await db.close();
    }
  });
});
