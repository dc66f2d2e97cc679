import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './main.js';
import { SAMPLE_BARS } from './commands/start.js';
import { bar, tempDir, writeBarsCsv } from '../data/test-helpers.js';

function capture() {
  const chunks = { out: '', err: '' };
  const sink = (k: 'out' | 'err') =>
    new Writable({
      write(c, _e, cb) {
        chunks[k] += String(c);
        cb();
      },
    });
  return { io: { stdout: sink('out'), stderr: sink('err') }, chunks };
}

async function run(...argv: string[]) {
  const { io, chunks } = capture();
  const code = await main(argv, io);
  return { code, ...chunks };
}

const tmp = tempDir('kestrel-cli-');
const dataDir = join(tmp.dir, 'data');
afterAll(() => tmp.cleanup());

describe('kestrel CLI', () => {
  beforeAll(async () => {
    const file = writeBarsCsv(join(tmp.dir, 'bars.csv'), [bar('AAA', '2019-06-03', 10), bar('AAA', '2019-06-04', 11), bar('BBB', '2019-06-03', 20), bar('BBB', '2019-06-04', 19)]);
    const r = await run('etl', '--input', file, '--data-dir', dataDir, '--json');
    expect(r.code).toBe(0);
  });

  it('--capital goes through the one bounded parser before anything starts: exit 2, one line (issue #14)', async () => {
    for (const [cmd, v] of [['up', '1e1000000000'], ['up', '100 000'], ['paper-run', '-5'], ['paper-run', '1e15']] as const) {
      const r = await run(cmd, '--capital', v);
      expect(r.code, `${cmd} ${v}`).toBe(2);
      expect(r.err, `${cmd} ${v}`).toMatch(/^kestrel: --capital( "[^"]*")? (is out of range|must be)/);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    const pct = await run('paper-run', '--max-position-pct', '1.5');
    expect(pct.code).toBe(2);
    expect(pct.err.trim()).toMatch(/^kestrel: --max-position-pct "1\.5" is a fraction of capital from 0 to 1/);
  });

  it('etl --json prints one JSON report on stdout', async () => {
    const file = writeBarsCsv(join(tmp.dir, 'again.csv'), [bar('AAA', '2019-06-05', 12)]);
    const r = await run('etl', '--input', file, '--data-dir', dataDir, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { status: string; published: { rows: number }; generated_at: string };
    expect(report.status).toBe('published');
    expect(report.published.rows).toBe(5);
    expect(report.generated_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('sql prints rows as JSON and CSV', async () => {
    const j = await run('sql', '--data-dir', dataDir, '--json', "SELECT symbol, count(*)::INTEGER AS n FROM bars GROUP BY ALL ORDER BY symbol");
    expect(j.code).toBe(0);
    expect(JSON.parse(j.out)).toEqual([
      { symbol: 'AAA', n: 3 },
      { symbol: 'BBB', n: 2 },
    ]);
    const c = await run('sql', '--data-dir', dataDir, '--csv', "SELECT symbol, max(close) AS hi FROM bars GROUP BY ALL ORDER BY symbol");
    expect(c.out.trim().split('\n')).toEqual(['symbol,hi', 'AAA,12', 'BBB,20']);
  });

  it('runs a helper query', async () => {
    const r = await run('sql', '--data-dir', dataDir, '--json', '--helper', 'coverage');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as Array<{ symbol: string; rows: number }>;
    expect(rows.find((x) => x.symbol === 'AAA')?.rows).toBe(3);
  });

  it('bad SQL: DuckDB message on one line, exit 2, no stack trace', async () => {
    const r = await run('sql', '--data-dir', dataDir, 'SELEC 1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^kestrel: Parser Error: syntax error/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/at .*\.js:\d+/);
  });

  it('bad usage and bad input exit 2 with a cause on stderr', async () => {
    expect((await run()).code).toBe(2);
    expect((await run('bogus')).code).toBe(2);
    const noInput = await run('etl');
    expect(noInput.code).toBe(2);
    expect(noInput.err).toMatch(/--input/);
    const missing = await run('etl', '--input', join(tmp.dir, 'nope.csv'), '--data-dir', dataDir);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^kestrel: --input ".*nope\.csv": no such file or directory \(want a CSV or CSV\.gz file, or a directory of them\)\n$/);
    const badDate = await run('etl', '--input', SAMPLE_BARS, '--as-of', '2020-13-01', '--data-dir', dataDir);
    expect(badDate.code).toBe(2);
    const noData = await run('sql', '--data-dir', join(tmp.dir, 'empty'), 'SELECT 1');
    expect(noData.code).toBe(2);
    expect(noData.err).toMatch(/run `kestrel etl/);
  });

  it('an unknown command exits 2 naming it, with --help and via help too (not the main help with 0)', async () => {
    for (const argv of [['worker', '--help'], ['help', 'worker'], ['worker']]) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^kestrel: unknown command "worker" \(commands: start, etl, .*paper-run.*\)\n$/);
    }
    expect((await run('satus', '--help')).err).toBe('kestrel: unknown command "satus" (did you mean status?)\n');
    expect((await run('paper', '--help')).err).toBe('kestrel: unknown command "paper" (did you mean paper-run?)\n');
    const nested = await run('risk', 'tirp', '--help');
    expect(nested.code).toBe(2);
    expect(nested.err).toMatch(/^kestrel: unknown command "tirp" \(did you mean trip\?\)\n$/);
    // Known commands still show their help and exit 0.
    for (const argv of [['status', '--help'], ['help', 'status'], ['risk', 'trip', '--help']]) expect((await run(...argv)).code).toBe(0);
  });

  it('commander usage errors are one line on stderr, exit 2, with a pointer to the help', async () => {
    const r = await run('paper-run', '--capitol', '5');
    expect(r.code).toBe(2);
    expect(r.err).toBe("kestrel: unknown option '--capitol' (did you mean --capital?) (see kestrel paper-run --help)\n");
    const missing = await run('risk', 'trip');
    expect(missing.err).toBe("kestrel: required option '--reason <text>' not specified (see kestrel risk trip --help)\n");
  });

  it('paper-run: a bad value exits 2 with one line naming the flag, before anything is written', async () => {
    const varDir = join(tmp.dir, 'var-refused');
    const before = process.env.KESTREL_VAR_DIR;
    process.env.KESTREL_VAR_DIR = varDir;
    try {
      const cases: Array<[string[], RegExp]> = [
        [['--capital', 'abc'], /^kestrel: --capital "abc" must be a positive amount in USD, e\.g\. 100000\n$/],
        [['--slippage-bps', '-5'], /^kestrel: --slippage-bps "-5" must be basis points from 0 to 1000\n$/],
        [['--max-position-pct', '10'], /^kestrel: --max-position-pct "10" is a fraction of capital from 0 to 1, not a percent \(10% = 0\.1\)\n$/],
        [['--days', '0'], /^kestrel: --days "0" must be a whole number/],
        [['--top-n', '-1'], /^kestrel: --top-n "-1" must be a whole number of names from 0 to 500\n$/],
        [['--as-of', '2019-02-30'], /^kestrel: --as-of "2019-02-30" must be a date YYYY-MM-DD/],
        // Past the stored data: refused naming the last stored day (not silently clamped).
        [['--as-of', '2030-01-01'], /^kestrel: --as-of 2030-01-01 is after the last stored trading day 2019-06-05: pass --as-of 2019-06-05 or earlier/],
        [['--days', '5'], /^kestrel: --days 5 needs 6 trading days of data up to 2019-06-05 .* has 3 \(from 2019-06-03\)\n$/],
        [['--top-n', '0', '--bottom-n', '0'], /^kestrel: --top-n and --bottom-n are both 0/],
      ];
      for (const [args, msg] of cases) {
        const r = await run('paper-run', '--data-dir', dataDir, ...args);
        expect({ args, code: r.code }).toEqual({ args, code: 2 });
        expect(r.err).toMatch(msg);
        expect(r.out).toBe('');
      }
      const riskEnv = process.env.RISK_MAX_POSITION_PCT;
      process.env.RISK_MAX_POSITION_PCT = '10';
      const r = await run('paper-run', '--data-dir', dataDir, '--days', '1');
      if (riskEnv === undefined) delete process.env.RISK_MAX_POSITION_PCT;
      else process.env.RISK_MAX_POSITION_PCT = riskEnv;
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/RISK_MAX_POSITION_PCT="10"\): must be a fraction of equity .*\(10% = 0\.1\)/);
      expect(existsSync(varDir)).toBe(false);
      expect((await run('start', '--days', 'x')).err).toMatch(/^kestrel: --days "x" must be a whole number/);
    } finally {
      if (before === undefined) delete process.env.KESTREL_VAR_DIR;
      else process.env.KESTREL_VAR_DIR = before;
    }
  });

  it('a failed quality gate exits 1 and still prints the report', async () => {
    const file = writeBarsCsv(join(tmp.dir, 'stale.csv'), [bar('AAA', '2019-06-06', 12)]);
    const r = await run('etl', '--input', file, '--data-dir', dataDir, '--as-of', '2019-12-31', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).status).toBe('failed');
    expect(r.err).toMatch(/^kestrel: quality gate freshness/);
  });

  it('every command has --help with examples', async () => {
    for (const cmd of ['etl', 'sql', 'start', 'paper-run', 'status']) {
      const r = await run(cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/Usage: kestrel/);
    }
    expect((await run('etl', '--help')).out).toMatch(/Examples:/);
  });
});

describe('the installed bin', () => {
  const bin = fileURLToPath(new URL('../../bin/kestrel.js', import.meta.url));
  it('runs the compiled CLI (npx kestrel)', () => {
    const out = execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const bad = spawnSync(process.execPath, [bin, 'sql', '--data-dir', dataDir, 'SELECT nope FROM bars'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^kestrel: Binder Error/);
  });
});
