import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { SAMPLE_BARS } from './start.js';
import { etl, tempDir } from '../../data/test-helpers.js';

/** `kestrel features` (src/cli/commands/research.ts): flags and what it prints. */
const tmp = tempDir('kestrel-features-cli-');
const dataDir = join(tmp.dir, 'data');
afterAll(() => tmp.cleanup());
beforeAll(async () => {
  await etl(SAMPLE_BARS, dataDir);
});

async function features(...argv: string[]) {
  const chunks = { out: '', err: '' };
  const sink = (k: 'out' | 'err') => new Writable({ write: (c, _e, cb) => ((chunks[k] += String(c)), cb()) });
  const code = await main(['features', '--data-dir', dataDir, ...argv], { stdout: sink('out'), stderr: sink('err') });
  return { code, ...chunks };
}

describe('kestrel features', () => {
  it.each([
    [['--from', '2019-13-01'], 'kestrel: --from "2019-13-01" must be a YYYY-MM-DD calendar date, e.g. 2019-01-02'],
    [['--to', 'yesterday'], 'kestrel: --to "yesterday" must be a YYYY-MM-DD calendar date, e.g. 2019-01-02'],
    [['--from', '2019-06-01', '--to', '2019-01-01'], 'kestrel: --from 2019-06-01 is after --to 2019-01-01'],
    [['--symbols', ',,'], 'kestrel: --symbols ",,": want comma-separated tickers, e.g. AAPL,MSFT'],
    [['--symbols', 'aapl;drop'], 'kestrel: --symbols "aapl;drop" must be a US equity ticker: a letter, then up to 9 letters or digits, optionally a point and a 1-3 character class (AAPL, BRK.B); ASCII only, no spaces'],
    [['--symbols', 'AAPL,ZZZZ'], 'kestrel: --symbols: no bars for ZZZZ (the symbols are those of `kestrel sql "SELECT DISTINCT symbol FROM bars"`)'],
    [['--threads', '0'], 'kestrel: --threads "0" must be a whole number from 1 to 64'],
    [['--threads', '1e9'], 'kestrel: --threads "1e9" must be a whole number from 1 to 64'],
    [['--from', '2030-01-01'], 'kestrel: --from 2030-01-01: no bars in that range (the bars span 2015-01-12 → 2020-01-10)'],
  ])('%j: exit 2, one line, nothing written', async (args, line) => {
    const r = await features(...args);
    expect(r.code).toBe(2);
    expect(r.err).toBe(line + '\n');
    expect(r.out).toBe('');
  });

  it('the --help example updates two symbols and says what it kept', async () => {
    const first = await features('--symbols', 'AAPL,MSFT,KO', '--threads', '1');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^features: 3 symbols × 1,259 days updated \(3,777 rows × 159 columns, 2015-01-12 → 2020-01-10\); 0 symbols kept \(0 rows kept in all\); store now 3,777 rows, 3 symbols\n/);
    expect((await features('--help')).out).toContain('kestrel features --symbols AAPL,MSFT --from 2019-01-01');
    const r = await features('--symbols', 'AAPL,MSFT', '--from', '2019-01-01');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('features: 2 symbols × 259 days updated (518 rows × 159 columns, 2019-01-02 → 2020-01-10); 1 symbol kept (3,259 rows kept in all); store now 3,777 rows, 3 symbols');
    expect(r.out.split('\n')[1]).toMatch(/^ {2}0 files written, \d+ unchanged; load \d+ ms, compute \d+ ms, write \d+ ms$/);
    const j = JSON.parse((await features('--symbols', 'KO', '--from', '2019-12-01', '--json')).out) as { rows: number; kept: { rows: number; symbols: number }; store: { rows: number } };
    expect(j).toMatchObject({ rows: 28, kept: { rows: 3777 - 28, symbols: 2 }, store: { rows: 3777 } }); // 21 days of Dec 2019, 7 of Jan 2020
  });
});
