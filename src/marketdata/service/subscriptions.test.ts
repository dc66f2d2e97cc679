import { describe, expect, it } from 'vitest';
import { migrate } from '../../db/migrate.js';
import { openPglite } from '../../db/pglite.js';
import { openPositionSymbols, SubscriptionManager } from './subscriptions.js';
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
