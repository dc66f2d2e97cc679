-- Dividend history for one symbol, with each dividend's yield against the last
-- raw close before the ex-date, and the running total within each calendar year.
-- Shows: an ASOF JOIN (the latest bar strictly before each ex-date, even across
-- weekends and holidays) against `bars_raw`: yields must use the price as
-- traded then, not the back-adjusted `bars` close.
-- Run:   kestrel sql --file examples/sql/05_dividend_history.sql
SELECT ca.ex_date,
       ca.value                                   AS dividend,
       r.date                                     AS price_date,
       r.close                                    AS raw_close,
       ca.value / r.close                         AS yield,
       sum(ca.value) OVER (PARTITION BY year(ca.ex_date) ORDER BY ca.ex_date)
                                                  AS year_to_date,
       ca.source
FROM corporate_actions AS ca
ASOF LEFT JOIN bars_raw AS r
       ON r.symbol = ca.symbol
      AND ca.ex_date > r.date
WHERE ca.symbol = 'AAPL'
  AND ca.type = 'dividend'
ORDER BY ca.ex_date;
