-- 60-trading-day rolling correlation of two names' daily returns.
-- Shows: window functions with a ROWS frame (N trading days, not calendar days)
-- and a count check: corr() over a frame still answers while the frame is only
-- partly filled, so the value is NULL until 60 paired returns are in it.
-- Returns are computed per symbol first, then paired on date (inner join), so
-- a day missing from either series is dropped rather than misaligned.
-- Run:   kestrel sql --file examples/sql/07_rolling_correlation.sql
WITH rets AS (
    SELECT date, symbol,
           close / lag(close) OVER (PARTITION BY symbol ORDER BY date) - 1 AS ret
    FROM bars
    WHERE symbol IN ('AAPL', 'MSFT')
),
pairs AS (
    SELECT a.date, a.ret AS ret_a, b.ret AS ret_b
    FROM rets AS a
    JOIN rets AS b ON b.date = a.date
    WHERE a.symbol = 'AAPL' AND b.symbol = 'MSFT'
      AND a.ret IS NOT NULL AND b.ret IS NOT NULL
)
SELECT date,
       ret_a AS aapl_return,
       ret_b AS msft_return,
       CASE WHEN count(*) OVER w = 60 THEN corr(ret_a, ret_b) OVER w END AS corr_60d
FROM pairs
WINDOW w AS (ORDER BY date ROWS BETWEEN 59 PRECEDING AND CURRENT ROW)
ORDER BY date;
