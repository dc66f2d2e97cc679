import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';

/**
 * Requests generated from a service's own OpenAPI document (`/docs/json`): every operation,
 * with bodies, query strings and path parameters that mix values the schema allows (its
 * examples, enums, ranges) with hostile ones — exponents that leave every range, Unicode that
 * case-folds or trims into a real ticker, control characters, wrong JSON types, unknown
 * fields, repeated parameters, raw JSON number tokens JSON.stringify cannot write.
 */
export interface FuzzRequest {
  op: string;
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  url: string;
  /** Raw JSON text (may hold number tokens such as 1e1000000000). */
  payload?: string;
  /** The body before serialisation (raw numbers as RawNumber), for the checks. */
  body?: unknown;
  headers: Record<string, string>;
}

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  example?: unknown;
  examples?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
  maximum?: number;
  anyOf?: Schema[];
  nullable?: boolean;
}

interface Operation {
  id: string;
  method: FuzzRequest['method'];
  path: string;
  query: Record<string, Schema>;
  params: Record<string, Schema>;
  body: Schema | null;
}

/** A JSON number written as this exact token (beyond what a double or JSON.stringify can say). */
export class RawNumber {
  constructor(readonly token: string) {}
}

export const HOSTILE_STRINGS = [
  '1e1000000000',
  '1e10000000',
  '-1e309',
  '1e-400',
  '9223372036854775808',
  '1e20',
  'Infinity',
  'NaN',
  '-0',
  '0x10',
  '１０',
  ' 10',
  '10 ',
  '',
  ' ',
  'MſFT',
  'ıbm',
  'ﬀ',
  '\u00a0AAPL',
  '\ufeffAAPL',
  'AAPL\u2003',
  'ＡＡＰＬ',
  'aapl',
  'BRK-B',
  'A\u0000B',
  '\u0000',
  '%00',
  '99999-01-01',
  '238529',
  '0001-01-01',
  '2025-02-30',
  "'; DROP TABLE orders; --",
  '../../etc/passwd',
  '{"$gt":""}',
  'x'.repeat(300),
  '\ud800',
  'ǅ',
];
const RAW_NUMBERS = ['1e1000000000', '-1e309', '1e-400', '123456789012345678901234567890', '0.000000000000000000000001', '-0', '1e15', '9007199254740993'];

/** `arb` with probability p, else undefined (fc.option's freq is the inverse: 1/freq of nil). */
const sometimes = <T>(arb: fc.Arbitrary<T>, p: number): fc.Arbitrary<T | undefined> => fc.oneof({ weight: Math.round(p * 100), arbitrary: arb }, { weight: Math.round((1 - p) * 100), arbitrary: fc.constant(undefined) });

const hostileString = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) }, { weight: 1, arbitrary: fc.string({ maxLength: 24, unit: 'binary' }) });
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 12345, 1.5, [], {}, ['x'], [['0']], { n: 1 }),
  fc.constantFrom(...RAW_NUMBERS).map((t) => new RawNumber(t)),
  fc.constantFrom('AAPL', 'buy', 'market', '10').map((s) => [s]),
);

function examplesOf(s: Schema): unknown[] {
  const out: unknown[] = [];
  if (s.example !== undefined) out.push(s.example);
  if (Array.isArray(s.examples)) out.push(...s.examples);
  if (s.enum) out.push(...s.enum.filter((v) => v !== null));
  return out;
}

/** A value the schema allows (as far as its examples, enums and ranges tell). */
function valid(s: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (s.anyOf?.length) return fc.oneof(...s.anyOf.map((x) => valid(x, depth)));
  const ex = examplesOf(s);
  if (ex.length) return fc.constantFrom(...ex);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? 0, -1e6), max: Math.min(s.maximum ?? 1000, 1e6) });
    case 'number':
      return fc.double({ min: s.minimum ?? 0, max: s.maximum ?? 1000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 2 ? fc.constant([]) : fc.array(valid(s.items ?? {}, depth + 1), { minLength: 1, maxLength: 3 });
    case 'object':
      return depth > 2 ? fc.constant({}) : objectOf(s, depth + 1, false);
    default:
      return fc.constantFrom('AAPL', 'x', 'momentum-v2', 'reason');
  }
}

/**
 * An object under the schema. Hostile: a valid one with a few mutations (a field replaced by a
 * hostile value or a wrong type, a required field dropped, an unknown field added) — so most
 * requests get past the shape checks and reach the code behind them.
 */
function objectOf(s: Schema, depth: number, hostile: boolean, hints: Hints = {}): fc.Arbitrary<Record<string, unknown>> {
  const props = s.properties ?? {};
  const required = new Set(s.required ?? []);
  const keys = Object.keys(props);
  const base = fc.tuple(...keys.map((k) => sometimes(hints[k] ?? valid(props[k]!, depth), required.has(k) ? 1 : 0.3))).map((vs) => {
    const o: Record<string, unknown> = {};
    keys.forEach((k, i) => {
      if (vs[i] !== undefined) o[k] = vs[i];
    });
    return o;
  });
  if (!hostile) return base;
  const mutation = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constant('set' as const), fc.constantFrom(...(keys.length ? keys : ['x'])), fc.oneof(hostileString, wrongType)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('drop' as const), fc.constantFrom(...(keys.length ? keys : ['x'])), fc.constant(undefined)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('add' as const), fc.constantFrom('price', 'extra', '__proto__', 'constructor', 'qty '), fc.oneof(hostileString, wrongType)) },
  );
  // Half the bodies are as the schema allows; the others carry one or two mutations.
  const mutations = fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 2 }) });
  return fc.tuple(base, mutations).map(([o, ms]) => {
    const out = { ...o };
    for (const [kind, k, v] of ms) {
      if (kind === 'drop') delete out[k];
      else Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
}

/** JSON text with RawNumber tokens written as they are. */
export function serialize(v: unknown): string {
  if (v instanceof RawNumber) return v.token;
  if (Array.isArray(v)) return `[${v.map(serialize).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${serialize(x)}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** encodeURIComponent, or the UTF-8 bytes (lone surrogates as U+FFFD) when it refuses the text. */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
}

function queryValue(s: Schema): fc.Arbitrary<string> {
  const ok = valid(s).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  return fc.oneof({ weight: 5, arbitrary: ok }, { weight: 4, arbitrary: hostileString });
}

/** The operations of the app's OpenAPI document (nothing under /docs). */
export async function operationsOf(app: FastifyInstance): Promise<Operation[]> {
  const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; schema: Schema }>; requestBody?: { content?: Record<string, { schema: Schema }> } }>> };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(methods)) {
      const method = m.toUpperCase() as FuzzRequest['method'];
      if (!['GET', 'POST', 'DELETE', 'PUT', 'PATCH'].includes(method)) continue;
      const params = op.parameters ?? [];
      ops.push({
        id: `${method} ${path}`,
        method,
        path,
        query: Object.fromEntries(params.filter((p) => p.in === 'query').map((p) => [p.name, p.schema])),
        params: Object.fromEntries(params.filter((p) => p.in === 'path').map((p) => [p.name, p.schema])),
        body: op.requestBody?.content?.['application/json']?.schema ?? null,
      });
    }
  }
  return ops;
}

/** Valid values for fields by name (e.g. several tickers where the schema has one example). */
export type Hints = Record<string, fc.Arbitrary<unknown>>;

export interface RequestArbOptions {
  hints?: Hints;
  /** Sent as the Authorization header most of the time (hostile headers otherwise). */
  token?: string;
  /** Relative weight of an operation (default 1; 0 leaves it out). */
  weight?: (op: Operation) => number;
}

export function requestArb(ops: Operation[], opts: RequestArbOptions = {}): fc.Arbitrary<FuzzRequest> {
  const arbs = ops
    .map((op) => ({ op, weight: opts.weight?.(op) ?? 1 }))
    .filter((x) => x.weight > 0)
    .map(({ op, weight }) => {
      const path = fc.tuple(...Object.entries(op.params).map(([k, s]) => fc.tuple(fc.constant(k), fc.oneof(valid(s).map(String), hostileString)))).map((kv) => {
        let p = op.path;
        for (const [k, v] of kv) p = p.replace(`{${k}}`, enc(v) || 'x');
        return p;
      });
      const query = fc
        .tuple(
          fc.tuple(...Object.entries(op.query).map(([k, s]) => sometimes(fc.tuple(fc.constant(k), queryValue(s)), 0.4))),
          sometimes(fc.tuple(fc.constantFrom('x', 'limit', 'symbol', '\u0000', 'since'), hostileString), op.method === 'GET' ? 0.25 : 0.1),
        )
        .map(([kv, extra]) => {
          const parts = kv.filter((x): x is [string, string] => x !== undefined);
          if (extra) parts.push(extra);
          return parts.length ? `?${parts.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')}` : '';
        });
      const body: fc.Arbitrary<unknown> =
        op.method === 'GET' || op.method === 'DELETE'
          ? fc.constant(undefined)
          : op.body
            ? fc.oneof({ weight: 12, arbitrary: objectOf(op.body, 0, true, opts.hints) }, { weight: 1, arbitrary: wrongType })
            : fc.oneof(fc.constant(undefined), fc.constant({}), objectOf({ properties: { x: {} } }, 0, true));
      const headers = fc.oneof(
        { weight: 10, arbitrary: fc.constant<Record<string, string>>(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
        { weight: 1, arbitrary: fc.constantFrom<Record<string, string>>({ authorization: `bearer ${opts.token ?? 'x'}` }, { authorization: 'Bearer wrong-token-0123456789' }, { 'x-request-id': 'x'.repeat(16_384) }, { 'x-request-id': 'trace\u00e9' }, {}) },
      );
      return { weight, arbitrary: fc.record({ path, query, body, headers }).map(({ path: p, query: q, body: b, headers: h }): FuzzRequest => {
        const payload = b === undefined ? undefined : serialize(b);
        return { op: op.id, method: op.method, url: p + q, payload, body: b, headers: payload === undefined ? h : { 'content-type': 'application/json', ...h } };
      }) };
    });
  return fc.oneof(...arbs);
}
