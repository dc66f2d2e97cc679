import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dayNumber, dayString, fixedClock, isoUtc, newYorkDate } from './clock.js';

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
