import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newYorkDate } from '../core/clock.js';
import { tradeDateOf } from './trade-date.js';

describe('tradeDateOf', () => {
  it('is New York midnight, not UTC midnight, across DST changes', () => {
    expect(tradeDateOf(new Date('2025-01-17T04:59:59Z'))).toBe('2025-01-16');
    expect(tradeDateOf(new Date('2025-01-17T05:00:00Z'))).toBe('2025-01-17');
    expect(tradeDateOf(new Date('2025-07-01T03:59:59Z'))).toBe('2025-06-30');
    expect(tradeDateOf(new Date('2025-07-01T04:00:00Z'))).toBe('2025-07-01');
  });

  it('property: equals core/clock newYorkDate for any instant, in any order of calls', () => {
    fc.assert(
      fc.property(fc.array(fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), { maxLength: 20 }), (ds) => {
        for (const d of ds) expect(tradeDateOf(d)).toBe(newYorkDate(d));
      }),
    );
  });
});
