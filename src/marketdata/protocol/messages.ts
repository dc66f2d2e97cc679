import { z } from 'zod';

/**
 * Alpaca market-data WebSocket v2 (`wss://stream.data.alpaca.markets/v2/{iex,sip}`).
 * Client → server: one JSON object per frame (`auth`, `subscribe`, `unsubscribe`).
 * Server → client: one JSON ARRAY per frame, each element tagged by `T`.
 * Prices/sizes are JSON numbers (as Alpaca sends them); timestamps are RFC-3339 strings.
 */

const symbols = z.array(z.string().min(1).max(16)).max(10_000);

export const AuthAction = z.object({ action: z.literal('auth'), key: z.string(), secret: z.string() });
export const SubscribeAction = z.object({
  action: z.enum(['subscribe', 'unsubscribe']),
  trades: symbols.optional(),
  quotes: symbols.optional(),
  bars: symbols.optional(),
});
export const ClientAction = z.union([AuthAction, SubscribeAction]);
export type AuthAction = z.infer<typeof AuthAction>;
export type SubscribeAction = z.infer<typeof SubscribeAction>;
export type ClientAction = z.infer<typeof ClientAction>;

export const SuccessMsg = z.object({ T: z.literal('success'), msg: z.string() });
export const ErrorMsg = z.object({ T: z.literal('error'), code: z.number().int(), msg: z.string() });
export const SubscriptionMsg = z.object({ T: z.literal('subscription'), trades: z.array(z.string()), quotes: z.array(z.string()), bars: z.array(z.string()) });
/** Feed numbers are input like any other: bounded (prices 0 < p < 1e9, sizes < 1e15; src/model/decimal.ts). */
const num = z.number().finite().gt(-1e15).lt(1e15);
const price = z.number().positive().lt(1e9);
export const TradeMsg = z.object({
  T: z.literal('t'),
  S: z.string().min(1).max(16),
  i: z.number().int(),
  x: z.string(),
  p: price,
  s: num.nonnegative(),
  t: z.string().min(1),
  c: z.array(z.string()),
  z: z.string(),
});
export const QuoteMsg = z.object({
  T: z.literal('q'),
  S: z.string().min(1),
  bx: z.string(),
  bp: num.nonnegative(),
  bs: num.nonnegative(),
  ax: z.string(),
  ap: num.nonnegative(),
  as: num.nonnegative(),
  t: z.string().min(1),
  c: z.array(z.string()),
  z: z.string(),
});
export const BarMsg = z.object({
  T: z.literal('b'),
  S: z.string().min(1),
  o: num,
  h: num,
  l: num,
  c: num,
  v: num.nonnegative(),
  t: z.string().min(1),
  n: z.number().int().nonnegative().optional(),
  vw: num.optional(),
});
export const ServerMsg = z.discriminatedUnion('T', [SuccessMsg, ErrorMsg, SubscriptionMsg, TradeMsg, QuoteMsg, BarMsg]);
export type SuccessMsg = z.infer<typeof SuccessMsg>;
export type ErrorMsg = z.infer<typeof ErrorMsg>;
export type SubscriptionMsg = z.infer<typeof SubscriptionMsg>;
export type TradeMsg = z.infer<typeof TradeMsg>;
export type QuoteMsg = z.infer<typeof QuoteMsg>;
export type BarMsg = z.infer<typeof BarMsg>;
export type ServerMsg = z.infer<typeof ServerMsg>;

/** Alpaca's error codes on this stream. */
export const ErrorCode = {
  invalidSyntax: 400,
  notAuthenticated: 401,
  authFailed: 402,
  alreadyAuthenticated: 403,
  authTimeout: 404,
  symbolLimit: 405,
  connectionLimit: 406,
  slowClient: 407,
  insufficientSubscription: 409,
  invalidSubscription: 410,
  internal: 500,
} as const;

export interface ParseResult {
  messages: ServerMsg[];
  /** Elements (or whole frames) that were not valid server messages and were skipped. */
  malformed: number;
}

/**
 * Parses one server frame. Never throws: bad JSON or a non-array frame counts as one
 * malformed message; inside an array every element that fails its schema counts as one
 * and is skipped, the valid ones are returned in order.
 */
export function parseServerFrame(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { messages: [], malformed: 1 };
  }
  if (!Array.isArray(raw)) return { messages: [], malformed: 1 };
  const messages: ServerMsg[] = [];
  let malformed = 0;
  for (const el of raw) {
    const r = ServerMsg.safeParse(el);
    if (r.success) messages.push(r.data);
    else malformed++;
  }
  return { messages, malformed };
}

/** Parses one client frame: the action, or the error the server should answer with. Never throws. */
export function parseClientFrame(text: string): { ok: true; action: ClientAction } | { ok: false; code: number; msg: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: ErrorCode.invalidSyntax, msg: 'invalid syntax' };
  }
  const r = ClientAction.safeParse(raw);
  if (!r.success) return { ok: false, code: ErrorCode.invalidSyntax, msg: 'invalid syntax' };
  return { ok: true, action: r.data };
}

export function encodeFrame(msgs: readonly ServerMsg[]): string {
  return JSON.stringify(msgs);
}
