import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { defaultGates, loadGates, parseGates, ROW_RULES } from './rules.js';

/** Runs fn and returns what it threw (fails the test when it does not throw). */
function thrown(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError, nothing was thrown');
}

describe('defaultGates', () => {
  it('has the documented defaults', () => {
    expect(defaultGates()).toEqual({
      malformed: { enabled: true, maxRows: null },
      duplicate: { enabled: true, maxRows: null },
      non_trading_day: { enabled: true, maxRows: null },
      non_positive_price: { enabled: true, maxRows: null },
      ohlc_invariant: { enabled: true, maxRows: null, relTolerance: 0 },
      non_positive_volume: { enabled: true, maxRows: null },
      price_level: { enabled: true, maxRows: null, maxFactor: 4, window: 21, minPrice: 0.01 },
      large_move: { enabled: true, maxRows: null, maxAbsReturn: 0.3 },
      stale_price: { enabled: true, maxRows: null, maxUnchangedDays: 5 },
      missing_dates: { enabled: true, maxRows: null, maxMissingDays: null },
      freshness: { enabled: true, maxLagDays: 1 },
      maxQuarantineFraction: 0.05,
    });
  });

  it('every row rule has a config section with an enabled flag', () => {
    const g = defaultGates();
    for (const r of ROW_RULES) expect(g[r].enabled).toBe(true);
  });

  it('returns a fresh object each time (mutating one does not leak into the next)', () => {
    const a = defaultGates();
    a.large_move.maxAbsReturn = 9;
    a.stale_price.enabled = false;
    const b = defaultGates();
    expect(b.large_move.maxAbsReturn).toBe(0.3);
    expect(b.stale_price.enabled).toBe(true);
  });

  it('null / undefined config means defaults', () => {
    expect(parseGates(null, 'x')).toEqual(defaultGates());
    expect(parseGates(undefined, 'x')).toEqual(defaultGates());
    expect(parseGates({}, 'x')).toEqual(defaultGates());
  });
});

describe('parseGates', () => {
  it('a partial override merges with the defaults, field by field', () => {
    const g = parseGates({ large_move: { maxAbsReturn: 0.5 }, stale_price: { enabled: false }, maxQuarantineFraction: 0.2 }, 'g.json');
    expect(g.large_move).toEqual({ enabled: true, maxRows: null, maxAbsReturn: 0.5 });
    expect(g.stale_price).toEqual({ enabled: false, maxRows: null, maxUnchangedDays: 5 });
    expect(g.maxQuarantineFraction).toBe(0.2);
    // Untouched sections keep their defaults.
    const d = defaultGates();
    expect(g.duplicate).toEqual(d.duplicate);
    expect(g.ohlc_invariant).toEqual(d.ohlc_invariant);
    expect(g.freshness).toEqual(d.freshness);
  });

  it('accepts a tolerance (maxRows) per rule', () => {
    expect(parseGates({ duplicate: { maxRows: 3 } }, 'g').duplicate).toEqual({ enabled: true, maxRows: 3 });
  });

  it('rejects an unknown top-level key, naming it', () => {
    const e = thrown(() => parseGates({ large_moves: { maxAbsReturn: 0.5 } }, 'g.json'));
    expect(e.code).toBe('bad_config');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/^g\.json: \(root\): /);
    expect(e.message).toContain('large_moves');
  });

  it('rejects an unknown nested key with the path of its section', () => {
    const e = thrown(() => parseGates({ large_move: { maxAbsReturn: 0.5, maxReturn: 0.4 } }, 'g.json'));
    expect(e.message).toMatch(/^g\.json: large_move: /);
    expect(e.message).toContain('maxReturn');
  });

  it('rejects the freshness section carrying maxRows (it has no rows)', () => {
    const e = thrown(() => parseGates({ freshness: { maxRows: 1 } }, 'g.json'));
    expect(e.message).toMatch(/^g\.json: freshness: .*maxRows/);
  });

  it.each([
    [{ stale_price: { maxUnchangedDays: 0 } }, 'stale_price.maxUnchangedDays'],
    [{ stale_price: { maxUnchangedDays: 2.5 } }, 'stale_price.maxUnchangedDays'],
    [{ large_move: { maxAbsReturn: 0 } }, 'large_move.maxAbsReturn'],
    [{ ohlc_invariant: { relTolerance: -0.1 } }, 'ohlc_invariant.relTolerance'],
    [{ duplicate: { maxRows: -1 } }, 'duplicate.maxRows'],
    [{ duplicate: { enabled: 'yes' } }, 'duplicate.enabled'],
    [{ maxQuarantineFraction: 1.5 }, 'maxQuarantineFraction'],
    [{ large_move: null }, 'large_move'],
    [{ price_level: { maxFactor: 1 } }, 'price_level.maxFactor'],
    [{ price_level: { window: 4 } }, 'price_level.window'],
    [{ price_level: { window: 21.5 } }, 'price_level.window'],
    [{ price_level: { minPrice: -0.01 } }, 'price_level.minPrice'],
  ])('rejects an invalid value %j at %s', (json, path) => {
    const e = thrown(() => parseGates(json, 'g.json'));
    expect(e.message.startsWith(`g.json: ${path}: `)).toBe(true);
  });

  it('rejects a non-object config', () => {
    for (const json of [[], 'gates', 42]) {
      expect(thrown(() => parseGates(json, 'g.json')).message).toMatch(/^g\.json: \(root\): /);
    }
  });

  it('boundary values are accepted', () => {
    const g = parseGates({ stale_price: { maxUnchangedDays: 1 }, duplicate: { maxRows: 0 }, maxQuarantineFraction: 0, ohlc_invariant: { relTolerance: 0 } }, 'g');
    expect(g.stale_price.maxUnchangedDays).toBe(1);
    expect(g.duplicate.maxRows).toBe(0);
    expect(g.maxQuarantineFraction).toBe(0);
    expect(parseGates({ maxQuarantineFraction: 1 }, 'g').maxQuarantineFraction).toBe(1);
  });
});

describe('loadGates', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kestrel-gates-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('no file means defaults', () => {
    expect(loadGates(undefined)).toEqual(defaultGates());
    expect(loadGates('')).toEqual(defaultGates());
  });

  it('reads and merges a JSON file', () => {
    const f = join(dir, 'gates.json');
    writeFileSync(f, JSON.stringify({ large_move: { maxAbsReturn: 0.25 } }));
    const g = loadGates(f);
    expect(g.large_move.maxAbsReturn).toBe(0.25);
    expect(g.stale_price.maxUnchangedDays).toBe(5);
  });

  it('a missing file is an InputError naming the flag (or variable) and the file', () => {
    const f = join(dir, 'nope.json');
    const e = thrown(() => loadGates(f));
    expect(e.code).toBe('bad_config');
    expect(e.message).toBe(`--gates ${JSON.stringify(f)}: no such file (want a JSON file of gate settings, see docs/data-quality.md)`);
    expect(thrown(() => loadGates(f, 'KESTREL_GATES_FILE')).message).toMatch(/^KESTREL_GATES_FILE ".*nope\.json": no such file/);
    expect(thrown(() => loadGates(dir)).message).toMatch(/: is a directory, want a JSON file/);
  });

  it('invalid JSON is an InputError naming the file', () => {
    const f = join(dir, 'broken.json');
    writeFileSync(f, '{ "large_move": { "maxAbsReturn": 0.5 ');
    const e = thrown(() => loadGates(f));
    expect(e.code).toBe('bad_config');
    expect(e.message.startsWith(`--gates ${JSON.stringify(f)}: not valid JSON`)).toBe(true);
  });

  it('a schema error in a file names the file and the path', () => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, JSON.stringify({ stale_price: { maxUnchangedDays: 0 } }));
    expect(thrown(() => loadGates(f)).message.startsWith(`--gates ${JSON.stringify(f)}: stale_price.maxUnchangedDays: `)).toBe(true);
  });

  it('an empty JSON object or null means defaults', () => {
    const f = join(dir, 'null.json');
    writeFileSync(f, 'null');
    expect(loadGates(f)).toEqual(defaultGates());
  });
});
