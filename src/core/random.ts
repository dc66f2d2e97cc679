/**
 * Seeded pseudo-random numbers (mulberry32): a 32-bit state, identical on every platform, so a
 * seed reproduces a replay path, a test scenario or a bench data set exactly. Not for secrets.
 * (The GBDT has its own stateful Rng class with the same generator, src/ml/gbdt/rng.ts.)
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
