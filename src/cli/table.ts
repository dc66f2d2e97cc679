import { paint } from './style.js';

/** Aligned text table for people; numbers right-aligned. */
export function formatTable(rows: Record<string, unknown>[], color = false, maxRows = 200): string {
  if (rows.length === 0) return '(0 rows)';
  const c = paint(color);
  const cols = Object.keys(rows[0]!);
  const shown = rows.slice(0, maxRows);
  const cell = (v: unknown) => (v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const grid = shown.map((r) => cols.map((k) => cell(r[k])));
  const numeric = cols.map((k) => shown.every((r) => r[k] === null || typeof r[k] === 'number'));
  const width = cols.map((k, j) => Math.min(60, Math.max(k.length, ...grid.map((g) => g[j]!.length))));
  const fit = (s: string, j: number) => {
    const t = s.length > width[j]! ? s.slice(0, width[j]! - 1) + '…' : s;
    return numeric[j] ? t.padStart(width[j]!) : t.padEnd(width[j]!);
  };
  const out = [c.bold(cols.map((k, j) => fit(k, j)).join('  ')), cols.map((_, j) => '─'.repeat(width[j]!)).join('  ')];
  for (const g of grid) out.push(g.map((s, j) => fit(s, j)).join('  '));
  out.push(c.dim(`(${rows.length} row${rows.length === 1 ? '' : 's'}${rows.length > maxRows ? `, first ${maxRows} shown; use --csv or --json for all` : ''})`));
  return out.join('\n');
}

/** RFC 4180 CSV. */
export function formatCsv(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const esc = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.map(esc).join(','), ...rows.map((r) => cols.map((k) => esc(r[k])).join(','))].join('\n');
}
