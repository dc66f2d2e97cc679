/**
 * Seeded pseudo-random numbers (mulberry32): fast, 32-bit state, identical on every platform,
 * so that the same `seed` always gives the same bagging, feature sampling and binning sample.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = mixSeed(seed, 0);
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
}

/** A 32-bit seed for an independent stream derived from (seed, stream) (splitmix-style finaliser). */
export function mixSeed(seed: number, stream: number): number {
  // Fold a (possibly large or negative) integer seed into 32 bits without losing its high part.
  const lo = seed | 0;
  const hi = Math.floor(seed / 4294967296) | 0;
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi ^ 0xc2b2ae35, 0x27d4eb2f) ^ Math.imul(stream + 0x165667b1, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Selection sampling (Knuth's algorithm S): exactly `k` of `0..n-1`, written ascending into `inBag`;
 * the others ascending into `outOfBag` when given. Returns k.
 */
export function sampleSorted(n: number, k: number, rng: Rng, inBag: Int32Array, outOfBag?: Int32Array): number {
  let needed = k;
  let m = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    if (rng.next() * (n - i) < needed) {
      inBag[m++] = i;
      needed--;
    } else if (outOfBag) {
      outOfBag[o++] = i;
    }
  }
  return m;
}
