import type { PaperReport } from '../backtest/paper-run.js';
import { money } from '../core/money.js';
import { paint } from './style.js';
import { formatTable } from './table.js';

/** The paper-run report on one screen: P&L, equity by day, positions, runs. */
export function renderPaperReport(r: PaperReport, color: boolean): string {
  const c = paint(color);
  const signed = (v: string) => {
    const s = money(v);
    return s.startsWith('-') ? c.red(s) : c.green(`+${s}`);
  };
  // Cents for people; the exact difference stays in the JSON report.
  const cents = (v: string) => money(v).replace(/^-(0\.00)$/, '$1');
  const ok = cents(r.reconciliation_difference) === '0.00';
  const lines = [
    `${c.bold('Paper run')} ${r.strategy_id}  ${r.from} → ${r.to} (${r.days} trading days), model ${r.model ?? '-'}  ${c.dim(r.generated_at)}`,
    `  equity  ${money(r.equity_start)} → ${money(r.equity_end)}   total P&L ${signed(r.total_pnl)}  (realized ${signed(r.realized_pnl)}, unrealized ${signed(r.unrealized_pnl)})`,
    `  books   ${ok ? c.green('✓') : c.red('✗')} total P&L = equity change to the cent (difference ${cents(r.reconciliation_difference)}); our cash ledger vs the broker's: ${cents(r.broker_cash_difference)}`,
    '',
    formatTable(
      r.daily.map((d) => ({ date: d.date, signals: d.signal_date, run: `${d.run_id} ${d.run_status}`, orders: d.orders, fills: d.fills, equity: money(d.equity), total_pnl: money(d.total_pnl) })),
      color,
      60,
    ),
    '',
    c.bold(`  open positions (${r.positions.length})`),
    formatTable(
      r.positions.map((p) => ({ symbol: p.symbol, qty: Number(p.qty), avg_entry: money(p.avg_entry_price, 4), mark: p.mark, unrealized: money(p.unrealized_pnl), realized: money(p.realized_pnl) })),
      color,
      40,
    ),
    c.dim(`  ${r.orders.length} orders, ${r.runs.length} runs; timings ${Object.entries(r.timings_ms).map(([k, v]) => `${k}=${v}ms`).join(' ')}; every timestamp is UTC`),
  ];
  return lines.join('\n');
}
