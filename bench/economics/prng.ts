/**
 * A small seeded PRNG (mulberry32) with named streams: the same seed and labels always give the
 * same numbers on every platform, and each agent draws from its own stream, so adding an agent
 * or a strategy does not shift the draws of the others (honest and cheating replicas with the
 * same index see the same arrivals and job sizes: common random numbers).
 */

export type Rng = {
  /** Uniform in [0, 1). */
  next(): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  /** Exponential with the given rate (a Poisson process's gaps). */
  exponential(rate: number): number;
};

/** FNV-1a over the labels, mixed into the seed. */
function hashLabels(seed: number, labels: readonly (string | number)[]): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const label of labels) {
    for (const ch of `${label}\u0000`) {
      h ^= ch.charCodeAt(0);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h;
}

export function rngFor(seed: number, ...labels: (string | number)[]): Rng {
  let a = hashLabels(seed, labels);
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    exponential: (rate) => -Math.log(1 - next()) / rate,
  };
}
