-- What the quality gates rejected, by rule: how many rows, how many symbols,
-- the date span, and one sample so you can go and look at the source file.
-- Shows: GROUP BY with count(DISTINCT ...), arg_min() to pick a sample row.
-- Run:   kestrel sql --file examples/sql/06_quarantine_by_rule.sql
SELECT rule,
       count(*)                                   AS rows,
       count(DISTINCT symbol)                     AS symbols,
       min(date)                                  AS first_date,
       max(date)                                  AS last_date,
       arg_min(symbol || ' ' || CAST(date AS VARCHAR) || ': ' || detail, date)
                                                  AS sample,
       arg_min(file || ':' || CAST(line AS VARCHAR), date)
                                                  AS sample_location
FROM quarantine
GROUP BY rule
ORDER BY rows DESC, rule;
