import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { asOfClock, dayNumber, dayString, fixedClock, isoUtc, newYorkDate, newYorkInstant } from './clock.js';

describe('clock', () => {
  it('formats instants as UTC ISO-8601 with offset', () => {
    expect(isoUtc(new Date(Date.UTC(2025, 0, 17, 14, 30)))).toBe('2025-01-17T14:30:00.000Z');
  });

  it('fixed clock stays put and advances on request', () => {
    const c = fixedClock('2025-01-17T14:30:00Z');
    expect(c.now().toISOString()).toBe('2025-01-17T14:30:00.000Z');
    c.advance(60_000);
    expect(c.now().toISOString()).toBe('2025-01-17T14:31:00.000Z');
  });

  it('day numbers round-trip and reject impossible dates', () => {
    expect(dayNumber('1970-01-02')).toBe(1);
    expect(dayNumber('2020-02-30')).toBeNaN();
    expect(dayNumber('2020-1-3')).toBeNaN();
    fc.assert(fc.property(fc.integer({ min: -700_000, max: 2_900_000 }), (d) => dayNumber(dayString(d)) === d));
    // Agrees with Date on every day, and rejects what Date would roll over.
    fc.assert(fc.property(fc.integer({ min: 1900, max: 2200 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }), (y, m, d) => {
      const s = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
      const t = Date.UTC(y, m - 1, d);
      const real = new Date(t).getUTCDate() === d;
      return real ? dayNumber(s) === t / 86_400_000 : Number.isNaN(dayNumber(s));
    }));
    expect(dayNumber('2020-02-29')).toBe(18321);
    expect(dayNumber('2019-02-29')).toBeNaN();
    expect(dayNumber('2020-0a-01')).toBeNaN();
  });

  it('trading date is the New York calendar date, not UTC', () => {
    // 02:00 UTC on Jan 18 is still Jan 17 in New York.
    expect(newYorkDate(new Date('2025-01-18T02:00:00Z'))).toBe('2025-01-17');
  });
});

describe('as-of clock', () => {
  it('newYorkInstant: New York wall time on a date, in winter and in summer', () => {
    expect(newYorkInstant('2020-01-10', 9, 30).toISOString()).toBe('2020-01-10T14:30:00.000Z');
    expect(newYorkInstant('2019-07-15', 9, 30).toISOString()).toBe('2019-07-15T13:30:00.000Z');
    expect(newYorkInstant('2019-03-11', 16, 0).toISOString()).toBe('2019-03-11T20:00:00.000Z'); // the Monday after the spring change
    expect(() => newYorkInstant('2020-02-30', 9, 30)).toThrow(RangeError);
  });

  it('reads the as-of date from its 09:30 open and runs at the base clock’s pace', () => {
    const base = fixedClock('2026-06-01T02:00:00Z');
    const c = asOfClock('2020-01-10', base);
    expect(c.now().toISOString()).toBe('2020-01-10T14:30:00.000Z');
    base.advance(90_000);
    expect(c.now().toISOString()).toBe('2020-01-10T14:31:30.000Z');
    expect(newYorkDate(c.now())).toBe('2020-01-10');
  });
});
