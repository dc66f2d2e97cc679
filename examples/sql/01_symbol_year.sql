-- One symbol's year of daily bars (split/dividend-adjusted), oldest first.
-- Shows: plain filtering on the `bars` view; the date range is half-open so it
-- works for any year without caring about Dec 31 being a trading day.
-- Run:   kestrel sql --file examples/sql/01_symbol_year.sql
--        (add --csv or --json for machine-readable output; edit symbol/year below:
--        the bundled sample covers 2015-01-12 .. 2020-01-10)
SELECT date, open, high, low, close, volume
FROM bars
WHERE symbol = 'AAPL'
  AND date >= DATE '2019-01-01'
  AND date <  DATE '2020-01-01'
ORDER BY date;
