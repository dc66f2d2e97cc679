/**
 * P&L bench: computePnl over N positions with marks (exact decimals).
 * Targets (issue #5): 100 positions < 1 ms, 10,000 < 20 ms.
 * Baseline in the same run: the same sums in float64 (what an inexact ledger would cost).
 * Run: npx tsx bench/pnl/portfolio.ts
 */
import { computePnl, type Mark } from '../../src/pnl/portfolio.js';

function book(n: number) {
  const positions = Array.from({ length: n }, (_, i) => ({
    symbol: `S${i}`,
    qty: String(((i * 7919) % 2000) - 1000 || 5),
    avg_entry_price: (20 + ((i * 104729) % 50000) / 100).toFixed(6),
    realized_pnl: (((i * 31) % 10000) / 100 - 50).toFixed(2),
  }));
  const marks = new Map<string, Mark>(positions.map((p, i) => [p.symbol, { price: (20 + ((i * 130363) % 50000) / 100).toFixed(4), ts: '2025-01-17T20:59:00.000Z' }]));
  return { positions, marks };
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const now = new Date('2025-01-17T21:00:00Z');
for (const n of [100, 10_000]) {
  const { positions, marks } = book(n);
  const reps = n === 100 ? 2000 : 100;
  const lookup = (s: string) => marks.get(s);
  for (let i = 0; i < 20; i++) computePnl(positions, lookup, { now, cash: '1000000' }); // warm-up
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    computePnl(positions, lookup, { now, cash: '1000000' });
    t.push(performance.now() - t0);
  }
  const f: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    let u = 0;
    let mv = 0;
    for (const p of positions) {
      const q = Number(p.qty);
      const m = Number(marks.get(p.symbol)!.price);
      u += (m - Number(p.avg_entry_price)) * q;
      mv += q * m;
    }
    if (u === mv && u === 0.5) console.log('');
    f.push(performance.now() - t0);
  }
  const target = n === 100 ? 1 : 20;
  const p50 = pct(t, 0.5);
  const p99 = pct(t, 0.99);
  console.log(
    `positions=${n}: decimal p50 ${p50.toFixed(3)} ms p99 ${p99.toFixed(3)} ms (target < ${target} ms: ${p50 < target ? 'PASS' : 'FAIL'}); float64 baseline p50 ${pct(f, 0.5).toFixed(3)} ms; ratio ${(p50 / pct(f, 0.5)).toFixed(1)}x`,
  );
}
