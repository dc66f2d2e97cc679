import { describe, expect, it } from 'vitest';
import { ROUNDING_RULE, type PaperReport } from '../backtest/paper-run.js';
import { renderPaperReport } from './render-paper.js';

const day = { signal_date: '2019-12-11', run_id: 1, orders: 10, fills: 8, cash: '972991.28', market_value: '26414.92', realized_pnl: '0.00', unrealized_pnl: '-593.80' };
const report: PaperReport = {
  timezone: 'UTC',
  generated_at: '2026-12-07T22:00:36.775Z',
  strategy_id: 'paper',
  model: 'alpha158-gbdt v1',
  from: '2019-12-12',
  to: '2019-12-13',
  days: 2,
  capital: '1000000.00',
  equity_start: '1000000.00',
  equity_end: '999057.74',
  realized_pnl: '-300.00',
  unrealized_pnl: '-642.26',
  total_pnl: '-942.26',
  reconciled: true,
  reconciliation_difference: '0.00',
  broker_cash_difference: '0.00',
  rounding: ROUNDING_RULE,
  warnings: ['--top-n 10 + --bottom-n 10 positions … over the risk limit max_gross_exposure_pct 1.5 (150%)'],
  refusals: { orders: 3, by_reason: { max_gross_exposure: 2, correlated_cluster: 1 }, days: 1, days_partial: 1, days_failed: 0, limited_to_zero: { max_position_pct: 4 } },
  daily: [
    { ...day, date: '2019-12-12', run_status: 'completed', equity: '999406.20', total_pnl: '-593.80', refused: 0, refused_by: {} },
    { ...day, date: '2019-12-13', run_id: 2, run_status: 'partial', equity: '999057.74', total_pnl: '-942.26', refused: 3, refused_by: { max_gross_exposure: 2, correlated_cluster: 1 } },
  ],
  per_symbol: [],
  positions: [{ symbol: 'DXC', qty: '2760', avg_entry_price: '36.2370', mark: '35.74', mark_ts: null, stale: false, market_value: '98642.40', unrealized_pnl: '-1371.36', realized_pnl: '-66.19', total_pnl: '-1437.55' }],
  orders: [],
  runs: [],
  timings_ms: { total: 1 },
};

describe('the paper-run report on screen', () => {
  it('counts the refusals by reason, shows the exact books check and the up-front warnings', () => {
    const text = renderPaperReport(report, false);
    expect(text).toContain('books   ✓ total P&L = equity change, checked exactly (difference 0.00)');
    expect(text).toContain('risk    ! 3 orders refused on 1 of 2 days: max_gross_exposure 2, correlated_cluster 1; 1 days partial');
    expect(text).toContain('cut to zero by sizing before submission: max_position_pct 4');
    expect(text).toContain('warning --top-n 10 + --bottom-n 10 positions');
    expect(text).toMatch(/2019-12-13 +2019-12-11 +2 partial +10 +8 +3 +999057\.74 +-942\.26/);
    expect(text).toMatch(/DXC +2760 +36\.2370 +35\.74 +-1371\.36 +-66\.19/);
  });

  it('a difference that is not exactly zero is shown as it is, with ✗', () => {
    const text = renderPaperReport({ ...report, reconciled: false, reconciliation_difference: '-0.00000000000000000000000000000000001901', refusals: { ...report.refusals, orders: 0, by_reason: {}, days: 0, days_partial: 0, limited_to_zero: {} }, warnings: [] }, false);
    expect(text).toContain('books   ✗ total P&L = equity change, checked exactly (difference -0.00000000000000000000000000000000001901)');
    expect(text).toContain('risk    ✓ no order refused');
  });
});
