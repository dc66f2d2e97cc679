/** Messages between compute.ts and compute-worker.ts (symbols packed into a few transferable buffers). */

export interface WorkerRequest {
  symbols: string[];
  /** Row offsets per symbol into the packed columns; length symbols.length + 1. */
  offsets: Int32Array;
  /** open, high, low, close, volume of all symbols: column f of row r at f * total + r. */
  prices: Float64Array;
}

export interface WorkerResponse {
  ok: true;
  /** All symbols' matrices back to back (symbol s at offsets[s] × 158), column-major each. */
  values: Float64Array;
  /** All symbols' LABEL0 back to back (symbol s at offsets[s]). */
  labels: Float64Array;
}

export interface WorkerFailure {
  ok: false;
  message: string;
  code: string;
  exitCode: 1 | 2;
}
