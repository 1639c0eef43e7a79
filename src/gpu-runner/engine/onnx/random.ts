/**
 * @module engine/onnx/random
 * A small deterministic random source (mulberry32) for seeded initialization and tests: `() => number` in [0, 1).
 */
export type RandomSource = () => number;

export function mulberry32(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi). */
export function uniformArray(random: RandomSource, length: number, lo: number, hi: number): Float64Array {
  return Float64Array.from({ length }, () => lo + (hi - lo) * random());
}
