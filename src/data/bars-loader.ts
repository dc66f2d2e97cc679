import { dayNumber } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { isSymbol } from '../model/symbol.js';
import { allocBars, type SymbolBars } from './bars.js';
import type { Catalog } from './catalog.js';

/**
 * Reads adjusted bars from the catalog into per-symbol series (the input of features and
 * signals). `from`/`to` bound the dates; `symbols` restricts the names.
 */
export async function loadAdjustedBars(cat: Catalog, opts: { symbols?: readonly string[]; from?: string; to?: string } = {}): Promise<Map<string, SymbolBars>> {
  const where: string[] = [];
  if (opts.symbols?.length) {
    for (const s of opts.symbols) if (!isSymbol(s)) throw new InputError(`bad symbol ${JSON.stringify(s)}`);
    where.push(`symbol IN (${opts.symbols.map((s) => `'${s}'`).join(', ')})`);
  }
  for (const [k, op] of [['from', '>='], ['to', '<=']] as const) {
    const v = opts[k];
    if (v === undefined) continue;
    if (!Number.isFinite(dayNumber(v))) throw new InputError(`--${k} ${JSON.stringify(v)} is not a YYYY-MM-DD date`);
    where.push(`date ${op} DATE '${v}'`);
  }
  const c = await cat.duck.columns(
    `SELECT symbol, (date - DATE '1970-01-01')::INTEGER AS day, open, high, low, close, volume FROM bars
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY symbol, date`,
  );
  const sym = c.symbol as string[];
  const out = new Map<string, SymbolBars>();
  let s = 0;
  while (s < sym.length) {
    let e = s;
    while (e < sym.length && sym[e] === sym[s]) e++;
    const b = allocBars(sym[s]!, e - s, false);
    for (let i = s; i < e; i++) {
      const j = i - s;
      b.day[j] = c.day![i] as number;
      b.open[j] = c.open![i] as number;
      b.high[j] = c.high![i] as number;
      b.low[j] = c.low![i] as number;
      b.close[j] = c.close![i] as number;
      b.volume[j] = c.volume![i] as number;
    }
    out.set(sym[s]!, b);
    s = e;
  }
  return out;
}
