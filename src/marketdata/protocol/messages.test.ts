import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseClientFrame, parseServerFrame } from './messages.js';

const trade = { T: 't', S: 'AAPL', i: 1, x: 'V', p: 101.25, s: 100, t: '2025-01-17T14:30:00.000Z', c: ['@'], z: 'C' };
const quote = { T: 'q', S: 'AAPL', bx: 'V', bp: 101.2, bs: 3, ax: 'V', ap: 101.3, as: 2, t: '2025-01-17T14:30:00.000Z', c: ['R'], z: 'C' };
const bar = { T: 'b', S: 'AAPL', o: 1, h: 2, l: 0.5, c: 1.5, v: 1000, t: '2025-01-17T14:30:00Z' };

describe('parseServerFrame', () => {
  it('parses every message kind of a frame in order', () => {
    const r = parseServerFrame(
      JSON.stringify([{ T: 'success', msg: 'connected' }, { T: 'error', code: 402, msg: 'auth failed' }, { T: 'subscription', trades: ['AAPL'], quotes: [], bars: [] }, trade, quote, bar]),
    );
    expect(r.malformed).toBe(0);
    expect(r.messages.map((m) => m.T)).toEqual(['success', 'error', 'subscription', 't', 'q', 'b']);
  });

  it('counts and skips bad elements, keeps the good ones', () => {
    const r = parseServerFrame(JSON.stringify([trade, { T: 't', S: 'AAPL' }, { T: 'zz' }, 7, null, { ...trade, p: -1 }, bar]));
    expect(r.malformed).toBe(5);
    expect(r.messages.map((m) => m.T)).toEqual(['t', 'b']);
  });

  it('a non-JSON or non-array frame is one malformed message', () => {
    expect(parseServerFrame('{oops')).toEqual({ messages: [], malformed: 1 });
    expect(parseServerFrame('{"T":"success","msg":"connected"}')).toEqual({ messages: [], malformed: 1 });
  });

  it('fuzz: never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = parseServerFrame(s);
        expect(r.malformed + r.messages.length).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 500 },
    );
  });

  it('fuzz: arrays of arbitrary JSON plus valid messages — valid ones survive, the rest are counted', () => {
    const junk = fc.jsonValue().filter((v) => !(typeof v === 'object' && v !== null && !Array.isArray(v) && 'T' in v));
    const item = fc.oneof(fc.constant(trade), fc.constant(bar), junk);
    fc.assert(
      fc.property(fc.array(item, { maxLength: 20 }), (arr) => {
        const r = parseServerFrame(JSON.stringify(arr));
        const good = arr.filter((x) => x === trade || x === bar).length;
        expect(r.messages.length).toBe(good);
        expect(r.malformed).toBe(arr.length - good);
      }),
      { numRuns: 300 },
    );
  });

  it('fuzz: mutated trades either parse to a valid trade or are counted', () => {
    const mutated = fc.record({ T: fc.constant('t'), S: fc.oneof(fc.string(), fc.integer()), i: fc.oneof(fc.integer(), fc.double()), p: fc.oneof(fc.double(), fc.string()), s: fc.double(), t: fc.string(), x: fc.string(), c: fc.array(fc.string()), z: fc.string() }, { requiredKeys: ['T'] });
    fc.assert(
      fc.property(fc.array(mutated, { maxLength: 10 }), (arr) => {
        const r = parseServerFrame(JSON.stringify(arr));
        expect(r.messages.length + r.malformed).toBe(arr.length);
        for (const m of r.messages) if (m.T === 't') expect(m.p).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseClientFrame', () => {
  it('accepts auth / subscribe / unsubscribe and rejects the rest with 400', () => {
    expect(parseClientFrame('{"action":"auth","key":"k","secret":"s"}').ok).toBe(true);
    expect(parseClientFrame('{"action":"subscribe","trades":["AAPL"]}').ok).toBe(true);
    expect(parseClientFrame('{"action":"unsubscribe","bars":["*"]}').ok).toBe(true);
    expect(parseClientFrame('nope')).toMatchObject({ ok: false, code: 400 });
    expect(parseClientFrame('{"action":"listen"}')).toMatchObject({ ok: false, code: 400 });
  });

  it('fuzz: never throws', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v) ?? '')), (s) => void parseClientFrame(s)), { numRuns: 500 });
  });
});
