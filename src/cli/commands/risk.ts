import type { Command } from 'commander';
import { FailureError, InputError } from '../../core/errors.js';
import { cents, dec, decString } from '../../core/money.js';
import { choiceFlag, intFlag, textFlag, urlFlag, type FlagParser } from '../flags.js';
import type { IO } from '../context.js';
import { createContext, type CliContext } from '../context.js';
import { paint } from '../style.js';
import { formatTable } from '../table.js';
import { parseSymbol } from '../../model/symbol.js';

/**
 * `kestrel risk status|trip|reset|events` and `kestrel kill-switch status|engage|disengage`.
 * Both talk HTTP to a running gateway (`kestrel serve gateway`, or `kestrel up`) at
 * http://$HOST:$GATEWAY_PORT (or --url), with `Authorization: Bearer $API_TOKEN` when set:
 * the gateway owns the shared breaker state and the audit, so the CLI needs no Redis or
 * Postgres access of its own and every change goes through the same checks as the API.
 */
interface HttpOpts {
  url?: string;
  json?: boolean;
}
interface ChangeOpts extends HttpOpts {
  reason?: string;
  actor?: string;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

// Parsed by commander before any action runs (src/cli/flags.ts): a bad value is exit 2 naming the flag.
const urlOpt = urlFlag('--url', 'http://127.0.0.1:7301');
const reasonOpt = textFlag('--reason', 2000, 'say why (it is recorded in the audit trail)');
const actorOpt = textFlag('--actor', 100, 'who is acting');
const SYMBOL_RE = /^[A-Z][A-Z0-9]{0,9}(\.[A-Z0-9]{1,3})?$/;
const symbolOpt: FlagParser<string> = (raw) => {
  const s = raw.trim().toUpperCase();
  if (!SYMBOL_RE.test(s)) throw new InputError(`--symbol ${JSON.stringify(raw)} must be a ticker such as AAPL or BRK.B`, 'bad_usage');
  return s;
};

function baseUrl(ctx: CliContext, url: string | undefined): string {
  if (url) return urlOpt(url);
  const host = WILDCARD_HOSTS.has(ctx.config.host) ? '127.0.0.1' : ctx.config.host;
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${ctx.config.ports.gateway}`;
}

/** One request to the gateway; a non-2xx answer becomes a one-line error (4xx: exit 2, else 1). */
export async function gatewayCall<T>(ctx: CliContext, url: string | undefined, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const base = baseUrl(ctx, url);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  // API_TOKEN is accepted for reads too; READ_TOKEN alone is enough for the GETs.
  const token = method === 'GET' ? (ctx.config.readToken ?? ctx.config.apiToken) : ctx.config.apiToken;
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    const c = (e as { cause?: { code?: string; message?: string } }).cause;
    const cause = c?.code ?? c?.message ?? (e as Error).message;
    throw new FailureError(`gateway not reachable at ${base} (${cause}): start it with \`kestrel serve gateway\` or pass --url`, 'gateway_unreachable');
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) {
    const err = parsed as { error?: string; message?: string } | null;
    const msg = `gateway answered ${res.status}${err?.error ? ` ${err.error}` : ''}: ${err?.message ?? (text.slice(0, 200) || res.statusText)}`;
    if (res.status === 401) throw new InputError(`${msg} (set API_TOKEN to the gateway's token)`, 'unauthorized');
    if (res.status >= 400 && res.status < 500) throw new InputError(msg, err?.error ?? 'refused');
    throw new FailureError(msg, err?.error ?? 'gateway_error');
  }
  if (parsed === null && text) throw new FailureError(`gateway answered ${res.status} with non-JSON content from ${base}${path}`, 'gateway_error');
  return parsed as T;
}

function requireReason(reason: string | undefined): string {
  if (!reason) throw new InputError('--reason is required: say why (it is recorded in the audit trail)', 'bad_usage');
  return reason;
}

/** Money at the edge (docs/concepts/pnl.md): the equity figures in cents, for --json and the screen alike. */
export function roundRiskStatus(s: StatusView): StatusView {
  const c = (v: string | null | undefined) => (v === null || v === undefined ? null : cents(v));
  return {
    ...s,
    equity: { equity: c(s.equity.equity), start_of_day: c(s.equity.start_of_day), buying_power: c(s.equity.buying_power) },
    daily_loss: s.daily_loss && { ...s.daily_loss, reference: c(s.daily_loss.reference), equity: c(s.daily_loss.equity) },
  };
}

interface BreakerView {
  state: string;
  version: number;
  since: string;
  trigger: string;
  reason: string;
  actor: string;
  quiet_until: string | null;
  gate?: string;
}

interface StatusView {
  as_of: string;
  trade_date: string;
  breaker: BreakerView;
  daily_loss: { basis: string; reference: string | null; equity: string | null; loss_pct: string | null; threshold_pct: number; breached: boolean } | null;
  equity: { equity: string | null; start_of_day: string | null; buying_power: string | null };
  kill_switch: { engaged: boolean; reason: string | null; actor: string | null; changed_at: string | null } | null;
  limits: { limits?: Record<string, unknown>; correlation?: Record<string, unknown>; breaker?: Record<string, unknown> };
}

function colourState(ctx: CliContext, s: string): string {
  const c = paint(ctx.tty);
  return s === 'OPEN' ? c.green(s) : s === 'TRIPPED' ? c.red(c.bold(s)) : c.yellow(s);
}

function describeBreaker(ctx: CliContext, b: BreakerView): string {
  const until = b.state === 'QUIET_PERIOD' && b.quiet_until ? ` until ${b.quiet_until}` : '';
  return `${colourState(ctx, b.state)}${until}  (v${b.version}, since ${b.since}, ${b.trigger} by ${b.actor}: ${b.reason})`;
}

export function renderStatus(ctx: CliContext, s: StatusView): string {
  const c = paint(ctx.tty);
  const lines: string[] = [];
  lines.push(`breaker      ${describeBreaker(ctx, s.breaker)}`);
  const d = s.daily_loss;
  if (d && d.loss_pct !== null) {
    const flag = d.breached ? c.red(' BREACHED') : '';
    lines.push(`daily loss   ${d.loss_pct}% of ${d.basis === 'reset' ? 'equity at reset' : 'start-of-day equity'} ${d.reference} (trips at ${d.threshold_pct}%)${flag}`);
  } else lines.push(`daily loss   ${c.yellow('unknown')} (equity or start-of-day equity unavailable: risk-increasing orders are refused)`);
  lines.push(`equity       ${s.equity.equity ?? 'unknown'}   start of day ${s.equity.start_of_day ?? 'unknown'}   buying power ${s.equity.buying_power ?? 'unknown'}`);
  const ks = s.kill_switch;
  lines.push(`kill switch  ${ks ? (ks.engaged ? c.red(c.bold('ENGAGED')) + ` (${ks.actor ?? '?'} at ${ks.changed_at ?? '?'}: ${ks.reason ?? ''})` : c.green('disengaged')) : 'unknown'}`);
  const L = s.limits.limits ?? {};
  const fmt = (v: unknown) => (v === null || v === undefined ? 'off' : Array.isArray(v) ? (v.length ? v.join(',') : 'none') : String(v));
  // Position and exposure limits are fractions of equity (0.1); people read them as percents.
  const frac = (v: unknown) => (typeof v === 'number' ? `${decString(dec(v).times(100))}%` : fmt(v));
  lines.push(
    c.dim(
      `limits       order notional ${L.max_order_notional == null ? 'off' : cents(String(L.max_order_notional))} · position ${fmt(L.max_position_shares)} sh / ${frac(L.max_position_pct)} · gross ${frac(L.max_gross_exposure_pct)} · net ${frac(L.max_net_exposure_pct)} · band ${fmt(L.price_band_pct)}% · restricted ${fmt(L.restricted_symbols)}`,
    ),
  );
  const C = s.limits.correlation ?? {};
  lines.push(c.dim(`correlation  ${C.enabled ? `cluster ≤ ${frac(C.max_cluster_pct)} of equity for names with ${fmt(C.lookback_days)}-day corr ≥ ${fmt(C.threshold)} (${fmt(C.mode)})` : 'off'}`));
  lines.push(c.dim(`as of ${s.as_of} (trade date ${s.trade_date})`));
  return lines.join('\n');
}

export function registerRisk(program: Command, io: IO): void {
  const risk = program
    .command('risk')
    .description('risk controls on the running gateway: circuit breaker status, trip, reset, audit trail')
    .addHelpText(
      'after',
      `
The circuit breaker is shared by every gateway replica: OPEN → TRIPPED (daily loss ≥ limit,
or manual) → reset → QUIET_PERIOD (cool-down) → OPEN. While TRIPPED only orders that reduce a
position pass. Commands talk to the gateway at http://$HOST:$GATEWAY_PORT (or --url) with
$API_TOKEN. See docs/concepts/risk.md.

Examples:
  kestrel risk status
  kestrel risk trip --reason "unexplained fills in momentum-v2"
  kestrel risk reset --reason "fills reconciled, resuming" --actor alice
  kestrel risk events --kind pretrade_rejected --limit 20
  kestrel risk status --json --url http://gateway.internal:7301`,
    );

  risk
    .command('status')
    .description('breaker state, daily loss against its threshold, equity, kill switch, limits')
    .option('--url <url>', 'gateway base URL (default http://$HOST:$GATEWAY_PORT)', urlOpt)
    .option('--json', 'machine output')
    .action(async (opts: HttpOpts) => {
      const ctx = createContext('risk', io, {}, { quiet: true });
      const s = roundRiskStatus(await gatewayCall<StatusView>(ctx, opts.url, 'GET', '/api/v1/risk/status'));
      if (opts.json) ctx.json(s);
      else ctx.out(renderStatus(ctx, s));
    });

  for (const action of ['trip', 'reset'] as const) {
    risk
      .command(action)
      .description(action === 'trip' ? 'trip the breaker now: risk-increasing orders are refused on every replica' : 'reset a tripped breaker: quiet period (cool-down), then OPEN')
      .requiredOption('--reason <text>', 'why (recorded in the audit trail), at most 2000 characters', reasonOpt)
      .option('--actor <who>', 'who (default $USER), at most 100 characters', actorOpt)
      .option('--url <url>', 'gateway base URL (default http://$HOST:$GATEWAY_PORT)', urlOpt)
      .option('--json', 'machine output')
      .action(async (opts: ChangeOpts) => {
        const ctx = createContext('risk', io, {}, { quiet: true });
        const reason = requireReason(opts.reason);
        const out = await gatewayCall<{ changed: boolean; breaker: BreakerView; message?: string }>(ctx, opts.url, 'POST', `/api/v1/risk/breaker/${action}`, { reason, actor: opts.actor ?? ctx.user.slice(0, 100) });
        if (opts.json) ctx.json(out);
        else ctx.out(`${out.changed ? (action === 'trip' ? 'tripped' : 'reset') : 'unchanged'}: ${describeBreaker(ctx, out.breaker)}${out.message && !out.changed ? `\n${out.message}` : ''}`);
      });
  }

  risk
    .command('events')
    .description('the risk audit trail, newest first: refused orders, breaker transitions, de-risking')
    .option('--kind <kind>', 'pretrade_rejected | breaker | derisk', choiceFlag('--kind', ['pretrade_rejected', 'breaker', 'derisk'] as const))
    .option('--symbol <sym>', 'only this symbol', symbolOpt)
    .option('--limit <n>', 'rows (1-500, default 50)', intFlag('--limit', 1, 500, 'a whole number of rows'), 50)
    .option('--before <id>', 'page: events older than this id', intFlag('--before', 1, Number.MAX_SAFE_INTEGER, 'an event id'))
    .option('--url <url>', 'gateway base URL (default http://$HOST:$GATEWAY_PORT)', urlOpt)
    .option('--json', 'machine output')
    .action(async (opts: HttpOpts & { kind?: string; symbol?: string; limit: number; before?: number }) => {
      const ctx = createContext('risk', io, {}, { quiet: true });
      const q = new URLSearchParams();
      if (opts.kind) q.set('kind', opts.kind);
      if (opts.symbol) q.set('symbol', parseSymbol(opts.symbol, '--symbol'));
      q.set('limit', String(opts.limit));
      if (opts.before !== undefined) q.set('before', String(opts.before));
      const out = await gatewayCall<{ events: Array<Record<string, unknown>>; next_before: number | null }>(ctx, opts.url, 'GET', `/api/v1/risk/events?${q}`);
      if (opts.json) return ctx.json(out);
      const rows = out.events.map((e) => ({ id: e.id, at: e.created_at, kind: e.kind, code: e.code, symbol: e.symbol ?? '', state: e.to_state ? `${e.from_state ?? ''}→${e.to_state}` : '', actor: e.actor, reason: e.reason }));
      ctx.out(rows.length ? formatTable(rows, ctx.tty) : 'no risk events');
      if (out.next_before !== null) ctx.out(`more: kestrel risk events --before ${out.next_before}`);
    });

  const ks = program
    .command('kill-switch')
    .description('the gateway kill switch: engaged, every new order is refused and open orders are cancelled')
    .addHelpText(
      'after',
      `
Examples:
  kestrel kill-switch status
  kestrel kill-switch engage --reason "broker incident"
  kestrel kill-switch disengage --reason "incident closed" --actor alice`,
    );

  ks.command('status')
    .description('engaged or not, by whom and why, and the last changes')
    .option('--url <url>', 'gateway base URL (default http://$HOST:$GATEWAY_PORT)', urlOpt)
    .option('--json', 'machine output')
    .action(async (opts: HttpOpts) => {
      const ctx = createContext('kill-switch', io, {}, { quiet: true });
      const s = await gatewayCall<{ engaged: boolean; reason: string | null; actor: string | null; changed_at: string | null; history?: Array<Record<string, unknown>> }>(ctx, opts.url, 'GET', '/api/v1/kill-switch');
      if (opts.json) return ctx.json(s);
      const c = paint(ctx.tty);
      ctx.out(`kill switch ${s.engaged ? c.red(c.bold('ENGAGED')) : c.green('disengaged')}${s.changed_at ? ` (${s.actor ?? '?'} at ${s.changed_at}: ${s.reason ?? ''})` : ''}`);
      if (s.history?.length) ctx.out(formatTable(s.history, ctx.tty));
    });

  for (const action of ['engage', 'disengage'] as const) {
    ks.command(action)
      .description(action === 'engage' ? 'refuse every new order on every replica and cancel open orders' : 'accept orders again')
      .requiredOption('--reason <text>', 'why (recorded in the audit trail), at most 2000 characters', reasonOpt)
      .option('--actor <who>', 'who (default $USER), at most 100 characters', actorOpt)
      .option('--url <url>', 'gateway base URL (default http://$HOST:$GATEWAY_PORT)', urlOpt)
      .option('--json', 'machine output')
      .action(async (opts: ChangeOpts) => {
        const ctx = createContext('kill-switch', io, {}, { quiet: true });
        const reason = requireReason(opts.reason);
        const out = await gatewayCall<{ engaged: boolean; canceled?: unknown[]; cancel_errors?: unknown[] }>(ctx, opts.url, 'POST', `/api/v1/kill-switch/${action}`, { reason, actor: opts.actor ?? ctx.user.slice(0, 100) });
        if (opts.json) return ctx.json(out);
        const c = paint(ctx.tty);
        ctx.out(`kill switch ${out.engaged ? c.red(c.bold('ENGAGED')) : c.green('disengaged')}${out.canceled ? `; ${out.canceled.length} open order(s) cancelled` : ''}${out.cancel_errors?.length ? c.red(`; ${out.cancel_errors.length} could not be cancelled`) : ''}`);
        if (out.cancel_errors?.length) throw new FailureError(`${out.cancel_errors.length} open order(s) could not be cancelled: see --json or GET /api/v1/kill-switch`, 'cancel_failed');
      });
  }
}
