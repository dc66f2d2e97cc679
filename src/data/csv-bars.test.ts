import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayNumber, dayString } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import type { SymbolBars } from './bars.js';
import { listInputFiles, parseBarFiles, parseNumber, readText } from './csv-bars.js';

// ---------------------------------------------------------------------------
// parseNumber
// ---------------------------------------------------------------------------

describe('parseNumber', () => {
  it('parses plain decimals by hand', () => {
    expect(parseNumber('0')).toBe(0);
    expect(parseNumber('42')).toBe(42);
    expect(parseNumber('-42')).toBe(-42);
    expect(parseNumber('+1.25')).toBe(1.25);
    expect(parseNumber('187.3456')).toBe(187.3456);
    expect(parseNumber('.5')).toBe(0.5);
    expect(parseNumber('5.')).toBe(5);
    expect(parseNumber('0.1')).toBe(0.1);
    expect(parseNumber('1.5E3')).toBe(1500);
    expect(parseNumber('2.5e-2')).toBe(0.025);
    expect(Object.is(parseNumber('-0'), -0)).toBe(true);
    expect(Object.is(parseNumber('-0.00'), -0)).toBe(true);
  });

  it.each(['', '1.2.3', 'abc', '0x10', '1e', ' 1', '1 ', 'NaN', 'Infinity', '-Infinity', '-', '+', '.', '1,5', '--1', '1e5.5', '1e+', '0b11', '1_000'])(
    'rejects %j',
    (s) => {
      expect(parseNumber(s)).toBeNaN();
    },
  );

  it('rejects exponents that overflow to Infinity (only finite numbers are returned)', () => {
    expect(Number('1e999')).toBe(Infinity);
    expect(parseNumber('1e999')).toBeNaN();
    expect(parseNumber('-1e400')).toBeNaN();
    // Underflow is still a finite number, as with Number().
    expect(parseNumber('1e-400')).toBe(0);
  });

  it('rejects strings longer than 40 characters (deliberate cap)', () => {
    const s = '1'.repeat(41);
    expect(Number.isFinite(Number(s))).toBe(true);
    expect(parseNumber(s)).toBeNaN();
    expect(parseNumber('1'.repeat(40))).toBe(Number('1'.repeat(40)));
  });

  it('matches Number() on doubles formatted with toString', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const s = String(x);
        const r = parseNumber(s);
        expect(Object.is(r, Number(s))).toBe(true);
        expect(r === x).toBe(true); // toString round-trips every finite double (-0 prints as '0')
      }),
      { numRuns: 2000 },
    );
  });

  it('matches Number() on doubles formatted with toFixed', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.integer({ min: 0, max: 12 }), (x, k) => {
        const s = x.toFixed(k);
        expect(Object.is(parseNumber(s), Number(s))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('matches Number() on integers, including ones beyond 2^53', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.maxSafeInteger()), (n) => {
        expect(parseNumber(String(n))).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 39n) + 1n, max: 10n ** 39n - 1n }), (n) => {
        const s = n.toString();
        expect(parseNumber(s)).toBe(Number(s));
      }),
    );
  });

  it('fuzz: never throws; result is NaN or a finite number equal to Number(s)', () => {
    const decimal = /^[-+]?\d+(\.\d+)?$/;
    const arb = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.constantFrom('0', '1', '9', '.', '-', '+', 'e', 'E', ' ', 'x') }),
      fc.stringMatching(/^[-+]?\d{1,19}(\.\d{1,19})?([eE][-+]?\d{1,3})?$/),
    );
    fc.assert(
      fc.property(arb, (s) => {
        let r = 0;
        expect(() => (r = parseNumber(s))).not.toThrow();
        expect(Number.isNaN(r) || Number.isFinite(r)).toBe(true);
        if (!Number.isNaN(r)) expect(Object.is(r, Number(s))).toBe(true);
        if (decimal.test(s) && s.length <= 40) expect(Object.is(r, Number(s))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

let root: string;
let seq = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kestrel-csv-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh directory per test, so file names never collide. */
function dir(): string {
  const d = join(root, `t${seq++}`);
  mkdirSync(d);
  return d;
}
function put(d: string, name: string, content: string | Buffer): string {
  const p = join(d, name);
  writeFileSync(p, content);
  return p;
}

const HDR = 'date,symbol,open,high,low,close,volume';
const HDR_ADJ = 'date,symbol,open,high,low,close,adj_close,volume';

/** Rows of a series as plain objects, for readable expectations. */
function rowsOf(b: SymbolBars | undefined) {
  if (!b) throw new Error('missing series');
  return Array.from(b.day, (d, i) => ({
    date: dayString(d),
    o: b.open[i],
    h: b.high[i],
    l: b.low[i],
    c: b.close[i],
    ...(b.adjClose ? { a: b.adjClose[i] } : {}),
    v: b.volume[i],
    file: b.fileIdx[i],
    line: b.line[i],
  }));
}

describe('parseBarFiles: formats', () => {
  it('reads the 7-column header (no adj_close)', () => {
    const f = put(dir(), 'bars.csv', [HDR, '2019-01-02,AAPL,154.89,158.85,154.23,157.92,37039700', '2019-01-03,AAPL,143.98,145.72,142,142.19,91312200', ''].join('\n'));
    const p = parseBarFiles([f]);
    expect(p.files).toEqual(['bars.csv']);
    expect(p.hasAdjClose).toBe(false);
    expect(p.rows).toBe(2);
    expect(p.issues).toEqual([]);
    expect([...p.series.keys()]).toEqual(['AAPL']);
    const s = p.series.get('AAPL')!;
    expect(s.symbol).toBe('AAPL');
    expect(s.adjClose).toBeNull();
    expect(rowsOf(s)).toEqual([
      { date: '2019-01-02', o: 154.89, h: 158.85, l: 154.23, c: 157.92, v: 37039700, file: 0, line: 2 },
      { date: '2019-01-03', o: 143.98, h: 145.72, l: 142, c: 142.19, v: 91312200, file: 0, line: 3 },
    ]);
  });

  it('reads the 8-column header with adj_close', () => {
    const f = put(dir(), 'bars.csv', [HDR_ADJ, '2019-01-02,MSFT,99.55,101.75,98.94,101.12,97.4,35329300'].join('\n'));
    const p = parseBarFiles([f]);
    expect(p.hasAdjClose).toBe(true);
    expect(rowsOf(p.series.get('MSFT'))).toEqual([{ date: '2019-01-02', o: 99.55, h: 101.75, l: 98.94, c: 101.12, a: 97.4, v: 35329300, file: 0, line: 2 }]);
  });

  it('maps columns by header name, in any order and any case', () => {
    const f = put(dir(), 'bars.csv', ['Volume,CLOSE,low,Symbol,high,open,date', '1000,10.5,9.5,XOM,11,10,2019-01-02'].join('\n'));
    const p = parseBarFiles([f]);
    expect(p.issues).toEqual([]);
    expect(rowsOf(p.series.get('XOM'))).toEqual([{ date: '2019-01-02', o: 10, h: 11, l: 9.5, c: 10.5, v: 1000, file: 0, line: 2 }]);
  });

  it('reads gzip input (detected by content, not by name)', () => {
    const d = dir();
    const text = [HDR, '2019-01-02,IBM,112.01,115.98,111.69,115.21,4239900'].join('\n');
    const gz = put(d, 'bars.csv.gz', gzipSync(text));
    const gzNoExt = put(d, 'other.csv', gzipSync(text));
    expect(readText(gz)).toBe(text);
    for (const f of [gz, gzNoExt]) {
      const p = parseBarFiles([f]);
      expect(p.issues).toEqual([]);
      expect(rowsOf(p.series.get('IBM'))).toEqual([{ date: '2019-01-02', o: 112.01, h: 115.98, l: 111.69, c: 115.21, v: 4239900, file: 0, line: 2 }]);
    }
  });

  it('rejects a corrupt gzip file with an InputError', () => {
    const f = put(dir(), 'bad.csv.gz', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5]));
    expect(() => parseBarFiles([f])).toThrow(InputError);
    expect(() => readText(f)).toThrow(/cannot decompress/);
  });

  it('handles CRLF line endings, a BOM, quoted header names and quoted/padded fields', () => {
    const text = '\uFEFF"date","symbol",open,high,low,close,volume\r\n' + '2019-01-02,"aapl",1,2,0.5,1.5,100\r\n' + '"2019-01-03", "AAPL" ,"1.25", 2,1,2,200\r\n';
    const f = put(dir(), 'crlf.csv', text);
    const p = parseBarFiles([f]);
    expect(p.issues).toEqual([]);
    expect(rowsOf(p.series.get('AAPL'))).toEqual([
      { date: '2019-01-02', o: 1, h: 2, l: 0.5, c: 1.5, v: 100, file: 0, line: 2 },
      { date: '2019-01-03', o: 1.25, h: 2, l: 1, c: 2, v: 200, file: 0, line: 3 },
    ]);
  });

  it('skips blank lines (before the header too) but keeps counting lines', () => {
    const f = put(dir(), 'blank.csv', ['', HDR, '', '2019-01-02,AAPL,1,2,0.5,1.5,100', '', '2019-01-03,AAPL,1,2,0.5,1.5,100'].join('\n'));
    const p = parseBarFiles([f]);
    expect(p.issues).toEqual([]);
    expect(Array.from(p.series.get('AAPL')!.line)).toEqual([4, 6]);
  });
});

describe('parseBarFiles: malformed lines', () => {
  const lines = [
    HDR, // 1
    '2019-01-02,AAPL,1,2,0.5,1.5,100', // 2 ok
    '2019-01-03,AAPL,1,2,0.5,1.5', // 3 six fields
    '2019-02-30,AAPL,1,2,0.5,1.5,100', // 4 impossible date
    '', // 5 blank
    '2019-01-04,AAPL,1,abc,0.5,1.5,100', // 6 bad high
    '2019-01-04,msft,1,2,0.5,1.5,100', // 7 lower-case: accepted as MSFT
    '2019-01-04,1BAD,1,2,0.5,1.5,100', // 8 invalid symbol
    '2019/01/07,AAPL,1,2,0.5,1.5,100', // 9 wrong date format
    '2019-01-07,AAPL,1,2,0.5,1.5,1e999', // 10 overflowing volume
    '2019-01-07,AAPL,1,2,0.5,1.5,100,7', // 11 eight fields
    '2019-01-08,TOOLONGSYMBOL,1,2,0.5,1.5,100', // 12 symbol too long
    '2019-01-08,AAPL,1,2,0.5,,100', // 13 empty close
    '2019-01-09,AAPL,1,2,0.5,1.5,100', // 14 ok
  ];

  it('reports each bad line with file, 1-based line, symbol/date when readable, and a clear detail', () => {
    const f = put(dir(), 'messy.csv', lines.join('\n') + '\n');
    const p = parseBarFiles([f]);
    const F = 'expected 7 fields (date,symbol,open,high,low,close,volume)';
    expect(p.issues).toEqual([
      { file: 'messy.csv', line: 3, column: null, symbol: 'AAPL', date: '2019-01-03', detail: `${F}, found 6` },
      { file: 'messy.csv', line: 4, column: 'date', symbol: 'AAPL', date: null, detail: 'date "2019-02-30" is not a calendar date' },
      { file: 'messy.csv', line: 6, column: 'high', symbol: 'AAPL', date: '2019-01-04', detail: 'high "abc" is not a number' },
      { file: 'messy.csv', line: 8, column: 'symbol', symbol: null, date: '2019-01-04', detail: 'symbol "1BAD" is not a ticker (a letter, then up to 9 of A-Z 0-9, optionally a class: BRK.B or BRK-B)' },
      { file: 'messy.csv', line: 9, column: 'date', symbol: 'AAPL', date: null, detail: 'date "2019/01/07" is not YYYY-MM-DD (use dashes: 2019-01-07)' },
      { file: 'messy.csv', line: 10, column: 'volume', symbol: 'AAPL', date: '2019-01-07', detail: 'volume "1e999" is out of range' },
      { file: 'messy.csv', line: 11, column: null, symbol: 'AAPL', date: '2019-01-07', detail: `${F}, found 8` },
      { file: 'messy.csv', line: 12, column: 'symbol', symbol: null, date: '2019-01-08', detail: 'symbol "TOOLONGSYMBOL" is not a ticker (a letter, then up to 9 of A-Z 0-9, optionally a class: BRK.B or BRK-B)' },
      { file: 'messy.csv', line: 13, column: 'close', symbol: 'AAPL', date: '2019-01-08', detail: 'close is empty' },
    ]);
    expect(p.rows).toBe(3);
    expect([...p.series.keys()]).toEqual(['AAPL', 'MSFT']);
    expect(Array.from(p.series.get('AAPL')!.line)).toEqual([2, 14]);
    expect(rowsOf(p.series.get('MSFT'))).toEqual([{ date: '2019-01-04', o: 1, h: 2, l: 0.5, c: 1.5, v: 100, file: 0, line: 7 }]);
  });

  it('says why a quoted field breaks the field count, and how to fix other dates', () => {
    const f = put(dir(), 'hints.csv', [HDR, '2019-06-04,AAPL,"1,000",2,0.5,1.5,100', '01/02/2020,AAPL,1,2,0.5,1.5,100', '20190611,AAPL,1,2,0.5,1.5,100', '2019-06-07T00:00:00Z,AAPL,1,2,0.5,1.5,100'].join('\n'));
    expect(parseBarFiles([f]).issues.map((i) => i.detail)).toEqual([
      'expected 7 fields (date,symbol,open,high,low,close,volume), found 8 (a comma inside quotes? quoted fields are not supported)',
      'date "01/02/2020" is not YYYY-MM-DD (US dates are not accepted; convert to ISO)',
      'date "20190611" is not YYYY-MM-DD (use dashes: 2019-06-11)',
      'date "2019-06-07T00:00:00Z" is not YYYY-MM-DD (a trading date has no time part; keep the first 10 characters)',
    ]);
  });

  it('gives the same line numbers with CRLF endings', () => {
    const f = put(dir(), 'messy-crlf.csv', lines.join('\r\n'));
    const p = parseBarFiles([f]);
    expect(p.issues.map((i) => i.line)).toEqual([3, 4, 6, 8, 9, 10, 11, 12, 13]);
  });

  it('reports a field count error on a line too short to hold the symbol', () => {
    const f = put(dir(), 'short.csv', [HDR, '2019-01-02'].join('\n'));
    const p = parseBarFiles([f]);
    expect(p.issues).toEqual([{ file: 'short.csv', line: 2, column: null, symbol: null, date: '2019-01-02', detail: 'expected 7 fields (date,symbol,open,high,low,close,volume), found 1' }]);
    expect(p.series.size).toBe(0);
    expect(p.rows).toBe(0);
  });
});

describe('parseBarFiles: ordering and multiple files', () => {
  it('sorts each symbol by date, keeping input order for equal dates', () => {
    const f = put(
      dir(),
      'unsorted.csv',
      [
        HDR,
        '2019-01-04,AAPL,1,1,1,4,1', // 2
        '2019-01-02,AAPL,1,1,1,2,1', // 3
        '2019-01-03,AAPL,1,1,1,3,1', // 4
        '2019-01-02,AAPL,1,1,1,2.5,1', // 5 same date as line 3, comes after it
        '2019-01-02,AAPL,1,1,1,2.75,1', // 6
        '2019-01-01,ZZZ,1,1,1,9,1', // 7 other symbol
      ].join('\n'),
    );
    const p = parseBarFiles([f]);
    const s = p.series.get('AAPL')!;
    expect(Array.from(s.day, dayString)).toEqual(['2019-01-02', '2019-01-02', '2019-01-02', '2019-01-03', '2019-01-04']);
    expect(Array.from(s.close)).toEqual([2, 2.5, 2.75, 3, 4]);
    expect(Array.from(s.line)).toEqual([3, 5, 6, 4, 2]);
    expect(Array.from(p.series.get('ZZZ')!.line)).toEqual([7]);
  });

  it('merges files into one series per symbol with fileIdx/line provenance', () => {
    const d = dir();
    const a = put(d, 'a.csv', [HDR, '2019-01-03,AAPL,1,1,1,3,1', '2019-01-03,MSFT,1,1,1,30,1'].join('\n'));
    const b = put(d, 'b.csv.gz', gzipSync([HDR, '2019-01-02,AAPL,1,1,1,2,1', '2019-01-03,AAPL,1,1,1,3.5,1'].join('\n')));
    const p = parseBarFiles([a, b]);
    expect(p.files).toEqual(['a.csv', 'b.csv.gz']);
    expect(p.rows).toBe(4);
    expect([...p.series.keys()]).toEqual(['AAPL', 'MSFT']);
    const s = p.series.get('AAPL')!;
    // 2019-01-03 appears in both files: the one from the earlier file comes first.
    expect(rowsOf(s).map((r) => [r.date, r.c, r.file, r.line])).toEqual([
      ['2019-01-02', 2, 1, 2],
      ['2019-01-03', 3, 0, 2],
      ['2019-01-03', 3.5, 1, 3],
    ]);
    expect(Array.from(p.series.get('MSFT')!.fileIdx)).toEqual([0]);
  });

  it('when only some files carry adj_close, rows without it get NaN', () => {
    const d = dir();
    const a = put(d, 'a.csv', [HDR_ADJ, '2019-01-02,AAPL,1,1,1,2,1.9,1'].join('\n'));
    const b = put(d, 'b.csv', [HDR, '2019-01-03,AAPL,1,1,1,3,1'].join('\n'));
    const p = parseBarFiles([a, b]);
    expect(p.hasAdjClose).toBe(true);
    const adj = p.series.get('AAPL')!.adjClose!;
    expect(adj[0]).toBe(1.9);
    expect(adj[1]).toBeNaN();
    // Same files in the other order: the flag does not depend on which file comes first.
    expect(parseBarFiles([b, a]).hasAdjClose).toBe(true);
  });

  it('reports issues with the basename of the file they came from', () => {
    const d = dir();
    const a = put(d, 'a.csv', [HDR, '2019-01-02,AAPL,1,1,1,2,1'].join('\n'));
    const b = put(d, 'b.csv', [HDR, '2019-01-02,AAPL,x,1,1,2,1'].join('\n'));
    const p = parseBarFiles([a, b]);
    expect(p.issues).toEqual([{ file: 'b.csv', line: 2, column: 'open', symbol: 'AAPL', date: '2019-01-02', detail: 'open "x" is not a number' }]);
  });
});

describe('parseBarFiles: file-level errors', () => {
  it('an empty (or blank-only) file is an InputError', () => {
    const d = dir();
    for (const [name, content] of [
      ['empty.csv', ''],
      ['blank.csv', '\n  \r\n\n'],
      ['empty.csv.gz', gzipSync('')],
    ] as const) {
      const f = put(d, name, content);
      let err: unknown;
      try {
        parseBarFiles([f]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toBe(`${name}: empty file`);
      expect((err as InputError).exitCode).toBe(2);
    }
  });

  it('a header-only file yields no rows and no issues', () => {
    const p = parseBarFiles([put(dir(), 'h.csv', HDR + '\n')]);
    expect(p.rows).toBe(0);
    expect(p.series.size).toBe(0);
    expect(p.issues).toEqual([]);
  });

  it('a header lacking required columns is an InputError naming them and the line', () => {
    const f = put(dir(), 'nohdr.csv', ['', 'date,symbol,open,high,close', '2019-01-02,AAPL,1,2,1.5'].join('\n'));
    expect(() => parseBarFiles([f])).toThrow(InputError);
    expect(() => parseBarFiles([f])).toThrow(/^nohdr\.csv:2: header lacks low, volume /);
  });

  it('a data file without a header (first line is data) is rejected', () => {
    const f = put(dir(), 'data.csv', '2019-01-02,AAPL,1,2,0.5,1.5,100\n');
    expect(() => parseBarFiles([f])).toThrow(/header lacks date, symbol, open, high, low, close, volume/);
  });
});

describe('listInputFiles', () => {
  it('lists only .csv / .csv.gz files of a directory, sorted, not recursive', () => {
    const d = dir();
    for (const n of ['b.csv', 'a.csv.gz', 'c.txt', 'z.CSV', 'd.csv.bak', 'e.gz', 'notes.md']) put(d, n, HDR);
    mkdirSync(join(d, 'sub'));
    put(join(d, 'sub'), 'inner.csv', HDR);
    expect(listInputFiles(d)).toEqual([join(d, 'a.csv.gz'), join(d, 'b.csv'), join(d, 'z.CSV')]);
  });

  it('returns a single file as given, whatever its extension', () => {
    const f = put(dir(), 'bars.txt', HDR);
    expect(listInputFiles(f)).toEqual([f]);
  });

  it('a missing path is an InputError (input_missing)', () => {
    const p = join(root, 'does-not-exist');
    let err: unknown;
    try {
      listInputFiles(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe('input_missing');
    expect((err as InputError).message).toContain(p);
  });

  it('a directory without CSV files is an InputError', () => {
    const d = dir();
    put(d, 'readme.txt', 'x');
    expect(() => listInputFiles(d)).toThrow(/no \.csv or \.csv\.gz files/);
  });

  it('listed files parse end to end', () => {
    const d = dir();
    put(d, '2019.csv', [HDR, '2019-12-31,AAPL,1,1,1,1,1'].join('\n'));
    put(d, '2020.csv.gz', gzipSync([HDR, '2020-01-02,AAPL,1,1,1,2,1'].join('\n')));
    const p = parseBarFiles(listInputFiles(d));
    expect(p.files).toEqual(['2019.csv', '2020.csv.gz']);
    expect(Array.from(p.series.get('AAPL')!.day)).toEqual([dayNumber('2019-12-31'), dayNumber('2020-01-02')]);
  });
});
