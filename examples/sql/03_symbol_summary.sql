-- Per-symbol aggregates over all rows: history span, bar count, price range,
-- last close and average daily dollar volume.
-- Shows: GROUP BY with arg_max() (the close on the latest date, no self-join
-- or window needed).
-- Run:   kestrel sql --file examples/sql/03_symbol_summary.sql
SELECT symbol,
       min(date)                    AS first_date,
       max(date)                    AS last_date,
       count(*)                     AS bars,
       min(low)                     AS min_low,
       max(high)                    AS max_high,
       arg_max(close, date)         AS last_close,
       avg(close * volume)          AS avg_dollar_volume
FROM bars
GROUP BY symbol
ORDER BY symbol;
