import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { dayNumber } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { tryVendorSymbol } from '../model/symbol.js';
import { allocBars, type SymbolBars } from './bars.js';

/**
 * Daily-bar CSV reader. Accepts `date,symbol,open,high,low,close[,adj_close],volume`
 * in any column order (header names decide), plain or gzipped. A line that cannot be
 * read becomes a ParseIssue with file and line number; it never stops the run.
 */

export interface ParseIssue {
  file: string;
  line: number;
  /** Header name of the offending column; null when the line as a whole is wrong (field count). */
  column: string | null;
  symbol: string | null;
  date: string | null;
  /** What is wrong and, where we can tell, how to fix it; names the column and the value. */
  detail: string;
}

export interface ParsedBars {
  files: string[];
  series: Map<string, SymbolBars>;
  issues: ParseIssue[];
  rows: number;
  hasAdjClose: boolean;
}

const REQUIRED = ['date', 'symbol', 'open', 'high', 'low', 'close', 'volume'] as const;
const NUMERIC = ['open', 'high', 'low', 'close', 'adj_close', 'volume'] as const;
/** Prices and volumes beyond this are not market data (a stray exponent, a corrupted field). */
export const MAX_BAR_VALUE = 1e15;

/** Strict decimal number: optional sign, digits, optional fraction and exponent. NaN otherwise. */
export function parseNumber(s: string): number {
  const n = s.length;
  if (n === 0 || n > 40) return NaN;
  let i = 0;
  let neg = false;
  const c0 = s.charCodeAt(0);
  if (c0 === 45 /* - */ || c0 === 43 /* + */) {
    neg = c0 === 45;
    i = 1;
  }
  let mant = 0;
  let digits = 0;
  let scale = 0;
  let seenDot = false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits++;
      if (seenDot) scale++;
    } else if (c === 46 /* . */ && !seenDot) {
      seenDot = true;
    } else break;
  }
  if (digits === 0) return NaN;
  if (i < n) {
    // Exponents and very long mantissas are rare: let the engine parse them exactly.
    const c = s.charCodeAt(i);
    if (c !== 101 && c !== 69) return NaN;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$/.test(s)) return NaN;
    const x = Number(s);
    return Number.isFinite(x) ? x : NaN; // '1e999' overflows to Infinity: not a number we accept
  }
  // Both operands exact (mant < 2^53, 10^scale ≤ 10^22), so the quotient is correctly rounded, like Number().
  if (digits > 15 || scale > 22) return Number(s);
  const v = scale === 0 ? mant : mant / POW10[scale]!;
  return neg ? -v : v;
}
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

interface Builder {
  day: number[];
  o: number[];
  h: number[];
  l: number[];
  c: number[];
  a: number[];
  v: number[];
  f: number[];
  ln: number[];
}

/** Blanks around a field are CSV layout: ASCII spaces and tabs only (NBSP, BOM and the like are data, and refused). */
function unquote(s: string): string {
  const t = s.replace(/^[ \t]+|[ \t]+$/g, '');
  return t.length >= 2 && t.charCodeAt(0) === 34 && t.charCodeAt(t.length - 1) === 34 ? t.slice(1, -1) : t;
}

/** Lists the CSV files of an input: the file itself, or a directory's *.csv / *.csv.gz (sorted, not recursive). */
export function listInputFiles(input: string, flag = '--input'): string[] {
  let st;
  try {
    st = statSync(input);
  } catch (e) {
    throw new InputError(`${flag} ${JSON.stringify(input)}: ${fsReason(e)} (want a CSV or CSV.gz file, or a directory of them)`, 'input_missing');
  }
  if (st.isFile()) return [input];
  if (!st.isDirectory()) throw new InputError(`${flag} ${JSON.stringify(input)}: not a file or directory`, 'input_missing');
  const files = readdirSync(input)
    .filter((f) => /\.csv(\.gz)?$/i.test(f))
    .sort()
    .map((f) => join(input, f));
  if (files.length === 0) throw new InputError(`${flag} ${JSON.stringify(input)}: no .csv or .csv.gz files in this directory`, 'input_missing');
  return files;
}

/** A file system error as a few words for a one-line message (no errno noise). */
export function fsReason(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EISDIR':
      return 'is a directory, want a file';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return (e as Error).message;
  }
}

/**
 * Reads a plain or gzipped text file. `flag` names where the path came from, so a missing or
 * unreadable file is a one-line InputError (`--actions "x.csv": no such file or directory`).
 */
export function readText(file: string, flag?: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new InputError(`${flag ? `${flag} ` : ''}${JSON.stringify(file)}: ${fsReason(e)}`, 'input_missing');
  }
  const gz = buf.length > 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  try {
    return (gz ? gunzipSync(buf) : buf).toString('utf8');
  } catch (e) {
    throw new InputError(`${flag ? `${flag} ` : ''}${file}: cannot decompress (${(e as Error).message})`, 'bad_input');
  }
}

/** Parses every file into per-symbol series sorted by date (stable: on equal dates, input order). */
export function parseBarFiles(files: string[]): ParsedBars {
  const builders = new Map<string, Builder>();
  const issues: ParseIssue[] = [];
  let rows = 0;
  let hasAdj = false;
  files.forEach((file, fileIdx) => {
    const r = parseBarText(readText(file), basename(file), fileIdx, builders, issues);
    rows += r.rows;
    hasAdj ||= r.hasAdj;
  });
  const series = new Map<string, SymbolBars>();
  for (const sym of [...builders.keys()].sort()) series.set(sym, finish(sym, builders.get(sym)!, hasAdj));
  return { files: files.map((f) => basename(f)), series, issues, rows, hasAdjClose: hasAdj };
}

function parseBarText(
  text: string,
  file: string,
  fileIdx: number,
  builders: Map<string, Builder>,
  issues: ParseIssue[],
): { rows: number; hasAdj: boolean } {
  let pos = 0;
  let lineNo = 0;
  const nextLine = (): string | null => {
    if (pos >= text.length) return null;
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let line = text.slice(pos, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    pos = end + 1;
    lineNo++;
    return line;
  };
  let header = nextLine();
  while (header !== null && header.trim() === '') header = nextLine();
  if (header === null) throw new InputError(`${file}: empty file`, 'bad_input');
  const names = header.replace(/^\uFEFF/, '').split(',').map((h) => unquote(h).toLowerCase());
  const col = (name: string) => names.indexOf(name);
  const missing = REQUIRED.filter((n) => col(n) < 0);
  if (missing.length) {
    throw new InputError(`${file}:${lineNo}: header lacks ${missing.join(', ')} (need date,symbol,open,high,low,close[,adj_close],volume)`, 'bad_input');
  }
  const iDate = col('date');
  const iSym = col('symbol');
  const iNum = NUMERIC.map(col);
  const hasAdj = iNum[4]! >= 0;
  const width = names.length;
  let rows = 0;
  const vals = new Float64Array(6);

  for (let line = nextLine(); line !== null; line = nextLine()) {
    if (line.length === 0) continue;
    const f = line.split(',');
    const at = lineNo;
    const given = f.length > iSym ? unquote(f[iSym]!) : '';
    // The one ticker grammar (src/model/symbol.ts); vendor classes BRK-B, BRK/B become BRK.B.
    const symbol = tryVendorSymbol(given);
    const date = f.length > iDate ? unquote(f[iDate]!) : '';
    const bad = (column: string | null, detail: string) => issues.push({ file, line: at, column, symbol, date: Number.isFinite(dayNumber(date)) ? date : null, detail });
    if (f.length !== width) {
      const quoted = f.length > width && line.includes('"') ? ' (a comma inside quotes? quoted fields are not supported)' : '';
      bad(null, `expected ${width} fields (${names.join(',')}), found ${f.length}${quoted}`);
      continue;
    }
    const day = dayNumber(date);
    if (!Number.isFinite(day)) {
      bad('date', dateProblem(date));
      continue;
    }
    if (symbol === null) {
      bad('symbol', `symbol ${JSON.stringify(given)} is not a ticker (a letter, then up to 9 of A-Z 0-9, optionally a class: BRK.B or BRK-B)`);
      continue;
    }
    let ok = true;
    for (let k = 0; k < 6; k++) {
      const idx = iNum[k]!;
      if (idx < 0) {
        vals[k] = NaN;
        continue;
      }
      const raw = f[idx]!;
      const v = parseNumber(raw.charCodeAt(0) === 34 || raw.charCodeAt(0) === 32 ? unquote(raw) : raw);
      if (!Number.isFinite(v) || Math.abs(v) >= MAX_BAR_VALUE) {
        bad(NUMERIC[k]!, numberProblem(NUMERIC[k]!, raw));
        ok = false;
        break;
      }
      vals[k] = v;
    }
    if (!ok) continue;
    let b = builders.get(symbol);
    if (!b) builders.set(symbol, (b = { day: [], o: [], h: [], l: [], c: [], a: [], v: [], f: [], ln: [] }));
    b.day.push(day);
    b.o.push(vals[0]!);
    b.h.push(vals[1]!);
    b.l.push(vals[2]!);
    b.c.push(vals[3]!);
    b.a.push(vals[4]!);
    b.v.push(vals[5]!);
    b.f.push(fileIdx);
    b.ln.push(at);
    rows++;
  }
  return { rows, hasAdj };
}

/** Why a date field is not a YYYY-MM-DD calendar date, with the fix when the form is recognisable. */
export function dateProblem(raw: string): string {
  const q = JSON.stringify(raw);
  if (raw === '') return 'date is empty (want YYYY-MM-DD)';
  const dmy = /^(\d{1,2})([/.-])\d{1,2}\2\d{2}(\d{2})?$/.exec(raw);
  if (dmy && dmy[2] === '/' && Number(dmy[1]) <= 12) return `date ${q} is not YYYY-MM-DD (US dates are not accepted; convert to ISO)`;
  if (dmy) return `date ${q} is not YYYY-MM-DD (day-first dates are not accepted; convert to ISO)`;
  if (/^\d{4}-\d{2}-\d{2}[T ]/.test(raw)) return `date ${q} is not YYYY-MM-DD (a trading date has no time part; keep the first 10 characters)`;
  if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) return `date ${q} is not a calendar date`;
  if (/^\d{4}\/\d{2}\/\d{2}$/.test(raw) || /^\d{8}$/.test(raw)) return `date ${q} is not YYYY-MM-DD (use dashes: ${raw.replace(/\D/g, '').replace(/^(\d{4})(\d{2})(\d{2})$/, '$1-$2-$3')})`;
  return `date ${q} is not YYYY-MM-DD`;
}

function numberProblem(column: string, raw: string): string {
  const t = unquote(raw);
  if (t === '') return `${column} is empty`;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return `${column} ${JSON.stringify(raw)} is out of range`;
  return `${column} ${JSON.stringify(raw)} is not a number`;
}

function finish(symbol: string, b: Builder, withAdj: boolean): SymbolBars {
  const n = b.day.length;
  const order = new Int32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    if (i > 0 && b.day[i]! < b.day[i - 1]!) sorted = false;
  }
  if (!sorted) order.sort((x, y) => b.day[x]! - b.day[y]! || x - y);
  const out = allocBars(symbol, n, withAdj);
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    out.day[j] = b.day[i]!;
    out.open[j] = b.o[i]!;
    out.high[j] = b.h[i]!;
    out.low[j] = b.l[i]!;
    out.close[j] = b.c[i]!;
    if (out.adjClose) out.adjClose[j] = b.a[i]!;
    out.volume[j] = b.v[i]!;
    out.fileIdx[j] = b.f[i]!;
    out.line[j] = b.ln[i]!;
  }
  return out;
}
