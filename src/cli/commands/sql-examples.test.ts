import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { SAMPLE_BARS } from './start.js';
import { etl, tempDir } from '../../data/test-helpers.js';

/** Every examples/sql file, run as its header says, must return rows on the bundled sample. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FILES = readdirSync(join(ROOT, 'examples', 'sql')).filter((f) => f.endsWith('.sql')).sort();

const tmp = tempDir('kestrel-examples-');
const dataDir = join(tmp.dir, 'data');
afterAll(() => tmp.cleanup());
beforeAll(async () => {
  await etl(SAMPLE_BARS, dataDir);
});

async function sqlJson(file: string): Promise<{ code: number; rows: unknown[]; err: string }> {
  const out = { out: '', err: '' };
  const sink = (k: 'out' | 'err') => new Writable({ write: (c, _e, cb) => ((out[k] += String(c)), cb()) });
  const code = await main(['sql', '--data-dir', dataDir, '--json', '--file', file], { stdout: sink('out'), stderr: sink('err') });
  return { code, rows: code === 0 ? (JSON.parse(out.out) as unknown[]) : [], err: out.err };
}

describe('examples/sql on the bundled sample', () => {
  it('there are examples to run', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(7);
  });

  it.each(FILES)('%s returns at least one row and its header says how to run it', async (name) => {
    const path = join(ROOT, 'examples', 'sql', name);
    expect(readFileSync(path, 'utf8')).toContain(`-- Run:   kestrel sql --file examples/sql/${name}`);
    const r = await sqlJson(path);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.rows.length).toBeGreaterThanOrEqual(1);
  });
});
