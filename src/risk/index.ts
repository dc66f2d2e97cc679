/**
 * Risk management: pre-trade limits, the shared circuit breaker, de-risking, the risk API.
 * See docs/concepts/risk.md; `createRisk` (wire.ts) builds everything for the gateway.
 */
export { loadRiskConfig, parseRiskConfig, defaultRiskConfig, riskConfigJson, RISK_ENV_OVERRIDES, RISK_FILE_ENV, type RiskConfig, type RiskConfigInput, type RiskLimits, type BreakerConfig, type CorrelationConfig } from './config.js';
export { makeRiskContext, isReducing, portfolioExposure, markToMarket, type RiskContext, type RiskContextInput, type RiskPosition, type PriceMark, type RiskOpenOrder, type CorrelationLookup } from './context.js';
export { checkOrder, sizeOrder, RISK_CODES, type RiskCode, type RiskDecision, type RiskOrder, type SizeResult } from './checks.js';
export { BREAKER_STATES, BREAKER_TRANSITIONS, applyBreakerCommand, dailyLossCheck, initialBreakerState, OPEN_GATE, type BreakerState, type BreakerStateName, type BreakerGate, type BreakerCommand, type TripTrigger, type LossCheck } from './breaker-state.js';
export { CircuitBreaker, breakerKey, gateOf, type BreakerTransition, type TransitionResult } from './breaker.js';
export { MemoryStateStore, RedisStateStore, busStateStore, type StateStore } from './state-store.js';
export { RiskEventLog, nullRiskAudit, type RiskAudit, type RiskEventRow, type RiskEventInput, type RiskEventQuery } from './events.js';
export { PgRiskStateProvider, StaticRiskStateProvider, MapPriceSource, StaticEquitySource, DayStartStore, busPriceSource, brokerEquitySource, withLastCloseFallback, type RiskStateProvider, type LastPriceSource, type EquitySource, type EquitySnapshot } from './provider.js';
export { CatalogCorrelationSource, staticCorrelations, pearson, type CorrelationSource } from './correlation.js';
export { RiskEngine, type RiskEngineDeps, type RiskEvaluation } from './engine.js';
export { deRisk, deriskOrders, type DeriskOps, type DeriskReport, type DeriskOrder } from './derisk.js';
export { RiskService, type RiskStatus } from './service.js';
export { riskRoutes, type RiskRouteOptions } from './routes.js';
export { riskMetrics, type RiskMetrics } from './metrics.js';
export { runShockSimulation, SHOCK_SCENARIO, SHOCK_LIMITS, type ShockScenario, type ShockRun, type StepRecord } from './simulation.js';
export { createRisk, gatewayDeriskOps, openBreakerStore, type RiskWiring, type CreateRiskOptions } from './wire.js';
