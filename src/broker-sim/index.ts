/**
 * Kestrel's simulated broker: a subset of Alpaca's Trading API v2 (REST under `/v2`, the
 * `trade_updates` WebSocket at `/stream`) so the same AlpacaBroker adapter — or Alpaca's own
 * SDK — runs against it by changing the base URL. Checked against the official SDK 4.x in
 * sdk.test.ts.
 *
 * Faithful to Alpaca
 * - Paths, including the literal colon of `GET /v2/orders:by_client_order_id`; auth by the
 *   `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers (401 `{"code":40110000,"message":"request is not authorized"}`).
 * - Order, position, account and clock objects with Alpaca's snake_case fields, decimals as
 *   strings, shorts as negative qty / market value; `GET /v2/clock` uses the NYSE calendar.
 * - Errors as `{"code","message"}`: 422/40010001 for invalid orders and for a reused
 *   client_order_id ("client_order_id must be unique"); 400/40010000 for a malformed body;
 *   403/40310000 "insufficient buying power" (with `buying_power`, `cost_basis`) and
 *   "insufficient qty available for order" (one order may close a position, not flip it);
 *   404/40410000 for unknown orders/positions; 422/42210000 for canceling a finished order
 *   ('order is already in "filled" state') and for sub-penny limit prices.
 * - `DELETE /v2/orders/:id` → 204; `DELETE /v2/orders` → 207 `[{id, status, body}]`;
 *   `GET /v2/orders` with status (default open), limit (default 50, max 500), after/until,
 *   direction (default desc), symbols, side.
 * - Stream: `auth` and the older `authenticate` messages, `listen` acknowledged on the
 *   `listening` stream, then `{"stream":"trade_updates","data":{event, order, timestamp,
 *   execution_id, price, qty, position_qty}}` sent as binary frames (text accepted from clients);
 *   events in order (new → partial_fill → fill, canceled, rejected, expired), a unique
 *   execution_id per fill, nothing replayed to a client that was disconnected.
 *
 * Simplified (know this before trusting a result)
 * - One account, one process, in memory; no persistence. Market and limit orders only, whole
 *   shares only; no stop/trailing/bracket/OCO/OTO, no notional, no PATCH (replace), no
 *   /v2/assets, /v2/account/activities, portfolio history or /v3 endpoints.
 * - Fills come from a PriceSource last price, never from a book: market orders fill at
 *   price ± slippageBps on the tick (buys round up, sells down); a limit fills when the last
 *   price crosses it, at the better of the limit and the slipped price; optional partials are
 *   exactly two executions (floor(ratio × qty), then the rest). No market hours: orders fill
 *   24/7 and day orders only expire when `expireDayOrders()` / `POST /admin/expire-day-orders` runs.
 * - With fillDelayMs = 0 execution happens inside the submission, so POST can answer `filled`
 *   (Alpaca answers `accepted`/`new` and fills a moment later); set fillDelayMs for that shape.
 * - Cancels are immediate (no `pending_cancel` step). Orders on rejectSymbols are answered
 *   `accepted`, then rejected.
 * - Buying power is a cash account's: cash minus the estimated cost of open buys (no margin,
 *   no multiplier, short proceeds count as cash, no borrow or locate checks, no PDT rules).
 *   Market buys on a symbol with no price yet skip the check.
 * - The `new` event, cancel and reject carry no execution_id; timestamps have millisecond,
 *   not nanosecond, precision; asset ids are stable hashes of the symbol; exchange is "SIM".
 * - No rate limits, no MessagePack on the stream, unauthenticated clients are not timed out.
 *
 * Test helpers: `/admin/prices`, `/admin/reset`, `/admin/faults` (next N submissions fail with
 * 500/503 or hang, optionally after recording the order; drop or refuse the stream), all
 * behind the same keys as /v2 when keys are configured.
 */
export { buildBrokerSimApp, type BrokerSimApp, type BrokerSimDeps } from './app.js';
export { BrokerSim, type AlpacaAccountJson, type AlpacaOrderJson, type AlpacaPositionJson, type AlpacaTradeUpdate, type BrokerSimConfig, type OrderInput, type OrderQuery } from './engine.js';
export { AlpacaApiError } from './errors.js';
export { Faults, type SubmitFault, type SubmitFaultMode } from './faults.js';
export { marketClock, type MarketClockJson } from './market-clock.js';
export { isSettable, StaticPrices, type PriceSource, type SettablePriceSource } from './prices.js';
export { startBrokerSim, type RunningBrokerSim, type StartBrokerSimOptions } from './serve.js';
export { TradeUpdateStream, type StreamAuth } from './stream.js';
