import { decimalProblem, PRICE } from '../model/decimal.js';
import { asciiUpper, trySymbol } from '../model/symbol.js';

/** Where the simulated broker gets "the market": the last price of a symbol, or null if none yet. */
export interface PriceSource {
  price(symbol: string): string | null;
  /** Optional: lets the simulator re-check resting orders when prices move. Returns an unsubscribe. */
  onChange?(listener: (symbols: string[]) => void): () => void;
}

export interface SettablePriceSource extends PriceSource {
  setMany(prices: Record<string, string | null>): void;
}

export function isSettable(p: PriceSource): p is SettablePriceSource {
  return typeof (p as Partial<SettablePriceSource>).setMany === 'function';
}

/** A price source you set by hand (tests, admin endpoint, replay). Prices are positive decimal strings. */
export class StaticPrices implements SettablePriceSource {
  private readonly prices = new Map<string, string>();
  private readonly listeners = new Set<(symbols: string[]) => void>();

  constructor(initial: Record<string, string> = {}) {
    for (const [symbol, price] of Object.entries(initial)) this.prices.set(checkSymbol(symbol), checkPrice(symbol, price));
  }

  price(symbol: string): string | null {
    return this.prices.get(asciiUpper(symbol)) ?? null;
  }

  /** Sets (or with null, removes) one price and notifies listeners. */
  set(symbol: string, price: string | null): void {
    this.setMany({ [symbol]: price });
  }

  setMany(prices: Record<string, string | null>): void {
    const changed: string[] = [];
    // Validate everything first so a bad entry changes nothing.
    const checked = Object.entries(prices).map(([s, p]) => [checkSymbol(s), p === null ? null : checkPrice(s, p)] as const);
    for (const [symbol, price] of checked) {
      if (price === null) this.prices.delete(symbol);
      else this.prices.set(symbol, price);
      changed.push(symbol);
    }
    if (changed.length) for (const l of this.listeners) l(changed);
  }

  onChange(listener: (symbols: string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function checkSymbol(symbol: string): string {
  const s = trySymbol(symbol);
  if (s === null) throw new RangeError(`not a ticker: ${JSON.stringify(symbol)} (A-Z 0-9, optional .CLASS)`);
  return s;
}

/** The one bounded price rule (src/model/decimal.ts): 0 < p < 1e9, at most 10 places, plain text. */
function checkPrice(symbol: string, price: string): string {
  const problem = decimalProblem(price, PRICE);
  if (problem) throw new RangeError(`price of ${symbol} ${problem}, got ${JSON.stringify(price)}`);
  return price;
}
