/** @module engine/train/rng
 * Seedable PRNG for training (α sampling, data order, dropout masks): xoshiro128** (Blackman & Vigna) over four
 * u32 words, seeded by splitmix32. The state is four integers and round-trips through JSON, so a resumed
 * checkpoint continues the exact stream.
 *
 * uniform: 53-bit doubles in [0, 1). normal: Box–Muller, one output per call (no cached spare, so the state stays
 * four words). gamma(shape): Marsaglia–Tsang (2000) for shape ≥ 1; for shape < 1, gamma(shape + 1)·U^(1/shape).
 * dirichlet: independent gammas normalised to the simplex.
 */
import { EngineError } from "../util/errors.ts";

export class RngError extends EngineError<"INVALID_SEED" | "INVALID_STATE" | "INVALID_ARGUMENT"> {}

export interface RngState {
  readonly algorithm: "xoshiro128**";
  readonly words: readonly [number, number, number, number];
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** splitmix32 words from a 32-bit seed (the xoshiro authors' recommended seeding). */
function seedWords(seed: number): [number, number, number, number] {
  let x = seed >>> 0;
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    words.push((z ^ (z >>> 16)) >>> 0);
  }
  return words as [number, number, number, number];
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed`: an integer in [0, 2³²) (hashed by splitmix32). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RngError("INVALID_SEED", `seed must be an integer in [0, 2^32), got ${seed}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = seedWords(seed);
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.importState(state);
    return rng;
  }

  exportState(): RngState {
    return { algorithm: "xoshiro128**", words: [this.s0, this.s1, this.s2, this.s3] };
  }

  importState(state: RngState): void {
    const words: unknown = state?.words;
    if (state?.algorithm !== "xoshiro128**" || !Array.isArray(words) || words.length !== 4 || !words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new RngError("INVALID_STATE", `not an xoshiro128** state: ${JSON.stringify(state)}`);
    }
    if (words.every((w) => w === 0)) throw new RngError("INVALID_STATE", "the all-zero xoshiro state is invalid");
    [this.s0, this.s1, this.s2, this.s3] = words as number[];
  }

  /** Next raw u32. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const high = this.nextU32() >>> 5;
    const low = this.nextU32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new RngError("INVALID_ARGUMENT", `int(n) needs an integer n in [1, 2^32], got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal N(0, 1). */
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Gamma(shape, scale 1). */
  gamma(shape: number): number {
    if (!(shape > 0) || !Number.isFinite(shape)) throw new RngError("INVALID_ARGUMENT", `gamma shape must be positive and finite, got ${shape}`);
    if (shape < 1) {
      const u = 1 - this.uniform();
      return this.gamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** A point on the (k−1)-simplex from Dirichlet(p·1_k) (scalar p) or Dirichlet(p) (vector p, k = p.length).
   *  p = 1 is uniform on the simplex; PARM samples with p = 0.5. If every gamma underflows to 0 (tiny p),
   *  a uniformly chosen vertex is returned, the limit of the distribution. */
  dirichlet(p: number | readonly number[], k?: number): number[] {
    const concentrations = typeof p === "number" ? new Array<number>(k ?? 0).fill(p) : [...p];
    if (typeof p === "number" && (!Number.isInteger(k) || (k as number) < 1)) {
      throw new RngError("INVALID_ARGUMENT", `dirichlet(p, k) needs an integer k ≥ 1, got ${k}`);
    }
    if (concentrations.length === 0) throw new RngError("INVALID_ARGUMENT", "dirichlet needs at least one concentration");
    const draws = concentrations.map((a) => this.gamma(a));
    const sum = draws.reduce((a, b) => a + b, 0);
    if (sum === 0) {
      const vertex = this.int(draws.length);
      return draws.map((_, i) => (i === vertex ? 1 : 0));
    }
    return draws.map((g) => g / sum);
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}
