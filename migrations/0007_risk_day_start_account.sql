-- The start-of-day equity belongs to one broker account. A simulator that is restarted or reset
-- is a new account (a new id), whose first equity of the day is its own reference: otherwise
-- switching between `kestrel up` and `kestrel serve broker-sim` compared one account's equity
-- with another's start of day and tripped the breaker. '' = recorded before accounts were kept.
ALTER TABLE risk_day_start ADD COLUMN account text NOT NULL DEFAULT '';
ALTER TABLE risk_day_start DROP CONSTRAINT risk_day_start_pkey;
ALTER TABLE risk_day_start ADD PRIMARY KEY (trade_date, account);
