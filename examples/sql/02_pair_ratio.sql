-- Two symbols side by side on common dates, with the ratio of their closes
-- (a simple pair / relative-strength series).
-- Shows: a self-join of `bars` on date. The inner join keeps only days both
-- symbols traded, so a gap in either series drops that day instead of
-- producing a NULL ratio.
-- Run:   kestrel sql --file examples/sql/02_pair_ratio.sql
--        (from 2019 on; the bundled sample ends 2020-01-10)
SELECT a.date,
       a.close           AS aapl_close,
       b.close           AS msft_close,
       a.close / b.close AS aapl_msft_ratio
FROM bars AS a
JOIN bars AS b ON b.date = a.date
WHERE a.symbol = 'AAPL'
  AND b.symbol = 'MSFT'
  AND a.date >= DATE '2019-01-01'
ORDER BY a.date;
