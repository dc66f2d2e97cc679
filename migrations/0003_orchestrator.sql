-- Orchestrator (docs/orchestrator.md): one row per orchestration run and its plan, signal →
-- target → order, written before anything is submitted. A real (non dry-run) run exists at most
-- once per (strategy_id, as_of_date): claimed with INSERT … ON CONFLICT DO NOTHING on the
-- partial unique index below. Dry runs never claim the key (each is a new row, never submitted).
-- Money and quantities are NUMERIC (exact); instants are timestamptz from the service clock.

CREATE TABLE orchestration_runs (
  id               bigserial PRIMARY KEY,
  strategy_id      text NOT NULL CHECK (length(strategy_id) BETWEEN 1 AND 64),
  -- The signals' date (their features use this day's close).
  as_of_date       date NOT NULL,
  -- The session the orders are for (the gateway only accepts new orders on that day).
  trade_date       date NOT NULL CHECK (trade_date > as_of_date),
  -- scheduled: waiting for trade_date; running: someone holds the lease; then one of the final three.
  status           text NOT NULL CHECK (status IN ('scheduled', 'running', 'completed', 'partial', 'failed')),
  trigger          text NOT NULL CHECK (trigger IN ('api', 'event', 'cli')),
  dry_run          boolean NOT NULL,
  capital          numeric NOT NULL CHECK (capital > 0),
  max_position_pct numeric NOT NULL CHECK (max_position_pct > 0 AND max_position_pct <= 1),
  top_n            integer NOT NULL CHECK (top_n >= 0),
  bottom_n         integer NOT NULL CHECK (bottom_n >= 0),
  -- The requested universe (JSON array of tickers); NULL = every symbol the signal service scores.
  symbols          jsonb,
  model_version    text,
  signals_count    integer NOT NULL DEFAULT 0,
  orders_planned   integer NOT NULL DEFAULT 0,
  orders_submitted integer NOT NULL DEFAULT 0,
  orders_failed    integer NOT NULL DEFAULT 0,
  symbols_failed   integer NOT NULL DEFAULT 0,
  -- Phase timings of the attempt that planned (signals, positions, plan) and of the last attempt (submit, total).
  signals_ms       double precision,
  positions_ms     double precision,
  plan_ms          double precision,
  submit_ms        double precision,
  total_ms         double precision,
  error            text,
  -- Ownership: every claim/resume increments attempt; writes of a runner are guarded by it, so a
  -- runner whose lease was taken over cannot write anything more.
  attempt          integer NOT NULL DEFAULT 0,
  lease_expires_at timestamptz,
  planned_at       timestamptz,
  created_at       timestamptz NOT NULL,
  started_at       timestamptz,
  finished_at      timestamptz,
  updated_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX orchestration_runs_once ON orchestration_runs (strategy_id, as_of_date) WHERE NOT dry_run;
CREATE INDEX orchestration_runs_strategy ON orchestration_runs (strategy_id, id DESC);
CREATE INDEX orchestration_runs_open ON orchestration_runs (status, trade_date) WHERE status IN ('scheduled', 'running', 'partial');

-- The plan of a run: one row per symbol leg (a position that flips sign is two legs, close then
-- open, because brokers refuse one order that flips). Rows are written in one transaction
-- before the first submission; a resumed run re-submits these rows only, never re-plans.
CREATE TABLE orchestration_orders (
  id               bigserial PRIMARY KEY,
  run_id           bigint NOT NULL REFERENCES orchestration_runs (id) ON DELETE CASCADE,
  seq              integer NOT NULL,
  symbol           text NOT NULL,
  leg              text NOT NULL CHECK (leg IN ('rebalance', 'close', 'open')),
  -- From the signal (NULL for a held symbol the signals do not mention).
  predicted_return double precision,
  rank             integer,
  target_weight    numeric,
  -- The as_of_date close used for sizing (NULL when there was none).
  price            numeric,
  current_qty      numeric NOT NULL,
  target_qty       numeric,
  -- The position cap (max_position_pct × capital) cut the target.
  capped           boolean NOT NULL DEFAULT false,
  side             text CHECK (side IN ('buy', 'sell')),
  qty              numeric CHECK (qty > 0),
  client_order_id  text,
  -- planned → submitted | rejected | failed; deferred: an open leg waiting for its close leg to fill;
  -- unchanged: already at target; symbol_failed: no price / bad signal (no order);
  -- limited: the sizing limits allowed 0 shares; dry_run: never submitted.
  order_status     text NOT NULL CHECK (order_status IN ('planned', 'deferred', 'submitted', 'rejected', 'failed', 'unchanged', 'symbol_failed', 'limited', 'dry_run')),
  gateway_order_id text,
  gateway_status   text,
  -- The submission created the gateway order (201) rather than finding it (200).
  created          boolean,
  -- A failure a later attempt may cure (gateway unreachable / 5xx).
  retryable        boolean NOT NULL DEFAULT false,
  limited_by       text,
  error            text,
  attempts         integer NOT NULL DEFAULT 0,
  submitted_at     timestamptz,
  updated_at       timestamptz NOT NULL,
  UNIQUE (run_id, symbol, leg),
  UNIQUE (run_id, seq),
  CHECK ((side IS NULL) = (qty IS NULL))
);
CREATE INDEX orchestration_orders_client_order_id ON orchestration_orders (client_order_id) WHERE client_order_id IS NOT NULL;
