import { reasonList, type PaperReport } from '../backtest/paper-run.js';
import { averagePrice, cents, priceAtTick } from '../core/money.js';
import { paint } from './style.js';
import { formatTable } from './table.js';

/**
 * The paper-run report on one screen: P&L, the books check, risk refusals, equity by day,
 * positions. Figures arrive rounded at the edge (the report); cents() again is a no-op then,
 * and keeps this safe for a report written before that rule.
 */
export function renderPaperReport(r: PaperReport, color: boolean): string {
  const c = paint(color);
  const signed = (v: string) => {
    const s = cents(v);
    return s.startsWith('-') ? c.red(s) : c.green(`+${s}`);
  };
  const ok = r.reconciled ?? (r.reconciliation_difference === '0.00' && r.broker_cash_difference === '0.00');
  const ref = r.refusals;
  const lines = [
    `${c.bold('Paper run')} ${r.strategy_id}  ${r.from} → ${r.to} (${r.days} trading days), model ${r.model ?? '-'}  ${c.dim(r.generated_at)}`,
    `  equity  ${cents(r.equity_start)} → ${cents(r.equity_end)}   total P&L ${signed(r.total_pnl)}  (realized ${signed(r.realized_pnl)}, unrealized ${signed(r.unrealized_pnl)})`,
    `  books   ${ok ? c.green('✓') : c.red('✗')} total P&L = equity change, checked exactly (difference ${r.reconciliation_difference}); our cash ledger vs the broker's: ${r.broker_cash_difference}`,
  ];
  if (ref) {
    const partial = ref.days_partial + ref.days_failed;
    lines.push(
      ref.orders === 0
        ? `  risk    ${c.green('✓')} no order refused${partial ? `; ${partial} days not completed` : ''}`
        : `  risk    ${c.yellow('!')} ${ref.orders} orders refused on ${ref.days} of ${r.days} days: ${reasonList(ref.by_reason)}; ${ref.days_partial} days partial${ref.days_failed ? `, ${ref.days_failed} failed` : ''}`,
    );
    if (Object.keys(ref.limited_to_zero).length) lines.push(c.dim(`          cut to zero by sizing before submission: ${reasonList(ref.limited_to_zero)}`));
  }
  for (const w of r.warnings ?? []) lines.push(c.yellow(`  warning ${w}`));
  lines.push(
    '',
    formatTable(
      r.daily.map((d) => ({ date: d.date, signals: d.signal_date, run: `${d.run_id} ${d.run_status}`, orders: d.orders, fills: d.fills, refused: d.refused ?? 0, equity: cents(d.equity), total_pnl: cents(d.total_pnl) })),
      color,
      60,
    ),
    '',
    c.bold(`  open positions (${r.positions.length})`),
    formatTable(
      r.positions.map((p) => ({ symbol: p.symbol, qty: p.qty, avg_entry: averagePrice(p.avg_entry_price), mark: p.mark === null ? '-' : priceAtTick(p.mark), unrealized: cents(p.unrealized_pnl), realized: cents(p.realized_pnl) })),
      color,
      40,
    ),
    c.dim(`  ${r.orders.length} orders, ${r.runs.length} runs; timings ${Object.entries(r.timings_ms).map(([k, v]) => `${k}=${v}ms`).join(' ')}; money in cents, prices at their tick; every timestamp is UTC`),
  );
  return lines.join('\n');
}
