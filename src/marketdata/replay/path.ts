import { mulberry32 } from '../../core/random.js';

/**
 * A deterministic intraday trade path from one daily bar.
 *
 * Algorithm (all prices in integer cents, so rounding never breaks a bound):
 *  1. Round open/high/low/close to cents; validate low <= open, close <= high, low < high.
 *  2. Key points: index 0 = open, index n-1 = close. The high and the low each get exactly one
 *     touch: at an end whose price already equals it, otherwise at a distinct interior index
 *     drawn from the seeded PRNG (mulberry32), so the high-before-low order is random too.
 *  3. Between consecutive key points, prices follow a Brownian bridge (linear interpolation plus
 *     a seeded random walk pinned to zero at both ends), rounded to the cent and clamped to
 *     [low + 1c, high - 1c], so no other trade touches the high or the low.
 *  4. Sizes: every trade gets 1 share, the rest of round(volume) is split by seeded random
 *     weights (largest-remainder rounding), so sizes are integers summing exactly to the volume.
 *     If round(volume) < n, some trades have size 0.
 *
 * `n` is the requested trade count (min 4). When high - low is one cent there is no interior
 * price, so the path is only its key points (2–4 trades).
 *
 * The high is touched exactly once unless both open and close equal it (then those two
 * trades are the touches); the same for the low.
 */
export interface DailyBar {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface PathTrade {
  /** Price in dollars, an exact cent value (e.g. 101.23). */
  price: number;
  size: number;
}

/** FNV-1a of a string, for mixing a symbol into a seed. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const cents = (x: number) => Math.round(x * 100);

export function validateBar(bar: DailyBar): string | null {
  const { open, high, low, close, volume } = bar;
  if (![open, high, low, close, volume].every(Number.isFinite)) return 'non-finite value';
  const [o, h, l, c] = [open, high, low, close].map(cents) as [number, number, number, number];
  if (l <= 0) return 'low must be at least one cent';
  if (l >= h) return 'low must be below high (in cents)';
  if (o < l || o > h || c < l || c > h) return 'open/close outside [low, high]';
  if (volume < 0) return 'negative volume';
  return null;
}

export function tradePath(bar: DailyBar, n: number, seed: number): PathTrade[] {
  const why = validateBar(bar);
  if (why) throw new RangeError(`bad bar: ${why}`);
  const rnd = mulberry32(seed);
  const o = cents(bar.open);
  const h = cents(bar.high);
  const l = cents(bar.low);
  const c = cents(bar.close);
  const hiAtEnd = o === h || c === h;
  const loAtEnd = o === l || c === l;
  const interior = (hiAtEnd ? 0 : 1) + (loAtEnd ? 0 : 1);
  const len = h - l < 2 ? 2 + interior : Math.max(4, Math.floor(n));

  // Key points: index → price in cents.
  const keys = new Map<number, number>([
    [0, o],
    [len - 1, c],
  ]);
  if (interior > 0) {
    const pickIdx = () => 1 + Math.floor(rnd() * (len - 2));
    const a = pickIdx();
    let b = pickIdx();
    while (interior === 2 && b === a) b = pickIdx();
    const hiFirst = rnd() < 0.5;
    if (!hiAtEnd && !loAtEnd) {
      const [first, second] = a < b ? [a, b] : [b, a];
      keys.set(first, hiFirst ? h : l);
      keys.set(second, hiFirst ? l : h);
    } else {
      keys.set(a, hiAtEnd ? l : h);
    }
  }

  const px = new Array<number>(len);
  const idx = [...keys.keys()].sort((x, y) => x - y);
  const sd = Math.max(1, (h - l) / (2 * Math.sqrt(len)));
  const gauss = () => {
    const u = Math.max(rnd(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  };
  for (let k = 0; k < idx.length; k++) {
    const a = idx[k]!;
    px[a] = keys.get(a)!;
    if (k === idx.length - 1) break;
    const b = idx[k + 1]!;
    const va = keys.get(a)!;
    const vb = keys.get(b)!;
    const span = b - a;
    const walk = [0];
    for (let j = 1; j <= span; j++) walk.push(walk[j - 1]! + gauss() * sd);
    for (let j = 1; j < span; j++) {
      const bridge = walk[j]! - (walk[span]! * j) / span;
      const v = Math.round(va + ((vb - va) * j) / span + bridge);
      px[a + j] = Math.min(h - 1, Math.max(l + 1, v));
    }
  }

  // Sizes: one share each, the rest by random weights with largest-remainder rounding.
  const total = Math.max(0, Math.round(bar.volume));
  const sizes = new Array<number>(len).fill(total >= len ? 1 : 0);
  const rest = total >= len ? total - len : total;
  const w = Array.from({ length: len }, () => 0.1 + rnd());
  const W = w.reduce((s, x) => s + x, 0);
  const exact = w.map((x) => (rest * x) / W);
  const fl = exact.map(Math.floor);
  let left = rest - fl.reduce((s, x) => s + x, 0);
  const order = exact.map((x, i) => [x - fl[i]!, i] as const).sort((p, q) => q[0] - p[0] || p[1] - q[1]);
  for (let k = 0; left > 0; k = (k + 1) % len, left--) fl[order[k]![1]]! += 1;
  return px.map((p, i) => ({ price: p / 100, size: sizes[i]! + fl[i]! }));
}
