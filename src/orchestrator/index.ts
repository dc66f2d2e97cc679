/**
 * The orchestrator: signals → whole-share targets → orders through the execution gateway,
 * once per (strategy_id, as_of_date), with run records (docs/orchestrator.md).
 *
 *  - `kestrel serve orchestrator`: `buildOrchestratorApp({ db, clock, logger, signals, gateway, prices, bus, strategies, apiToken })`
 *    with `HttpGatewayClient` (or `InProcessGatewayClient`), the signal service's `HttpSignalsClient` / `InProcessSignalsClient`
 *    (src/signals) and `CatalogPriceSource`.
 *  - `kestrel run`: `runOrchestration(createOrchestratorContext(deps), body, { trigger: 'cli' })`.
 */
export { buildOrchestratorApp, OrchestratorRuntime, type OrchestratorApp, type OrchestratorAppOptions } from './app.js';
export { createOrchestratorContext, runOrchestration, resumeRun, runDue, getRunWithOrders, type OrchestratorContext, type OrchestratorDeps, type OrchestratorTuning, type RunOutcome, type RunOutcomeKind } from './run.js';
export { planOrders, targetQty, clientOrderIdFor, type PlanInput, type PlanRow, type TargetResult } from './sizing.js';
export { parseRunRequest, DEFAULT_TOP_N, DEFAULT_BOTTOM_N } from './request.js';
export { GatewayApiClient, GatewayError, HttpGatewayClient, InProcessGatewayClient, type GatewayClient, type GatewayOrder, type GatewayPosition, type GatewayOrderRequest, type GatewayOrderFilter, type GatewayAccount, type GatewayTransport, type HttpGatewayClientOptions } from './gateway-client.js';
export { CatalogPriceSource, StaticPriceSource, type PriceSource } from './prices.js';
export { StaticSignalsClient, rankAndWeigh, type ProbeableSignalsClient } from './signals-clients.js';
export { startSignalsConsumer, handleSignalsEvent, defaultConsumerName, type SignalsConsumerDeps, type EventResult, type EventOutcome } from './consumer.js';
export { RunScheduler, type SchedulerOptions } from './scheduler.js';
export { orchestratorMetrics, type OrchestratorMetrics } from './metrics.js';
export { assertReturnModel, labelProblem, RETURN_LABELS, UnusableModelError } from './model-label.js';
export type { RunRequest, RunRequestBody, RunView, RunOrderView, RunStatus, RunTrigger, PlanOrderStatus, Leg, StrategyConfig, SizingLimits, SizingOrder } from './types.js';
