-- The risk snapshot reads every order that may still fill (src/risk/provider.ts,
-- RISK_OPEN_STATUSES) once per batch of pre-trade checks. The existing partial indexes cover
-- pending_new and the broker-open statuses separately, so that read was a sequential scan of
-- the whole order history; this index matches its predicate exactly and stays small (only
-- open orders are in it).
CREATE INDEX IF NOT EXISTS orders_risk_open ON orders (symbol) WHERE status IN ('pending_new', 'accepted', 'new', 'partially_filled');
