/**
 * The signal service (see docs/signals.md). For `kestrel serve signals` / `kestrel up`:
 *
 *   const app = await buildSignalsApp({ db, bus, clock, logger, dataDir, metrics });
 *   await app.listen({ port: config.ports.signals, host: config.host });
 *   // shutdown: await app.close(); then bus.close() and db.close() (the caller owns them)
 *
 * In-process clients (orchestrator under `kestrel up`): `new InProcessSignalsClient(app.signals)`;
 * across processes: `new HttpSignalsClient({ baseUrl, token })`.
 */
export { buildSignalsApp, type SignalsApp, type SignalsAppOptions } from './app.js';
export { SignalsRuntime, DEFAULT_MODEL_NAME, DEFAULT_POLL_MS, SIGNALS_STREAM_MAXLEN, type ModelInfo, type SignalsRuntimeOptions } from './runtime.js';
export { HttpSignalsClient, InProcessSignalsClient, SignalsRequestError, SignalsUnavailableError, type HttpSignalsClientOptions, type ErrorDetail } from './client.js';
export { modelVersionString, type LoadedModel, type ModelRef, type ReloadOutcome } from './model-holder.js';
export { rankSignals } from './ranking.js';
export { FEATURE_WINDOW, FEATURE_NAMES, FEATURE_SET_VERSION } from './features.js';
export type { Signal, SignalsClient, SignalsRequest, SignalsResponse } from './types.js';
