// Entry of compute.ts's worker when running from TypeScript sources (vitest, tsx): registers
// tsx's ESM hooks in this thread, then loads the .ts worker named in workerData.entry.
// `execArgv: ['--import', 'tsx']` alone is not enough on Node 20: tsx's --import entry only
// registers its hooks on the main thread there, and the worker fails with
// ERR_UNKNOWN_FILE_EXTENSION. From dist/, compute.ts starts compute-worker.js directly.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
