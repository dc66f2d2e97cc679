import { parentPort } from 'node:worker_threads';
import { KestrelError } from '../core/errors.js';
import { ALPHA158_COLUMNS, alpha158 } from './alpha158.js';
import type { WorkerFailure, WorkerRequest, WorkerResponse } from './compute-protocol.js';

/**
 * Worker side of compute.ts: computes Alpha158 for its share of symbols and transfers the
 * result buffers back. Runs as dist/features/compute-worker.js, or as this .ts file under
 * `node --import tsx` (tests, benches).
 */

const port = parentPort;
if (port === null) throw new Error('compute-worker must run in a worker thread');

port.once('message', (req: WorkerRequest) => {
  try {
    const total = req.offsets[req.symbols.length]!;
    const col = (f: number, a: number, b: number): Float64Array => req.prices.subarray(f * total + a, f * total + b);
    // One buffer for all symbols: a single allocation and a single transfer back.
    const values = new Float64Array(total * ALPHA158_COLUMNS);
    const labels = new Float64Array(total);
    for (let s = 0; s < req.symbols.length; s++) {
      const a = req.offsets[s]!;
      const b = req.offsets[s + 1]!;
      alpha158(
        {
          symbol: req.symbols[s]!,
          day: new Int32Array(b - a),
          open: col(0, a, b),
          high: col(1, a, b),
          low: col(2, a, b),
          close: col(3, a, b),
          volume: col(4, a, b),
        },
        { values: values.subarray(a * ALPHA158_COLUMNS, b * ALPHA158_COLUMNS), label: labels.subarray(a, b) },
      );
    }
    const res: WorkerResponse = { ok: true, values, labels };
    port.postMessage(res, [values.buffer, labels.buffer]);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const fail: WorkerFailure =
      err instanceof KestrelError
        ? { ok: false, message: err.message, code: err.code, exitCode: err.exitCode }
        : { ok: false, message: err.stack ?? err.message, code: 'worker_failed', exitCode: 1 };
    port.postMessage(fail);
  }
});
