export * from './types.js';
export * from './price-cache.js';
export * from './tick-store.js';
export * from './live-pnl.js';
export * from './sse.js';
export * from './subscriptions.js';
