-- Execution gateway: orders (write-ahead), fills, positions, the append-only order audit trail,
-- the kill switch shared by replicas (and its audit), and reconciliation reports.
-- Quantities, prices and money are NUMERIC (exact); code reads them as strings into Decimal.
-- Instants are timestamptz written from the service clock; trade dates are America/New_York dates.

CREATE TABLE orders (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_order_id  text NOT NULL UNIQUE CHECK (length(client_order_id) BETWEEN 1 AND 128),
  strategy_id      text NOT NULL,
  symbol           text NOT NULL,
  side             text NOT NULL CHECK (side IN ('buy', 'sell')),
  qty              numeric NOT NULL CHECK (qty > 0),
  order_type       text NOT NULL CHECK (order_type IN ('market', 'limit')),
  limit_price      numeric CHECK (limit_price > 0),
  time_in_force    text NOT NULL CHECK (time_in_force IN ('day', 'gtc', 'ioc', 'fok', 'opg', 'cls')),
  trade_date       date NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending_new', 'accepted', 'new', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired', 'dry_run')),
  broker_order_id  text UNIQUE,
  filled_qty       numeric NOT NULL DEFAULT 0 CHECK (filled_qty >= 0),
  filled_avg_price numeric,
  error            text,
  -- Retrier bookkeeping for orders still pending_new (broker down, process crashed).
  submit_attempts  integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  CHECK ((order_type = 'limit') = (limit_price IS NOT NULL))
);
CREATE INDEX orders_pending ON orders (next_attempt_at) WHERE status = 'pending_new';
CREATE INDEX orders_open ON orders (created_at) WHERE status IN ('accepted', 'new', 'partially_filled');
CREATE INDEX orders_created ON orders (created_at DESC, id DESC);

-- One row per broker execution; execution_id makes a replayed trade update a no-op.
-- synthetic = created by reconciliation for quantity the broker reports filled but whose
-- executions we never received (see docs/execution.md).
CREATE TABLE fills (
  id           bigserial PRIMARY KEY,
  execution_id text NOT NULL UNIQUE,
  order_id     uuid NOT NULL REFERENCES orders (id),
  symbol       text NOT NULL,
  side         text NOT NULL CHECK (side IN ('buy', 'sell')),
  qty          numeric NOT NULL CHECK (qty > 0),
  price        numeric NOT NULL CHECK (price > 0),
  executed_at  timestamptz NOT NULL,
  synthetic    boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL
);
CREATE INDEX fills_order ON fills (order_id);

-- Average-cost positions (signed qty: negative = short). cost_basis = qty × avg_entry_price kept
-- exactly; avg_entry_price is derived from it.
CREATE TABLE positions (
  symbol          text PRIMARY KEY,
  qty             numeric NOT NULL DEFAULT 0,
  avg_entry_price numeric NOT NULL DEFAULT 0,
  cost_basis      numeric NOT NULL DEFAULT 0,
  realized_pnl    numeric NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL
);

-- Append-only audit trail of everything that happened to an order (and of refused intents,
-- which have no order row: order_id NULL, client_order_id set). No foreign key to orders: rows
-- are only ever written together with (or after) their order, and an FK check would lock the
-- order row on the hot path of every submission.
CREATE TABLE order_events (
  id              bigserial PRIMARY KEY,
  order_id        uuid,
  client_order_id text,
  kind            text NOT NULL,
  from_status     text,
  to_status       text,
  source          text NOT NULL CHECK (source IN ('api', 'broker', 'reconcile', 'retrier', 'kill_switch')),
  detail          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, id);
CREATE INDEX order_events_unattached ON order_events (client_order_id, id) WHERE order_id IS NULL;

CREATE FUNCTION kestrel_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER order_events_append_only BEFORE UPDATE OR DELETE ON order_events
  FOR EACH ROW EXECUTE FUNCTION kestrel_append_only();

-- The kill switch: one row, shared by every gateway replica on this database.
CREATE TABLE kill_switch (
  id         boolean PRIMARY KEY DEFAULT true CHECK (id),
  engaged    boolean NOT NULL DEFAULT false,
  reason     text,
  actor      text,
  changed_at timestamptz
);
INSERT INTO kill_switch (id, engaged) VALUES (true, false);

CREATE TABLE kill_switch_events (
  id         bigserial PRIMARY KEY,
  action     text NOT NULL CHECK (action IN ('engage', 'disengage')),
  reason     text NOT NULL,
  actor      text NOT NULL,
  detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL
);
CREATE TRIGGER kill_switch_events_append_only BEFORE UPDATE OR DELETE ON kill_switch_events
  FOR EACH ROW EXECUTE FUNCTION kestrel_append_only();

-- One row per reconciliation run with its full report (differences found, actions taken).
CREATE TABLE reconciliation_runs (
  id          bigserial PRIMARY KEY,
  trigger     text NOT NULL,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  report      jsonb NOT NULL
);
