import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../main.js';

async function run(...argv: string[]) {
  const chunks = { out: '', err: '' };
  const sink = (k: 'out' | 'err') =>
    new Writable({
      write(c, _e, cb) {
        chunks[k] += String(c);
        cb();
      },
    });
  const code = await main(argv, { stdout: sink('out'), stderr: sink('err') });
  return { code, ...chunks };
}

describe('kestrel up / serve flags', () => {
  it('--help: the ports, the as-of mode on the sample, examples', async () => {
    const r = await run('up', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('--as-of <date|last>');
    expect(r.out).toContain('MARKETDATA_PORT 7305');
    expect(r.out).toContain('Examples:');
  });

  it('refuses a bad --capital or --as-of before anything starts: exit 2, one line', async () => {
    for (const [argv, msg] of [
      [['up', '--capital', 'abc'], 'kestrel: --capital "abc" must be a positive amount of dollars such as 1000000 (at most 2 decimals)\n'],
      [['up', '--capital', '0'], 'kestrel: --capital "0" must be a positive amount of dollars such as 1000000 (at most 2 decimals)\n'],
      [['up', '--as-of', '2020-02-30'], 'kestrel: --as-of "2020-02-30": use a date YYYY-MM-DD of the stored data or last (its last day)\n'],
      [['serve', 'gateway', '--as-of', 'yesterday'], 'kestrel: --as-of "yesterday": use a date YYYY-MM-DD of the stored data or last (its last day)\n'],
    ] as const) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toBe(msg);
      expect(r.out).toBe('');
    }
  });
});
