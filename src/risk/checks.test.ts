import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dec } from '../core/money.js';
import { OPEN_GATE, type BreakerGate } from './breaker-state.js';
import { checkOrder, sizeOrder, type RiskDecision } from './checks.js';
import { parseRiskConfig } from './config.js';
import { isReducing, priceMark, type PriceMark } from './context.js';
import { staticCorrelations } from './correlation.js';
import { buy, ctxOf, onlyLimits, sell, T0 } from './test-helpers.js';

const code = (d: RiskDecision) => (d.ok ? 'ok' : d.code);
const TRIPPED: BreakerGate = { state: 'TRIPPED', quietMode: 'tight', detail: 'manual' };

describe('each limit at its boundary: exactly at the limit passes, one share over is refused', () => {
  it('max_order_notional (market: last price; limit: the larger of limit and last)', () => {
    const cfg = onlyLimits({ limits: { max_order_notional: '10000' } });
    const ctx = ctxOf({ px: { AAA: '100' } });
    expect(code(checkOrder(buy('AAA', 100), ctx, cfg, OPEN_GATE))).toBe('ok');
    expect(code(checkOrder(buy('AAA', 101), ctx, cfg, OPEN_GATE))).toBe('max_order_notional');
    // A limit buy above the last price is priced at its limit: 80 × 125 = 10 000.
    expect(code(checkOrder(buy('AAA', 80, '125'), ctx, cfg, OPEN_GATE))).toBe('ok');
    expect(code(checkOrder(buy('AAA', 81, '125'), ctx, cfg, OPEN_GATE))).toBe('max_order_notional');
    // A limit below the last price is priced at the last price (it may trade there).
    expect(code(checkOrder(sell('AAA', 101, '90'), ctx, cfg, OPEN_GATE))).toBe('max_order_notional');
    // Reducing orders are bound by it too (fat finger).
    const held = ctxOf({ px: { AAA: '100' }, positions: { AAA: { qty: 500 } } });
    expect(code(checkOrder(sell('AAA', 100), held, cfg, OPEN_GATE))).toBe('ok');
    expect(code(checkOrder(sell('AAA', 101), held, cfg, OPEN_GATE))).toBe('max_order_notional');
  });

  it('max_position_shares counts the position and same-side open orders', () => {
    const cfg = onlyLimits({ limits: { max_position_shares: 500 } });
    const ctx = ctxOf({ positions: { AAA: { qty: 300 } }, openOrders: [{ symbol: 'AAA', side: 'buy', remaining: 100 }, { symbol: 'AAA', side: 'sell', remaining: 50 }] });
    expect(code(checkOrder(buy('AAA', 100), ctx, cfg, OPEN_GATE))).toBe('ok'); // 300 + 100 + 100 = 500
    const r = checkOrder(buy('AAA', 101), ctx, cfg, OPEN_GATE);
    expect(r).toMatchObject({ ok: false, code: 'max_position_shares', limit: '500', value: '501' });
    // Shorts: −300 − 50 − 250 = −600 > 500 in size; −300 − 50 − 150 = −500 passes.
    const short = ctxOf({ positions: { AAA: { qty: -300 } }, openOrders: [{ symbol: 'AAA', side: 'sell', remaining: 50 }] });
    expect(code(checkOrder(sell('AAA', 150), short, cfg, OPEN_GATE))).toBe('ok');
    expect(code(checkOrder(sell('AAA', 151), short, cfg, OPEN_GATE))).toBe('max_position_shares');
  });

  it('max_position_pct: |position| × last ≤ pct × equity', () => {
    const cfg = onlyLimits({ limits: { max_position_pct: 0.1 } });
    const ctx = ctxOf({ px: { AAA: '100' } }); // equity 100 000 → 10 000 → 100 shares
    expect(code(checkOrder(buy('AAA', 100), ctx, cfg, OPEN_GATE))).toBe('ok');
    expect(checkOrder(buy('AAA', 101), ctx, cfg, OPEN_GATE)).toMatchObject({ code: 'max_position_pct', limit: '10000', value: '10100' });
    expect(code(checkOrder(sell('AAA', 101), ctx, cfg, OPEN_GATE))).toBe('max_position_pct'); // short side too
  });

  it('max_gross_exposure_pct: Σ |value| with open orders at their worst', () => {
    const cfg = onlyLimits({ limits: { max_gross_exposure_pct: 1.5 } });
    // gross now: AAA 1000 × 100 + BBB −300 × 100 (short) + open buy 100 CCC × 100 = 140 000.
    const ctx = ctxOf({
      px: { AAA: '100', BBB: '100', CCC: '100' },
      positions: { AAA: { qty: 1000 }, BBB: { qty: -300 } },
      openOrders: [{ symbol: 'CCC', side: 'buy', remaining: 100 }],
    });
    expect(code(checkOrder(buy('AAA', 100), ctx, cfg, OPEN_GATE))).toBe('ok'); // 150 000
    expect(checkOrder(buy('AAA', 101), ctx, cfg, OPEN_GATE)).toMatchObject({ code: 'max_gross_exposure', value: '150100' });
    // Adding to the short raises gross the same way; covering it lowers gross and always passes.
    expect(code(checkOrder(sell('BBB', 100), ctx, cfg, OPEN_GATE))).toBe('ok');
    expect(code(checkOrder(sell('BBB', 101), ctx, cfg, OPEN_GATE))).toBe('max_gross_exposure');
    expect(code(checkOrder(buy('BBB', 300), ctx, cfg, OPEN_GATE))).toBe('ok');
  });

  it('max_net_exposure_pct: |Σ signed value|, worst of the open-order range', () => {
    const cfg = onlyLimits({ limits: { max_net_exposure_pct: 0.5 } });
    const ctx = ctxOf({ px: { AAA: '100', BBB: '50' }, positions: { AAA: { qty: 600 }, BBB: { qty: -400 } } }); // net 60 000 − 20 000 = 40 000
    expect(code(checkOrder(buy('AAA', 100), ctx, cfg, OPEN_GATE))).toBe('ok'); // 50 000
    expect(checkOrder(buy('AAA', 101), ctx, cfg, OPEN_GATE)).toMatchObject({ code: 'max_net_exposure', value: '50100' });
    // Shorting BBB lowers net: allowed however large (within this limit).
    expect(code(checkOrder(sell('BBB', 1000), ctx, cfg, OPEN_GATE))).toBe('ok');
    // Through zero to the short side: 40 000 − 900 × 100 = −50 000 is at the limit, 901 shares over.
    expect(code(checkOrder(sell('AAA', 900), ctx, cfg, OPEN_GATE))).toBe('ok');
    expect(checkOrder(sell('AAA', 901), ctx, cfg, OPEN_GATE)).toMatchObject({ code: 'max_net_exposure', value: '50100' });
  });

  it('price_band_pct on limit orders, both sides of the last price', () => {
    const cfg = onlyLimits({ limits: { price_band_pct: 5 } });
    const ctx = ctxOf({ px: { AAA: '100' } });
    expect(code(checkOrder(buy('AAA', 1, '105'), ctx, cfg, OPEN_GATE))).toBe('ok');
    expect(code(checkOrder(buy('AAA', 1, '105.01'), ctx, cfg, OPEN_GATE))).toBe('price_band');
    expect(code(checkOrder(sell('AAA', 1, '95'), ctx, cfg, OPEN_GATE))).toBe('ok');
    expect(code(checkOrder(sell('AAA', 1, '94.99'), ctx, cfg, OPEN_GATE))).toBe('price_band');
    expect(code(checkOrder(buy('AAA', 1), ctx, cfg, OPEN_GATE))).toBe('ok'); // market orders have no band
  });

  it('buying power: only the part that opens or extends a position costs', () => {
    const cfg = onlyLimits({ limits: { check_buying_power: true } });
    const ctx = ctxOf({ buyingPower: '10000' });
    expect(code(checkOrder(buy('AAA', 100), ctx, cfg, OPEN_GATE))).toBe('ok');
    expect(checkOrder(buy('AAA', 101), ctx, cfg, OPEN_GATE)).toMatchObject({ code: 'buying_power', value: '10100', limit: '10000' });
    // Short 50: a buy of 150 closes 50 and opens 100 → 10 000.
    const short = ctxOf({ buyingPower: '10000', positions: { AAA: { qty: -50 } } });
    expect(code(checkOrder(buy('AAA', 150), short, cfg, OPEN_GATE))).toBe('ok');
    expect(code(checkOrder(buy('AAA', 151), short, cfg, OPEN_GATE))).toBe('buying_power');
  });

  it('restricted symbols: no order either way, reducing or not', () => {
    const cfg = onlyLimits({ limits: { restricted_symbols: ['AAA'] } });
    const ctx = ctxOf({ positions: { AAA: { qty: 10 } } });
    expect(code(checkOrder(buy('AAA', 1), ctx, cfg, OPEN_GATE))).toBe('restricted_symbol');
    expect(code(checkOrder(sell('AAA', 1), ctx, cfg, OPEN_GATE))).toBe('restricted_symbol');
    expect(code(checkOrder(buy('BBB', 1), ctxOf({ px: { BBB: '10' } }), cfg, OPEN_GATE))).toBe('ok');
  });
});

describe('fail closed: a check that cannot decide refuses', () => {
  const cfg = parseRiskConfig({ correlation: { enabled: false } }); // defaults: every limit on

  it('no last price, a stale one, or a non-positive one for the order symbol', () => {
    expect(checkOrder(buy('ZZZ', 1), ctxOf(), cfg, OPEN_GATE)).toMatchObject({ code: 'no_price', reason: expect.stringContaining('ZZZ (none)') });
    const stale = ctxOf({ prices: { AAA: { price: '100', ts: T0 - 5 * 86_400_000 } } });
    expect(checkOrder(buy('AAA', 1), stale, cfg, OPEN_GATE)).toMatchObject({ code: 'no_price', reason: expect.stringContaining('432000 s old') });
    expect(code(checkOrder(buy('AAA', 1), ctxOf({ px: { AAA: '0' } }), cfg, OPEN_GATE))).toBe('no_price');
    // Even a reducing order: the fat-finger checks need the price.
    expect(code(checkOrder(sell('ZZZ', 1), ctxOf({ positions: { ZZZ: { qty: 5 } } }), cfg, OPEN_GATE))).toBe('no_price');
  });

  it('no_price ends with the deployment’s hint; a stored close stands in labelled last_close', () => {
    const hinted = { ...ctxOf(), noPriceHint: 'run `kestrel serve marketdata`' };
    expect(checkOrder(buy('ZZZ', 1), hinted, cfg, OPEN_GATE)).toMatchObject({ code: 'no_price', reason: 'no usable last price for ZZZ (none) — run `kestrel serve marketdata`' });
    const ctx = ctxOf();
    (ctx.prices as Map<string, PriceMark>).set('CLS', priceMark('50', T0 - 60_000, 'last_close'));
    expect(checkOrder(buy('CLS', 1), ctx, cfg, OPEN_GATE)).toEqual({ ok: true, reducing: false, price_source: 'last_close' });
    expect(checkOrder(buy('CLS', 1_000_000), ctx, cfg, OPEN_GATE)).toMatchObject({ ok: false, code: 'max_order_notional', price_source: 'last_close' });
    expect(checkOrder(buy('AAA', 1), ctx, cfg, OPEN_GATE)).toEqual({ ok: true, reducing: false });
  });

  it('a held name without a price: exposure cannot be measured', () => {
    const ctx = ctxOf({ px: { AAA: '100' }, positions: { BBB: { qty: 10 } } });
    expect(checkOrder(buy('AAA', 1), ctx, cfg, OPEN_GATE)).toMatchObject({ code: 'no_price', reason: expect.stringContaining('BBB (none)') });
  });

  it('no equity, no start-of-day equity, no buying power', () => {
    expect(code(checkOrder(buy('AAA', 1), ctxOf({ equity: null }), cfg, OPEN_GATE))).toBe('no_equity');
    expect(code(checkOrder(buy('AAA', 1), ctxOf({ equity: '0' }), cfg, OPEN_GATE))).toBe('no_equity');
    expect(code(checkOrder(buy('AAA', 1), ctxOf({ startOfDayEquity: null }), cfg, OPEN_GATE))).toBe('no_equity');
    expect(code(checkOrder(buy('AAA', 1), ctxOf({ buyingPower: null }), cfg, OPEN_GATE))).toBe('no_buying_power');
    // Reducing orders do not need them.
    const held = ctxOf({ equity: null, startOfDayEquity: null, buyingPower: null, positions: { AAA: { qty: 10 } } });
    expect(code(checkOrder(sell('AAA', 10), held, cfg, OPEN_GATE))).toBe('ok');
  });

  it('no correlations while the cluster limit is enabled', () => {
    const on = parseRiskConfig({});
    expect(code(checkOrder(buy('AAA', 1), ctxOf(), on, OPEN_GATE))).toBe('no_correlations');
    expect(code(checkOrder(buy('AAA', 1), ctxOf({ correlations: staticCorrelations({}) }), on, OPEN_GATE))).toBe('ok');
  });

  it('breaker state unreadable: only reducing orders pass', () => {
    const gate: BreakerGate = { state: 'UNAVAILABLE', quietMode: 'tight', detail: 'ECONNREFUSED' };
    const ctx = ctxOf({ positions: { AAA: { qty: 10 } } });
    expect(code(checkOrder(buy('AAA', 1), ctx, cfg, gate))).toBe('breaker_unavailable');
    expect(code(checkOrder(sell('AAA', 10), ctx, cfg, gate))).toBe('ok');
  });
});

describe('reducing orders and the breaker gate', () => {
  const cfg = onlyLimits();

  it('reducing = toward zero without flipping, counting same-side open orders as filled', () => {
    const ctx = ctxOf({ positions: { AAA: { qty: 100 }, BBB: { qty: -50 } }, openOrders: [{ symbol: 'AAA', side: 'sell', remaining: 30 }] });
    expect(isReducing(ctx, 'AAA', 'sell', dec(70))).toBe(true);
    expect(isReducing(ctx, 'AAA', 'sell', dec(71))).toBe(false); // 100 − 30 − 71 < 0: a flip in the worst case
    expect(isReducing(ctx, 'AAA', 'buy', dec(1))).toBe(false);
    expect(isReducing(ctx, 'BBB', 'buy', dec(50))).toBe(true);
    expect(isReducing(ctx, 'BBB', 'buy', dec(51))).toBe(false);
    expect(isReducing(ctx, 'CCC', 'sell', dec(1))).toBe(false); // opening a short
  });

  it('TRIPPED refuses risk-increasing orders and passes reducing ones', () => {
    const ctx = ctxOf({ px: { AAA: '100', BBB: '100' }, positions: { AAA: { qty: 100 }, BBB: { qty: -50 } } });
    expect(checkOrder(buy('AAA', 1), ctx, cfg, TRIPPED)).toMatchObject({ ok: false, code: 'breaker_tripped', reducing: false });
    expect(code(checkOrder(sell('AAA', 101), ctx, cfg, TRIPPED))).toBe('breaker_tripped'); // flip
    expect(code(checkOrder(sell('BBB', 1), ctx, cfg, TRIPPED))).toBe('breaker_tripped');
    expect(checkOrder(sell('AAA', 100), ctx, cfg, TRIPPED)).toEqual({ ok: true, reducing: true });
    expect(code(checkOrder(buy('BBB', 50), ctx, cfg, TRIPPED))).toBe('ok');
  });

  it('QUIET_PERIOD: tight passes everything, reduce_only only reducing orders', () => {
    const ctx = ctxOf({ positions: { AAA: { qty: 100 } } });
    expect(code(checkOrder(buy('AAA', 1), ctx, cfg, { state: 'QUIET_PERIOD', quietMode: 'tight' }))).toBe('ok');
    expect(code(checkOrder(buy('AAA', 1), ctx, cfg, { state: 'QUIET_PERIOD', quietMode: 'reduce_only' }))).toBe('breaker_quiet_period');
    expect(code(checkOrder(sell('AAA', 1), ctx, cfg, { state: 'QUIET_PERIOD', quietMode: 'reduce_only' }))).toBe('ok');
  });

  it('a limit breached by price moves does not block the order that reduces the breach', () => {
    const tight = onlyLimits({ limits: { max_gross_exposure_pct: 1, max_position_pct: 0.5 } });
    // AAA rallied: 800 × 150 = 120 000 > 100 % of equity and > 50 % position cap.
    const ctx = ctxOf({ px: { AAA: '150' }, positions: { AAA: { qty: 800 } } });
    expect(code(checkOrder(buy('AAA', 1), ctx, tight, OPEN_GATE))).toBe('max_position_pct');
    expect(code(checkOrder(sell('AAA', 100), ctx, tight, OPEN_GATE))).toBe('ok');
    // Selling through zero into a short smaller than the old long lowers gross: allowed by gross,
    // but the resulting −100 × 150 is within 50 % too.
    expect(code(checkOrder(sell('AAA', 900), ctx, tight, OPEN_GATE))).toBe('ok');
  });
});

describe('correlated clusters (hand-made correlation matrix)', () => {
  // AAA~BBB 0.9, AAA~CCC 0.85, BBB~CCC 0.3, AAA~DDD 0.5; threshold 0.8; limit 25 % of 100 000.
  const matrix = staticCorrelations({ AAA: { BBB: 0.9, CCC: 0.85, DDD: 0.5 }, BBB: { CCC: 0.3 } }, '2025-03-03');
  const cfg = (mode: 'reject' | 'resize' = 'resize') => onlyLimits({ correlation: { enabled: true, threshold: 0.8, max_cluster_pct: 0.25, mode } });
  const px = { AAA: '100', BBB: '100', CCC: '100', DDD: '100' };
  const ctx = ctxOf({ px, correlations: matrix, positions: { BBB: { qty: 100 }, CCC: { qty: 50 }, DDD: { qty: 200 } } });
  // Cluster of AAA: AAA + BBB (0.9) + CCC (0.85) = 15 000 now; DDD (0.5) is not in it.

  it('refuses an order that lifts the cluster over the limit, with the names and the reason', () => {
    expect(code(checkOrder(buy('AAA', 100), ctx, cfg(), OPEN_GATE))).toBe('ok'); // 25 000: exactly at the limit
    const r = checkOrder(buy('AAA', 101), ctx, cfg(), OPEN_GATE);
    expect(r).toMatchObject({ ok: false, code: 'correlated_cluster', limit: '25000', value: '25100' });
    if (!r.ok) {
      expect(r.cluster!.map((m) => m.symbol).sort()).toEqual(['AAA', 'BBB', 'CCC']);
      expect(r.reason).toMatch(/cluster AAA, BBB \(0\.90\), CCC \(0\.85\).*≥ 0\.8 as of 2025-03-03.*25\.10% of equity, over the limit of 25%/);
    }
  });

  it('a star around the order symbol, not a chain: BBB and CCC are not clustered with each other', () => {
    // BBB's cluster: BBB + AAA (none held) — CCC is 0.3 to BBB, so only BBB's own 10 000 counts.
    expect(code(checkOrder(buy('BBB', 150), ctx, cfg(), OPEN_GATE))).toBe('ok'); // 25 000
    expect(code(checkOrder(buy('BBB', 151), ctx, cfg(), OPEN_GATE))).toBe('correlated_cluster');
  });

  it('shorts in correlated names offset longs; orders that shrink the cluster pass', () => {
    const hedged = ctxOf({ px, correlations: matrix, positions: { BBB: { qty: 300 }, CCC: { qty: -200 } } }); // +10 000 net
    expect(code(checkOrder(buy('AAA', 150), hedged, cfg(), OPEN_GATE))).toBe('ok');
    expect(code(checkOrder(buy('AAA', 151), hedged, cfg(), OPEN_GATE))).toBe('correlated_cluster');
    const over = ctxOf({ px, correlations: matrix, positions: { BBB: { qty: 400 } } }); // 40 000 > 25 000 already
    expect(code(checkOrder(sell('AAA', 100), over, cfg(), OPEN_GATE))).toBe('ok'); // shorting a correlated name reduces it
  });

  it('resize mode: sizeOrder gives the largest quantity inside the limit; reject mode gives 0', () => {
    expect(sizeOrder(buy('AAA', 500), ctx, cfg('resize'), OPEN_GATE)).toMatchObject({ resized: true, limitedBy: { code: 'correlated_cluster' } });
    expect(sizeOrder(buy('AAA', 500), ctx, cfg('resize'), OPEN_GATE).qty.toFixed()).toBe('100');
    expect(sizeOrder(buy('AAA', 500), ctx, cfg('reject'), OPEN_GATE).qty.toFixed()).toBe('0');
    expect(sizeOrder(buy('AAA', 80), ctx, cfg('reject'), OPEN_GATE)).toMatchObject({ resized: false, limitedBy: null });
  });
});

describe('sizeOrder', () => {
  it('finds the exact boundary of every size-dependent limit (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          held: fc.integer({ min: -2000, max: 2000 }),
          other: fc.integer({ min: -2000, max: 2000 }),
          price: fc.integer({ min: 1, max: 500 }),
          want: fc.integer({ min: 1, max: 5000 }),
          side: fc.constantFrom('buy' as const, 'sell' as const),
          notional: fc.integer({ min: 1000, max: 200_000 }),
          shares: fc.integer({ min: 10, max: 5000 }),
          pos: fc.integer({ min: 1, max: 99 }),
          gross: fc.integer({ min: 10, max: 300 }),
          net: fc.integer({ min: 10, max: 300 }),
        }),
        (p) => {
          const cfg = onlyLimits({ limits: { max_order_notional: String(p.notional), max_position_shares: p.shares, max_position_pct: p.pos / 100, max_gross_exposure_pct: p.gross / 100, max_net_exposure_pct: p.net / 100, check_buying_power: true } });
          const ctx = ctxOf({ px: { AAA: String(p.price), BBB: '50' }, positions: { AAA: { qty: p.held }, BBB: { qty: p.other } }, buyingPower: '150000' });
          const order = { symbol: 'AAA', side: p.side, qty: String(p.want), order_type: 'market' as const, limit_price: null };
          const r = sizeOrder(order, ctx, cfg, OPEN_GATE);
          if (r.qty.gt(0)) expect(checkOrder({ ...order, qty: r.qty.toFixed() }, ctx, cfg, OPEN_GATE).ok).toBe(true);
          if (r.qty.lt(p.want)) expect(checkOrder({ ...order, qty: r.qty.plus(1).toFixed() }, ctx, cfg, OPEN_GATE).ok).toBe(false);
          // Every smaller quantity passes too (the accepted set is [0, q_max]).
          for (const q of [1, Math.floor(r.qty.toNumber() / 2)]) if (q >= 1 && q <= r.qty.toNumber()) expect(checkOrder({ ...order, qty: String(q) }, ctx, cfg, OPEN_GATE).ok).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('size-independent refusals give 0 without searching', () => {
    const cfg = onlyLimits({ limits: { restricted_symbols: ['AAA'] } });
    expect(sizeOrder(buy('AAA', 10), ctxOf(), cfg, OPEN_GATE)).toMatchObject({ resized: true, limitedBy: { code: 'restricted_symbol' } });
    expect(sizeOrder(buy('AAA', 10), ctxOf(), onlyLimits(), TRIPPED).qty.toFixed()).toBe('0');
  });
});

describe('fast exposure decisions agree with exact Decimal arithmetic, at the boundary too', () => {
  /** Reference: the portfolio limits computed from scratch in Decimal. */
  function reference(ctx: ReturnType<typeof ctxOf>, symbol: string, side: 'buy' | 'sell', qty: number) {
    const sum = (apply: boolean) => {
      let gross = dec(0);
      let hi = dec(0);
      let lo = dec(0);
      const syms = new Set([...ctx.positions.keys(), ...ctx.pending.keys(), ...(apply ? [symbol] : [])]);
      for (const s of syms) {
        const q = ctx.positions.get(s)?.qty ?? dec(0);
        let b = ctx.pending.get(s)?.buy ?? dec(0);
        let sl = ctx.pending.get(s)?.sell ?? dec(0);
        if (apply && s === symbol) {
          if (side === 'buy') b = b.plus(qty);
          else sl = sl.plus(qty);
        }
        const p = ctx.prices.get(s)!.price;
        const h = q.plus(b).times(p);
        const l = q.minus(sl).times(p);
        gross = gross.plus(h.abs().gt(l.abs()) ? h.abs() : l.abs());
        hi = hi.plus(h);
        lo = lo.plus(l);
      }
      return { gross, net: hi.abs().gt(lo.abs()) ? hi.abs() : lo.abs() };
    };
    return { before: sum(false), after: sum(true) };
  }

  const priceArb = fc.tuple(fc.integer({ min: 1, max: 50_000 }), fc.integer({ min: 0, max: 4 })).map(([n, dp]) => dec(n).div(10 ** dp).toFixed());
  const book = fc.record({
    names: fc.array(fc.tuple(priceArb, fc.integer({ min: -3000, max: 3000 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 })), { minLength: 1, maxLength: 25 }),
    pick: fc.nat(),
    side: fc.constantFrom('buy' as const, 'sell' as const),
    qty: fc.integer({ min: 1, max: 2000 }),
    nudge: fc.constantFrom(0, 0, 0, 0.0001, -0.0001, 0.01, -0.01, 1, -1),
  });

  it('gross and net: same decision as the exact reference, with the limit set at, just above and just below the value', () => {
    fc.assert(
      fc.property(book, (b) => {
        const px: Record<string, string> = {};
        const positions: Record<string, { qty: number }> = {};
        const openOrders: Array<{ symbol: string; side: 'buy' | 'sell'; remaining: number }> = [];
        b.names.forEach(([p, q, buys, sells], i) => {
          const s = `S${i}`;
          px[s] = p;
          if (q) positions[s] = { qty: q };
          if (buys) openOrders.push({ symbol: s, side: 'buy', remaining: buys });
          if (sells) openOrders.push({ symbol: s, side: 'sell', remaining: sells });
        });
        const symbol = `S${b.pick % b.names.length}`;
        const ctx = ctxOf({ px, positions, openOrders, equity: '100' });
        const ref = reference(ctx, symbol, b.side, b.qty);
        for (const kind of ['gross', 'net'] as const) {
          // equity 100 → the limit as a fraction is the cap in money / 100: put it on the boundary.
          const pct = (Number(ref.after[kind].toFixed(4)) + b.nudge) / 100;
          fc.pre(pct > 0);
          const base = onlyLimits();
          const cfg = { ...base, limits: { ...base.limits, [kind === 'gross' ? 'max_gross_exposure_pct' : 'max_net_exposure_pct']: pct } };
          const cap = dec(100).times(pct);
          // Reducing orders skip the portfolio limits by design (docs/concepts/risk.md).
          const refuse = !isReducing(ctx, symbol, b.side, dec(b.qty)) && ref.after[kind].gt(cap) && ref.after[kind].gt(ref.before[kind]);
          const d = checkOrder({ symbol, side: b.side, qty: String(b.qty), order_type: 'market', limit_price: null }, ctx, cfg, OPEN_GATE);
          expect(d.ok ? 'ok' : d.code).toBe(refuse ? (kind === 'gross' ? 'max_gross_exposure' : 'max_net_exposure') : 'ok');
          if (!d.ok) expect(d.value).toBe(ref.after[kind].toFixed());
        }
      }),
      { numRuns: 1500 },
    );
  });
});
