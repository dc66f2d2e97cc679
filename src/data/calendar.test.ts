import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dayNumber, dayString } from '../core/clock.js';
import {
  countTradingDays,
  easter,
  holidayName,
  holidaysInYear,
  isEarlyClose,
  isTradingDay,
  nextTradingDay,
  previousTradingDay,
  tradingDaysBetween,
  weekday,
} from './calendar.js';

const D = (s: string): number => dayNumber(s);
const yearRange = (y: number): [number, number] => [D(`${y}-01-01`), D(`${y}-12-31`)];

// Published NYSE full-day closures.
const NYSE_HOLIDAYS: Record<number, string[]> = {
  2015: ['2015-01-01', '2015-01-19', '2015-02-16', '2015-04-03', '2015-05-25', '2015-07-03', '2015-09-07', '2015-11-26', '2015-12-25'],
  2016: ['2016-01-01', '2016-01-18', '2016-02-15', '2016-03-25', '2016-05-30', '2016-07-04', '2016-09-05', '2016-11-24', '2016-12-26'],
  2017: ['2017-01-02', '2017-01-16', '2017-02-20', '2017-04-14', '2017-05-29', '2017-07-04', '2017-09-04', '2017-11-23', '2017-12-25'],
  2018: ['2018-01-01', '2018-01-15', '2018-02-19', '2018-03-30', '2018-05-28', '2018-07-04', '2018-09-03', '2018-11-22', '2018-12-05', '2018-12-25'],
  2019: ['2019-01-01', '2019-01-21', '2019-02-18', '2019-04-19', '2019-05-27', '2019-07-04', '2019-09-02', '2019-11-28', '2019-12-25'],
  2020: ['2020-01-01', '2020-01-20', '2020-02-17', '2020-04-10', '2020-05-25', '2020-07-03', '2020-09-07', '2020-11-26', '2020-12-25'],
  // Jan 1 2022 was a Saturday: no closure on 2021-12-31 nor on 2022-01-03.
  2022: ['2022-01-17', '2022-02-21', '2022-04-15', '2022-05-30', '2022-06-20', '2022-07-04', '2022-09-05', '2022-11-24', '2022-12-26'],
};

describe('NYSE calendar', () => {
  it.each(Object.entries(NYSE_HOLIDAYS))('holidays in %s match the published list', (year, dates) => {
    expect(holidaysInYear(+year).map((h) => h.date)).toEqual(dates);
    for (const d of dates) {
      expect(isTradingDay(D(d))).toBe(false);
      expect(holidayName(D(d))).toBeTypeOf('string');
    }
  });

  it('names observed and special closures', () => {
    expect(holidayName(D('2016-12-26'))).toBe('Christmas Day (observed)');
    expect(holidayName(D('2017-01-02'))).toBe("New Year's Day (observed)");
    expect(holidayName(D('2015-07-03'))).toBe('Independence Day (observed)');
    expect(holidayName(D('2022-06-20'))).toBe('Juneteenth National Independence Day (observed)');
    expect(holidayName(D('2018-12-05'))).toMatch(/Bush/);
    expect(holidayName(D('2025-01-09'))).toMatch(/Carter/);
    expect(holidayName(D('2019-07-05'))).toBeNull(); // trading day
    expect(holidayName(D('2019-07-06'))).toBeNull(); // plain Saturday
  });

  it('applies rule boundaries and special closures', () => {
    expect(isTradingDay(D('2021-12-31'))).toBe(true); // Saturday New Year not made up
    expect(isTradingDay(D('2021-06-18'))).toBe(true); // Juneteenth only from 2022
    expect(isTradingDay(D('1997-01-20'))).toBe(true); // MLK Day only from 1998
    expect(isTradingDay(D('1998-01-19'))).toBe(false);
    for (const d of ['2001-09-11', '2001-09-14', '2004-06-11', '2007-01-02', '2012-10-29', '2012-10-30']) {
      expect(isTradingDay(D(d))).toBe(false);
    }
    expect(isTradingDay(D('2001-09-17'))).toBe(true);
  });

  it('counts trading days per year', () => {
    expect(countTradingDays(...yearRange(2016))).toBe(252);
    expect(countTradingDays(...yearRange(2018))).toBe(251);
    expect(countTradingDays(...yearRange(2019))).toBe(252);
    expect(countTradingDays(...yearRange(2012))).toBe(250); // two Sandy closures
    expect(countTradingDays(D('2019-01-02'), D('2019-01-01'))).toBe(0);
  });

  it('computes Easter', () => {
    expect(dayString(easter(2019))).toBe('2019-04-21');
    expect(dayString(easter(2000))).toBe('2000-04-23');
    expect(dayString(easter(2038))).toBe('2038-04-25'); // latest possible date
    expect(dayString(easter(2008))).toBe('2008-03-23');
  });

  it('steps across long weekends and closures', () => {
    expect(dayString(nextTradingDay(D('2019-07-03')))).toBe('2019-07-05');
    expect(dayString(previousTradingDay(D('2019-07-05')))).toBe('2019-07-03');
    expect(dayString(nextTradingDay(D('2020-07-02')))).toBe('2020-07-06');
    expect(dayString(previousTradingDay(D('2020-07-06')))).toBe('2020-07-02');
    expect(dayString(nextTradingDay(D('2001-09-10')))).toBe('2001-09-17');
    expect(dayString(nextTradingDay(D('2021-12-30')))).toBe('2021-12-31');
    expect(dayString(nextTradingDay(D('2021-12-31')))).toBe('2022-01-03');
  });

  it('flags early closes only on trading days', () => {
    for (const d of ['2019-07-03', '2019-11-29', '2019-12-24', '2024-07-03', '2024-12-24']) {
      expect(isEarlyClose(D(d)), d).toBe(true);
      expect(isTradingDay(D(d))).toBe(true);
    }
    // 2020-07-03 is the observed holiday; 2021-12-24 observed Christmas; 2022-12-24 is Saturday.
    for (const d of ['2020-07-03', '2021-12-24', '2022-12-24', '2019-07-05']) {
      expect(isEarlyClose(D(d)), d).toBe(false);
    }
  });

  it('rejects days outside the supported range', () => {
    expect(() => isTradingDay(D('1989-12-29'))).toThrow(RangeError);
    expect(() => isTradingDay(D('2101-01-03'))).toThrow(RangeError);
    expect(() => isTradingDay(NaN)).toThrow(RangeError);
    expect(() => holidaysInYear(2101)).toThrow(RangeError);
  });

  it('every year in range has a plausible number of closures, none on weekends', () => {
    for (let y = 1990; y <= 2100; y++) {
      const n = holidaysInYear(y).length;
      expect(n).toBeGreaterThanOrEqual(8); // 1990–1997: no MLK; Saturday Jan 1 drops one more
      expect(n).toBeLessThanOrEqual(13);
      for (const h of holidaysInYear(y)) expect([0, 6]).not.toContain(weekday(D(h.date)));
    }
  });

  it('tradingDaysBetween agrees with filtering isTradingDay (property)', () => {
    const lo = D('1990-01-01'), hi = D('2100-12-31');
    fc.assert(
      fc.property(fc.integer({ min: lo, max: hi }), fc.integer({ min: 0, max: 800 }), (from, len) => {
        const to = Math.min(hi, from + len);
        const expected: number[] = [];
        for (let d = from; d <= to; d++) if (isTradingDay(d)) expected.push(d);
        const got = tradingDaysBetween(from, to);
        expect(Array.from(got)).toEqual(expected);
        expect(got.every((d) => weekday(d) !== 0 && weekday(d) !== 6)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('next/previous are inverse on trading days', () => {
    const days = tradingDaysBetween(D('2000-01-03'), D('2030-12-31'));
    for (let i = 1; i < days.length; i++) {
      expect(nextTradingDay(days[i - 1]!)).toBe(days[i]);
      expect(previousTradingDay(days[i]!)).toBe(days[i - 1]);
    }
  });

});
