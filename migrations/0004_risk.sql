-- Risk management (docs/concepts/risk.md): the append-only audit of everything risk decided or
-- changed, and the start-of-day equity the daily-loss breaker measures from.
-- The breaker's live state is in Redis (or the in-process bus); every state change is written
-- here once, keyed by (breaker_id, breaker_version), so replicas that race audit it once and a
-- lost Redis can be re-seeded from the last row. Instants are UTC timestamptz from the service clock.

CREATE TABLE risk_events (
  id               bigserial PRIMARY KEY,
  -- pretrade_rejected: an order refused by a pre-trade check (never sent);
  -- breaker: a circuit-breaker transition; derisk: an automatic de-risking action.
  kind             text NOT NULL CHECK (kind IN ('pretrade_rejected', 'breaker', 'derisk')),
  -- The check's reason code, the breaker trigger, or the de-risking action.
  code             text NOT NULL,
  symbol           text,
  client_order_id  text,
  strategy_id      text,
  breaker_id       text,
  breaker_version  integer,
  from_state       text CHECK (from_state IN ('OPEN', 'TRIPPED', 'QUIET_PERIOD')),
  to_state         text CHECK (to_state IN ('OPEN', 'TRIPPED', 'QUIET_PERIOD')),
  -- Who (user, API caller, `system` for automatic triggers) and why.
  actor            text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
  reason           text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  detail           jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at       timestamptz NOT NULL,
  CHECK ((kind = 'breaker') = (breaker_version IS NOT NULL AND breaker_id IS NOT NULL AND to_state IS NOT NULL))
);
CREATE UNIQUE INDEX risk_events_breaker_version ON risk_events (breaker_id, breaker_version) WHERE kind = 'breaker';
CREATE INDEX risk_events_kind ON risk_events (kind, id DESC);
CREATE INDEX risk_events_symbol ON risk_events (symbol, id DESC) WHERE symbol IS NOT NULL;

CREATE TRIGGER risk_events_append_only BEFORE UPDATE OR DELETE ON risk_events
  FOR EACH ROW EXECUTE FUNCTION kestrel_append_only();

-- The first equity recorded for a trading date (at the open, by the orchestrator or the first
-- risk snapshot of the day): the daily-loss reference. Never changed once written.
CREATE TABLE risk_day_start (
  trade_date  date PRIMARY KEY,
  equity      numeric NOT NULL CHECK (equity > 0),
  source      text NOT NULL,
  recorded_at timestamptz NOT NULL
);
