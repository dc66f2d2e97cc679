-- Monthly returns per symbol: last close of each month over the last close of
-- the previous month.
-- Shows: resampling daily bars with date_trunc('month', ...) plus arg_max(),
-- then lag() over the monthly series. The first month of each symbol has no
-- previous month and gets a NULL return.
-- Run:   kestrel sql --file examples/sql/04_monthly_returns.sql
WITH monthly AS (
    SELECT symbol,
           date_trunc('month', date) AS month_start,
           arg_max(close, date)      AS month_close
    FROM bars
    GROUP BY symbol, month_start
)
SELECT symbol,
       strftime(month_start, '%Y-%m') AS month,
       month_close,
       month_close / lag(month_close) OVER (PARTITION BY symbol ORDER BY month_start) - 1
           AS monthly_return
FROM monthly
ORDER BY symbol, month_start;
