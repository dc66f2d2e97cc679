/**
 * The trade date of an instant: its America/New_York calendar date (what `newYorkDate` in
 * core/clock computes), on the order hot path. Building an Intl.DateTimeFormat per call costs
 * tens of microseconds, so the formatter is built once and the answer kept for the current UTC
 * minute (New York's offset changes only on whole hours, so a minute never spans two dates).
 */
const NY = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' });
let minute = Number.NaN;
let date = '';

export function tradeDateOf(now: Date): string {
  const m = Math.floor(now.getTime() / 60_000);
  if (m !== minute) {
    date = NY.format(now);
    minute = m;
  }
  return date;
}
