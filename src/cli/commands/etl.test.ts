import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { tempDir } from '../../data/test-helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = tempDir('kestrel-etl-cli-');
afterAll(() => tmp.cleanup());

async function run(...argv: string[]) {
  const chunks = { out: '', err: '' };
  const sink = (k: 'out' | 'err') => new Writable({ write: (c, _e, cb) => ((chunks[k] += String(c)), cb()) });
  const code = await main(argv, { stdout: sink('out'), stderr: sink('err') });
  return { code, ...chunks };
}

const good = join(tmp.dir, 'good.csv');
writeFileSync(good, 'date,symbol,open,high,low,close,volume\n2019-06-03,ABC,10,11,9,10,100\n2019-06-04,ABC,10,11,9,10.5,100\n');

describe('kestrel etl: a bad flag value is exit 2 and one line naming the flag, the value and what is expected', () => {
  const dataDir = join(tmp.dir, 'flags');
  const notJson = join(tmp.dir, 'gates.json');
  writeFileSync(notJson, '{ "large_move": ');
  const badKey = join(tmp.dir, 'gates-key.json');
  writeFileSync(badKey, '{ "price_level": { "maxFactor": 0.5 } }');
  const cases: Array<[string[], RegExp]> = [
    [['--actions', '/nope.csv'], /^kestrel: --actions "\/nope\.csv": no such file \(want a CSV of symbol,ex_date,type,value\)\n$/],
    [['--actions', tmp.dir], /^kestrel: --actions ".*": not a file/],
    [['--gates', '/nope.json'], /^kestrel: --gates "\/nope\.json": no such file/],
    [['--gates', notJson], /^kestrel: --gates ".*gates\.json": not valid JSON/],
    [['--gates', badKey], /^kestrel: --gates ".*gates-key\.json": price_level\.maxFactor: /],
    [['--report', join(tmp.dir, 'nope', 'r.json')], /^kestrel: --report ".*r\.json": directory .*nope does not exist\n$/],
    [['--report', tmp.dir], /^kestrel: --report ".*": is a directory, want a file path\n$/],
    [['--as-of', '2020-13-01'], /^kestrel: --as-of "2020-13-01" must be a YYYY-MM-DD calendar date/],
    [['--data-dir', good], /^kestrel: --data-dir ".*good\.csv": not a directory\n$/],
  ];
  it.each(cases)('%j', async (flags, msg) => {
    const r = await run('etl', '--input', good, '--data-dir', dataDir, ...flags);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    // Checked before any work: nothing was published.
    expect(existsSync(join(dataDir, '_manifest.json'))).toBe(false);
  });

  it('--input "" is refused (it used to mean the working directory)', async () => {
    const r = await run('etl', '--input', '', '--data-dir', dataDir);
    expect(r.code).toBe(2);
    expect(r.err).toBe('kestrel: --input "": want a CSV or CSV.gz file, or a directory of them\n');
  });

  it('--input that does not exist names the flag', async () => {
    const r = await run('etl', '--input', join(tmp.dir, 'nope.csv'), '--data-dir', dataDir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^kestrel: --input ".*nope\.csv": no such file or directory \(want a CSV or CSV\.gz file, or a directory of them\)\n$/);
  });
});

describe('kestrel etl: malformed lines are listed in every output', () => {
  const us = join(tmp.dir, 'us.csv');
  writeFileSync(us, 'date,symbol,open,high,low,close,volume\n01/02/2020,AAPL,1,1,1,1,100\n01/03/2020,AAPL,1,1,1,1,100\n');
  const line2 = 'line 2: date "01/02/2020" is not YYYY-MM-DD (US dates are not accepted; convert to ISO)';

  it('text: the lines and reasons, "nothing" published; stderr one line; exit 2', async () => {
    const report = join(tmp.dir, 'us-report.json');
    const r = await run('etl', '--input', us, '--data-dir', join(tmp.dir, 'us'), '--report', report);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`us.csv ${line2}`);
    expect(r.out).toContain('us.csv line 3: date "01/03/2020"');
    expect(r.out).toMatch(/published {2}nothing: the run failed, the data directory is unchanged/);
    expect(r.out).not.toMatch(/published {2}\d/);
    expect(r.err).toBe(`kestrel: no line of the input could be read: us.csv ${line2} (and 1 more malformed line); nothing published\n`);
    const saved = JSON.parse(readFileSync(report, 'utf8')) as { malformed_lines: { listed: Array<{ line: number; column: string }> } };
    expect(saved.malformed_lines.listed.map((m) => [m.line, m.column])).toEqual([
      [2, 'date'],
      [3, 'date'],
    ]);
  });

  it('--json: the same listing, published rows 0', async () => {
    const r = await run('etl', '--input', us, '--data-dir', join(tmp.dir, 'us'), '--json');
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out) as { status: string; failure_code: string; published: { rows: number }; malformed_lines: { total: number; listed: Array<{ file: string; line: number; reason: string }> } };
    expect(j).toMatchObject({ status: 'failed', failure_code: 'malformed_input', published: { rows: 0 } });
    expect(j.malformed_lines.listed[0]).toMatchObject({ file: 'us.csv', line: 2 });
    expect(`line ${j.malformed_lines.listed[0]!.line}: ${j.malformed_lines.listed[0]!.reason}`).toBe(line2);
  });
});

describe('kestrel etl --help', () => {
  it('every example names a file of the repository or a <placeholder>, and the runnable ones run', async () => {
    const help = (await run('etl', '--help')).out;
    const examples = help.split('\n').filter((l) => l.trim().startsWith('kestrel etl '));
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const ex of examples) {
      const args = ex.trim().split(/\s+/).slice(1);
      args.forEach((a, i) => {
        if (['--input', '--actions', '--gates'].includes(args[i - 1] ?? '')) {
          if (!/^<.+>$/.test(a)) expect(existsSync(join(ROOT, a)), `${ex}: ${a}`).toBe(true);
        }
      });
      if (args.some((a) => a.startsWith('<'))) continue;
      // Run as printed, from the repository, into a temp data dir (and a temp --report path).
      const argv = args.map((a, i) => (args[i - 1] === '--report' ? join(tmp.dir, a) : args[i - 1] === '--input' ? join(ROOT, a) : a));
      const r = await run(...argv, '--data-dir', join(tmp.dir, 'help-example'));
      expect(r.code, `${ex}\n${r.err}`).toBe(0);
    }
  });
});
