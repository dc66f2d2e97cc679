import { describe, expect, it } from 'vitest';
import { marketClock } from './market-clock.js';

describe('GET /v2/clock model', () => {
  it('knows sessions, weekends, holidays, early closes and daylight saving time', () => {
    expect(marketClock(new Date('2025-01-18T15:00:00Z'))).toEqual({
      timestamp: '2025-01-18T10:00:00.000-05:00', // Saturday
      is_open: false,
      next_open: '2025-01-21T09:30:00.000-05:00', // Monday is MLK Day
      next_close: '2025-01-21T16:00:00.000-05:00',
    });
    // before the open, after the close
    expect(marketClock(new Date('2025-01-17T14:00:00Z'))).toMatchObject({ is_open: false, next_open: '2025-01-17T09:30:00.000-05:00' });
    expect(marketClock(new Date('2025-01-17T21:00:00Z'))).toMatchObject({ is_open: false, next_open: '2025-01-21T09:30:00.000-05:00' });
    // summer time, and the 13:00 close the day after Thanksgiving
    expect(marketClock(new Date('2025-07-15T13:30:00Z'))).toMatchObject({ is_open: true, timestamp: '2025-07-15T09:30:00.000-04:00', next_close: '2025-07-15T16:00:00.000-04:00' });
    expect(marketClock(new Date('2025-11-28T17:30:00Z'))).toMatchObject({ is_open: true, next_close: '2025-11-28T13:00:00.000-05:00' });
    expect(marketClock(new Date('2025-11-28T18:00:00Z'))).toMatchObject({ is_open: false, next_open: '2025-12-01T09:30:00.000-05:00' });
  });
});
