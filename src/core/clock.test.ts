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
    fc.assert(fc.property(fc.integer({ min: 0, max: 60_000 }), (d) => dayNumber(dayString(d)) === d));
  });

  it('trading date is the New York calendar date, not UTC', () => {
    // 02:00 UTC on Jan 18 is still Jan 17 in New York.
    expect(newYorkDate(new Date('2025-01-18T02:00:00Z'))).toBe('2025-01-17');
  });
});
