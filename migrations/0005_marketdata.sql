-- Market data: trade prints and 1-minute bars from the live stream (src/marketdata/service).
-- Prices, sizes and volumes are NUMERIC (exact); instants are timestamptz (UTC).
-- Rows are written in batches with ON CONFLICT DO NOTHING: a replayed trade or bar is a no-op.
-- The primary keys lead with the symbol and include the time column, so per-symbol range
-- reads use them, and they are valid on a TimescaleDB hypertable partitioned by time.
-- TimescaleDB: when the extension is available (SELECT 1 FROM pg_available_extensions WHERE
-- name = 'timescaledb'), TickStore's enableTimescale() turns both tables into hypertables
-- (create_hypertable … if_not_exists). Without it, as here, they stay plain tables.

CREATE TABLE trades (
  symbol   text        NOT NULL,
  trade_id bigint      NOT NULL,
  price    numeric     NOT NULL CHECK (price > 0),
  size     numeric     NOT NULL CHECK (size >= 0),
  ts       timestamptz NOT NULL,
  PRIMARY KEY (symbol, ts, trade_id)
);
-- Retention deletes by time across symbols.
CREATE INDEX trades_ts ON trades (ts);

CREATE TABLE bars_1m (
  symbol text        NOT NULL,
  t      timestamptz NOT NULL,
  o      numeric     NOT NULL,
  h      numeric     NOT NULL,
  l      numeric     NOT NULL,
  c      numeric     NOT NULL,
  v      numeric     NOT NULL CHECK (v >= 0),
  PRIMARY KEY (symbol, t)
);
CREATE INDEX bars_1m_t ON bars_1m (t);
