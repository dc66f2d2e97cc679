import type { QualityReport } from '../data/etl.js';
import { ROW_RULES } from '../data/quality/rule-names.js';
import { paint } from './style.js';

/** One screen: what came in, what was published, what each gate held back and why. */
export function renderQualityReport(r: QualityReport, color: boolean): string {
  const c = paint(color);
  const lines: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const status = r.status === 'published' ? c.green('PUBLISHED') : c.red('FAILED');
  lines.push(`${c.bold('Quality report')}  ${status}  ${c.dim(r.generated_at)}`);
  if (r.failure) lines.push(c.red(`  ✗ ${r.failure}`));
  lines.push(`  input      ${r.input.files.join(', ')}: ${r.input.lines_read.toLocaleString('en-US')} lines, ${r.input.symbols} symbols, ${r.input.first_date ?? '-'} → ${r.input.last_date ?? '-'}`);
  if (r.status === 'published') {
    lines.push(`  published  ${r.published.rows.toLocaleString('en-US')} rows, ${r.published.symbols} symbols, ${r.published.first_date ?? '-'} → ${r.published.last_date ?? '-'}` + (r.published.restated_rows ? `, ${r.published.restated_rows} restated` : '') + c.dim(` (${r.published.files_written} files written, ${r.published.files_reused} unchanged)`));
  } else {
    lines.push(`  published  ${c.red('nothing')}: the run failed, the data directory is unchanged` + c.dim(` (${r.accepted_rows.toLocaleString('en-US')} input rows passed the gates)`));
  }
  lines.push(`  quarantine ${r.quarantined.rows.toLocaleString('en-US')} rows${r.status === 'published' ? '' : ' flagged, not written'} (${pct(r.quarantined.fraction)} of input, tolerance ${pct(r.quarantined.max_fraction)})`);
  lines.push('');
  lines.push(c.bold('  rule                  rows  symbols  worst symbols'));
  for (const name of ROW_RULES) {
    const rc = r.rules[name];
    const worst = Object.entries(rc.by_symbol).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5).map(([s, n]) => `${s}(${n})`).join(' ');
    const mark = rc.exceeded ? c.red('✗') : rc.quarantined ? c.yellow('!') : c.green('✓');
    lines.push(`  ${mark} ${name.padEnd(20)}${String(rc.quarantined).padStart(5)}  ${String(Object.keys(rc.by_symbol).length).padStart(7)}  ${worst}${rc.max_rows !== null ? c.dim(`  (tolerance ${rc.max_rows})`) : ''}`);
  }
  const md = r.missing_dates;
  const worstGaps = Object.entries(md.by_symbol).sort((a, b) => b[1].count - a[1].count).slice(0, 5).map(([s, m]) => `${s}(${m.count})`).join(' ');
  lines.push(`  ${md.total ? c.yellow('!') : c.green('✓')} ${'missing_dates'.padEnd(20)}${String(md.total).padStart(5)}  ${String(md.symbols).padStart(7)}  ${worstGaps}${c.dim('  (trading days absent inside a listing; reported, not quarantined)')}`);
  const f = r.freshness;
  if (f.checked) {
    const mark = f.ok ? c.green('✓') : c.red('✗');
    lines.push(`  ${mark} ${'freshness'.padEnd(20)}latest ${f.latest_date} is ${f.lag_trading_days} trading days behind ${f.as_of} (tolerance ${f.max_lag_days}); ${f.lagging_symbols.length} symbols lag more`);
  } else {
    lines.push(`  ${c.dim('-')} ${'freshness'.padEnd(20)}${c.dim('not checked (pass --as-of YYYY-MM-DD)')}`);
  }
  const bad = r.malformed_lines;
  if (bad.total) {
    lines.push('');
    lines.push(c.bold(`  malformed lines (${bad.total.toLocaleString('en-US')})`));
    for (const m of bad.listed) lines.push(`    ${m.file} line ${m.line}: ${m.reason}`);
    if (bad.not_listed) lines.push(c.dim(`    … and ${bad.not_listed.toLocaleString('en-US')} more` + (r.status === 'published' ? ' (kestrel sql "SELECT file, line, detail FROM quarantine WHERE rule = \'malformed\'")' : '')));
  }
  lines.push('');
  const a = r.adjustment;
  lines.push(`  ${c.bold('adjustment')} ${a.actions_from_file} actions from file, ${a.dividends_derived} dividends derived from adj_close` + (a.vendor_anomalies ? `, ${a.vendor_anomalies} vendor anomalies` : ''));
  if (a.vendor_adj_close_error) {
    const e = a.vendor_adj_close_error;
    lines.push(`             adjusted close vs vendor adj_close: max rel. error ${e.max.toExponential(2)}, median ${e.median.toExponential(2)} over ${e.rows.toLocaleString('en-US')} rows`);
  }
  lines.push(c.dim(`  timings ${Object.entries(r.timings_ms).map(([k, v]) => `${k}=${v}ms`).join(' ')}`));
  return lines.join('\n');
}
