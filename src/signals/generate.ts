import { busKeys, type Bus, type SignalsGenerated } from '../bus/index.js';
import { dayNumber, dayString, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { trySymbol } from '../model/symbol.js';
import { HttpError } from '../observability/http-app.js';
import type { DataSnapshot } from './data-source.js';
import { computeFeatureRow, decodeCacheValue, encodeCacheValue, FEATURE_COUNT, FeatureScratch, rowOf, windowFingerprint } from './features.js';
import type { SignalsMetrics } from './metrics.js';
import { modelVersionString, type LoadedModel } from './model-holder.js';
import { rankSignals, tiedCount } from './ranking.js';
import type { SignalsRequest, SignalsResponse } from './types.js';

/**
 * The work behind POST /api/v1/signals/generate, as a plain function of the model and data
 * snapshot the request captured: resolve the symbols, read the feature cache (one MGET),
 * compute the misses from the last FEATURE_WINDOW bars and write them back (one pipelined
 * MSET with TTL), score, rank, weight. Bad input throws HttpError 4xx with the reason.
 */
export interface GenerateDeps {
  bus: Bus;
  clock: Clock;
  logger: Logger;
  metrics: SignalsMetrics;
  featureTtlSeconds: number;
  grossPerSide: number;
}

export interface GenerateResult {
  response: SignalsResponse;
  /** The `signals.generated` event to publish once answered. */
  event: SignalsGenerated;
  /** hit | partial | miss | off (bus down). */
  cache: 'hit' | 'partial' | 'miss' | 'off';
}

const MAX_SYMBOLS = 10_000;
const MAX_N = 100_000;
const FIELDS = new Set(['as_of_date', 'symbols', 'top_n', 'bottom_n']);

/** The checks the route's JSON schema makes, for in-process callers (400 validation_failed). */
export function validateRequest(req: unknown): SignalsRequest {
  const details: Array<{ field: string; reason: string }> = [];
  if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new HttpError(400, 'validation_failed', 'invalid body: must be an object', [{ field: '(body)', reason: 'must be an object' }]);
  const r = req as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!FIELDS.has(k) && r[k] !== undefined) details.push({ field: k, reason: 'unknown field' });
  if (typeof r.as_of_date !== 'string' || r.as_of_date.length === 0 || r.as_of_date.length > 32) details.push({ field: 'as_of_date', reason: 'must be a YYYY-MM-DD string' });
  for (const k of ['top_n', 'bottom_n'] as const) {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_N) details.push({ field: k, reason: `must be an integer 0..${MAX_N}` });
  }
  if (r.symbols !== undefined) {
    const s = r.symbols;
    if (!Array.isArray(s) || s.length === 0 || s.length > MAX_SYMBOLS) details.push({ field: 'symbols', reason: `must be a non-empty array of at most ${MAX_SYMBOLS} symbols` });
    else if (!s.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 16)) details.push({ field: 'symbols', reason: 'must hold ticker strings (1-16 characters)' });
    else if (new Set(s).size !== s.length) details.push({ field: 'symbols', reason: 'must not contain duplicates' });
  }
  if (details.length > 0) throw new HttpError(400, 'validation_failed', `invalid request: ${details.map((d) => `${d.field} ${d.reason}`).join('; ')}`, details);
  if (r.symbols !== undefined) {
    // The one ticker grammar (src/model/symbol.ts): ASCII upper-casing only; anything else is refused.
    const given = r.symbols as string[];
    const parsed = given.map((s) => trySymbol(s));
    const bad = given.flatMap((s, i) => (parsed[i] === null ? [{ field: `symbols[${i}]`, reason: `${JSON.stringify(s)} is not a US equity ticker (A-Z 0-9, optional .CLASS, ASCII only, no spaces)` }] : []));
    if (bad.length > 0) throw new HttpError(422, 'invalid_symbol', `invalid symbols: ${bad.slice(0, 5).map((d) => d.reason).join('; ')}${bad.length > 5 ? ` (+${bad.length - 5} more)` : ''}`, bad.slice(0, 100));
    return { ...(r as unknown as SignalsRequest), symbols: [...new Set(parsed as string[])] };
  }
  return r as unknown as SignalsRequest;
}

/** Scores one request against the captured model and snapshot. */
export async function generateSignals(deps: GenerateDeps, model: LoadedModel, data: DataSnapshot, req: SignalsRequest, scratch: FeatureScratch): Promise<GenerateResult> {
  const date = req.as_of_date;
  const day = dayNumber(date);
  if (!Number.isFinite(day)) throw new HttpError(422, 'bad_date', `as_of_date ${JSON.stringify(date)} is not a YYYY-MM-DD calendar date`, [{ field: 'as_of_date', reason: 'not a YYYY-MM-DD date' }]);
  if (day > data.lastDay) {
    throw new HttpError(422, 'date_out_of_range', `as_of_date ${date} is after the last stored date ${dayString(data.lastDay)}: run \`kestrel etl\` with newer bars first`, [
      { field: 'as_of_date', reason: `after the last stored date ${dayString(data.lastDay)}` },
    ]);
  }

  // ---- symbols with a bar on the date ----
  const symbols: string[] = [];
  const rows: number[] = [];
  const missing: string[] = [];
  if (req.symbols) {
    const unknown = req.symbols.filter((s) => !data.bars.has(s));
    if (unknown.length > 0) {
      throw new HttpError(422, 'unknown_symbols', `unknown symbol${unknown.length > 1 ? 's' : ''} (never seen in the data store): ${unknown.slice(0, 20).join(', ')}${unknown.length > 20 ? ` (+${unknown.length - 20} more)` : ''}`,
        unknown.map((s) => ({ field: 'symbols', reason: `${s}: not in the data store` })),
      );
    }
    for (const s of req.symbols) {
      const row = rowOf(data.bars.get(s)!.day, day);
      if (row < 0) missing.push(s);
      else {
        symbols.push(s);
        rows.push(row);
      }
    }
  } else {
    for (const [s, b] of data.bars) {
      const row = rowOf(b.day, day);
      if (row >= 0) {
        symbols.push(s);
        rows.push(row);
      }
    }
  }
  if (symbols.length === 0) {
    const why = req.symbols ? `none of the ${req.symbols.length} requested symbols has a bar on ${date}` : `no symbol has a bar on ${date} (not a trading day in the data store${day < data.firstDay ? `; data starts ${dayString(data.firstDay)}` : ''})`;
    throw new HttpError(422, 'no_data', `no data for ${date}: ${why}`, [{ field: 'as_of_date', reason: 'no bars on this date' }]);
  }
  const n = symbols.length;
  if (req.top_n + req.bottom_n > n) {
    throw new HttpError(422, 'too_few_symbols', `top_n ${req.top_n} + bottom_n ${req.bottom_n} = ${req.top_n + req.bottom_n} exceeds the ${n} symbols with data on ${date}`, [
      { field: 'top_n', reason: `top_n + bottom_n must be ≤ ${n}` },
    ]);
  }

  // ---- features: cache first, then compute ----
  const { bus, metrics, logger } = deps;
  const vectors = new Float64Array(n * FEATURE_COUNT);
  const fingerprints = new Float64Array(n);
  for (let i = 0; i < n; i++) fingerprints[i] = windowFingerprint(data.bars.get(symbols[i]!)!, rows[i]!);
  const useCache = bus.status() === 'up';
  metrics.busDegraded.set(useCache ? 0 : 1);
  const keys = symbols.map((s) => busKeys.features(s, date));
  let cached: Array<Buffer | null> | null = null;
  if (useCache) {
    try {
      cached = await bus.mgetBuffer(keys);
    } catch (e) {
      logger.warn({ err: (e as Error).message }, 'signals: feature cache read failed; computing');
    }
  } else metrics.degradedRequests.inc();
  let hits = 0;
  const writes: Array<[string, Buffer]> = [];
  for (let i = 0; i < n; i++) {
    const out = vectors.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT);
    if (cached && decodeCacheValue(cached[i] ?? null, fingerprints[i]!, out)) {
      hits++;
      continue;
    }
    computeFeatureRow(data.bars.get(symbols[i]!)!, rows[i]!, scratch, out);
    if (useCache) writes.push([keys[i]!, encodeCacheValue(out, fingerprints[i]!)]);
  }
  const misses = n - hits;
  metrics.cacheHits.inc(hits);
  metrics.cacheMisses.inc(misses);
  if (writes.length > 0) {
    try {
      if (!(await bus.mset(writes, deps.featureTtlSeconds))) metrics.cacheWriteDrops.inc(writes.length);
    } catch (e) {
      metrics.cacheWriteDrops.inc(writes.length);
      logger.warn({ err: (e as Error).message }, 'signals: feature cache write failed');
    }
  }

  // ---- score, rank, weight ----
  const scores = model.model.predict(toModelInput(vectors, n, model.columns), n);
  const liquidity = Float64Array.from(symbols, (s, i) => dollarVolume(data.bars.get(s)!, rows[i]!, LIQUIDITY_WINDOW));
  const signals = rankSignals(symbols, scores, req.top_n, req.bottom_n, deps.grossPerSide, liquidity);
  const tied = tiedCount(scores);
  if (tied * 2 > n) logger.warn({ model: modelVersionString(model), as_of_date: date, tied, scored: n }, 'signals: the model gives most symbols the same score (a weak model); the tie rule (liquidity, then symbol) picks much of the book');
  const generatedAt = deps.clock.now().toISOString();
  const response: SignalsResponse = {
    as_of_date: date,
    model: { name: model.name, version: model.version, label: model.label.kind },
    generated_at: generatedAt,
    timezone: 'UTC',
    signals,
    missing,
    cache: { hits, misses },
    ties: { symbols: tied, share: n > 0 ? tied / n : 0 },
  };
  const event: SignalsGenerated = { as_of_date: date, symbols: signals.map((s) => s.symbol), model_version: modelVersionString(model), timestamp: generatedAt };
  return { response, event, cache: !useCache ? 'off' : hits === n ? 'hit' : hits === 0 ? 'miss' : 'partial' };
}

/** Bars in the tie-breaking liquidity average (about a trading month). */
export const LIQUIDITY_WINDOW = 20;

/** Average close × volume over the `window` bars ending at `row` (fewer at the start of a series); NaN when none is finite. */
export function dollarVolume(b: { close: ArrayLike<number>; volume: ArrayLike<number> }, row: number, window: number): number {
  let sum = 0;
  let k = 0;
  for (let i = Math.max(0, row - window + 1); i <= row; i++) {
    const v = b.close[i]! * b.volume[i]!;
    if (Number.isFinite(v)) {
      sum += v;
      k++;
    }
  }
  return k > 0 ? sum / k : NaN;
}

/** Row-major model input: model feature j of row i = Alpha158 column columns[j]. */
export function toModelInput(vectors: Float64Array, n: number, columns: Int32Array): Float64Array {
  const F = columns.length;
  let identity = F === FEATURE_COUNT;
  for (let j = 0; identity && j < F; j++) identity = columns[j] === j;
  if (identity) return vectors;
  const X = new Float64Array(n * F);
  for (let i = 0; i < n; i++) {
    const src = i * FEATURE_COUNT;
    const dst = i * F;
    for (let j = 0; j < F; j++) X[dst + j] = vectors[src + columns[j]!]!;
  }
  return X;
}
