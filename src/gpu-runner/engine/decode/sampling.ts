/**
 * @module engine/decode/sampling
 * Choosing the next token from one row of scores (logits or guided log-probs; they differ by a constant).
 *
 * Greedy: argmax, ties → lowest id. Sampling applies, in Hugging Face's order, temperature → top-k → top-p, then
 * draws from the softmax of what is left with a seeded PRNG (same seed and same rows ⇒ same tokens):
 *   temperature T > 0: scores / T.  T = 0 means greedy (as language-model-arithmetic does).
 *   top-k (k ≥ 1; 0 = off): keep every token whose score is ≥ the k-th largest (tokens tied with it are kept,
 *        as HF's `scores < topk(...)[-1]` test does), mask the rest to −∞.
 *   top-p (0 < p ≤ 1; 1 = off): sort by probability descending, ties by lower id first; keep the smallest prefix
 *        whose cumulative probability (float64) is ≥ p, always at least one token.
 * Draw: u ∈ [0, 1) with 53 random bits; the token is the first id (ascending) at which the running sum of
 * exp(score − max) exceeds u · Σ exp(score − max).
 *
 * PRNG: xoshiro128** (Blackman & Vigna) with 128 bits of state, seeded through splitmix32 from both 32-bit halves
 * of an integer seed; its state can be saved and restored to resume a stream.
 */
import { EngineError, UnreachableCaseError, type CategoryByCode } from "../util/errors.ts";
import type { LogitsProcessor } from "./guidance.ts";

export type SamplingErrorCode = "INVALID_SAMPLING_CONFIG" | "INVALID_SEED" | "INVALID_ROW";

/** Raised for an unusable sampling configuration or row; the message names the field. */
export class SamplingConfigError extends EngineError<SamplingErrorCode> {
  static override readonly category: CategoryByCode<SamplingErrorCode> = { INVALID_SAMPLING_CONFIG: "invalid-input", INVALID_SEED: "invalid-input", INVALID_ROW: "diverged" };
}

/** Saved PRNG state: four uint32 words. */
export type SeededRandomState = readonly [number, number, number, number];

/** xoshiro128** with explicit state. */
export class SeededRandom {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /** `seed`: any safe integer (negative seeds are taken modulo 2^64). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new SamplingConfigError("INVALID_SEED", `seed must be a safe integer, got ${String(seed)}`);
    }
    const low = Number(BigInt.asUintN(32, BigInt(seed)));
    const high = Number(BigInt.asUintN(32, BigInt(seed) >> 32n));
    const fromLow = splitmix32(low);
    const fromHigh = splitmix32(high ^ 0x5bd1e995);
    this.#s0 = (fromLow() ^ fromHigh()) >>> 0;
    this.#s1 = (fromLow() ^ fromHigh()) >>> 0;
    this.#s2 = (fromLow() ^ fromHigh()) >>> 0;
    this.#s3 = (fromLow() ^ fromHigh()) >>> 0;
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** Restores a stream from {@link state}. The all-zero state is invalid for xoshiro. */
  static fromState(state: SeededRandomState): SeededRandom {
    const words: readonly unknown[] = Array.isArray(state) ? state : [];
    if (words.length !== 4 || words.some((w) => !Number.isInteger(w) || (w as number) < 0 || (w as number) > 0xffffffff)) {
      throw new SamplingConfigError("INVALID_SEED", "a SeededRandom state is four integers in [0, 2^32)");
    }
    if (words.every((w) => w === 0)) throw new SamplingConfigError("INVALID_SEED", "the all-zero xoshiro state is invalid");
    const random = new SeededRandom(0);
    [random.#s0, random.#s1, random.#s2, random.#s3] = words as SeededRandomState;
    return random;
  }

  get state(): SeededRandomState {
    return [this.#s0, this.#s1, this.#s2, this.#s3];
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    this.#s0 >>>= 0;
    this.#s1 >>>= 0;
    this.#s2 >>>= 0;
    this.#s3 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t ^= t >>> 15;
    return t >>> 0;
  };
}

/** How the next token is chosen. */
export type SamplingConfig =
  | { readonly kind: "greedy" }
  | {
      readonly kind: "sample";
      /** > 0 (default 1). */
      readonly temperature?: number;
      /** ≥ 0 integer, 0 = off (default 0). */
      readonly topK?: number;
      /** In (0, 1], 1 = off (default 1). */
      readonly topP?: number;
      /** Safe integer. */
      readonly seed: number;
    };

/** Request-style options (OpenAI/HF names) → a {@link SamplingConfig}: temperature 0 (or `greedy`) ⇒ greedy;
 *  otherwise sampling with a seed (default 0 so unseeded requests are still reproducible). */
export function samplingConfigFromOptions(options: {
  readonly greedy?: boolean;
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed?: number;
}): SamplingConfig {
  if (options.greedy === true || options.temperature === 0) return { kind: "greedy" };
  const config: SamplingConfig = {
    kind: "sample",
    temperature: options.temperature ?? 1,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
    seed: options.seed ?? 0,
  };
  validateSamplingConfig(config);
  return config;
}

/** Throws {@link SamplingConfigError} naming the first bad field. */
export function validateSamplingConfig(config: SamplingConfig): void {
  switch (config.kind) {
    case "greedy":
      return;
    case "sample": {
      const { temperature = 1, topK = 0, topP = 1, seed } = config;
      checkTemperature(temperature);
      checkTopK(topK);
      checkTopP(topP);
      if (!Number.isSafeInteger(seed)) {
        throw new SamplingConfigError("INVALID_SEED", `seed must be a safe integer, got ${String(seed)}`);
      }
      return;
    }
    default:
      throw new SamplingConfigError(
        "INVALID_SAMPLING_CONFIG",
        `unknown sampling kind ${JSON.stringify((config as { kind: unknown }).kind)}; expected "greedy" or "sample"`,
      );
  }
}

/** Index of the largest score; ties → lowest id. Throws on an empty row, NaN, or a row of only −∞. */
export function argmax(row: Float32Array): number {
  checkScores(row);
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** scores / T in place. */
export function applyTemperature(row: Float32Array, temperature: number): Float32Array {
  checkTemperature(temperature);
  if (temperature !== 1) for (let i = 0; i < row.length; i++) row[i] /= temperature;
  return row;
}

/** Masks (−∞) every score below the k-th largest, in place; ties with the k-th are kept. k = 0 or k ≥ V: no-op. */
export function applyTopK(row: Float32Array, topK: number): Float32Array {
  checkTopK(topK);
  if (topK === 0 || topK >= row.length) return row;
  const threshold = kthLargest(row, topK);
  for (let i = 0; i < row.length; i++) if (row[i] < threshold) row[i] = -Infinity;
  return row;
}

/** The k-th largest value (1 ≤ k ≤ length) via a size-k min-heap: O(V log k), no full sort. */
function kthLargest(values: Float32Array, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (size < k) {
      let child = size++;
      heap[child] = v;
      while (child > 0) {
        const parent = (child - 1) >> 1;
        if (heap[parent] <= heap[child]) break;
        [heap[parent], heap[child]] = [heap[child], heap[parent]];
        child = parent;
      }
    } else if (v > heap[0]) {
      heap[0] = v;
      let parent = 0;
      for (;;) {
        const left = 2 * parent + 1;
        if (left >= k) break;
        const right = left + 1;
        const smallest = right < k && heap[right] < heap[left] ? right : left;
        if (heap[parent] <= heap[smallest]) break;
        [heap[parent], heap[smallest]] = [heap[smallest], heap[parent]];
        parent = smallest;
      }
    }
  }
  return heap[0];
}

/** Nucleus filter in place: keeps the smallest most-probable set with cumulative probability ≥ p (ties by lower
 *  id first), at least one token; the rest become −∞. p = 1: no-op. */
export function applyTopP(row: Float32Array, topP: number): Float32Array {
  checkTopP(topP);
  if (topP === 1) return row;
  const probabilities = softmax64(row);
  const { threshold, equalToTake } = nucleusThreshold(probabilities, topP);
  let equalLeft = equalToTake;
  for (let i = 0; i < row.length; i++) {
    const p = probabilities[i];
    if (p > threshold) continue;
    if (p === threshold && equalLeft > 0) {
      equalLeft--;
      continue;
    }
    row[i] = -Infinity;
  }
  return row;
}

/** The probability t of the last token in the nucleus and how many tokens equal to t it takes, found by a
 *  weighted three-way quickselect (expected O(V), no full sort): walking the values in descending order, the
 *  nucleus ends at the first value where the running sum reaches p. Sums are float64, accumulated per partition
 *  rather than strictly in sorted order, so a p within rounding of a partial sum may fall either way. */
function nucleusThreshold(probabilities: Float64Array, topP: number): { threshold: number; equalToTake: number } {
  // Positive entries only (masked tokens have probability 0). A plain loop: TypedArray#filter is very slow in V8.
  let positive = 0;
  for (let i = 0; i < probabilities.length; i++) if (probabilities[i] > 0) positive++;
  const values = new Float64Array(positive);
  for (let i = 0, j = 0; i < probabilities.length; i++) if (probabilities[i] > 0) values[j++] = probabilities[i];
  let lo = 0;
  let hi = values.length;
  let need = topP;
  while (lo < hi) {
    const pivot = medianOfThree(values[lo], values[(lo + hi) >> 1], values[hi - 1]);
    // Three-way partition of [lo, hi): [lo, greaterEnd) > pivot, [greaterEnd, equalEnd) = pivot, rest < pivot.
    let greaterEnd = lo;
    let i = lo;
    let lessStart = hi;
    while (i < lessStart) {
      const v = values[i];
      if (v > pivot) {
        values[i] = values[greaterEnd];
        values[greaterEnd++] = v;
        i++;
      } else if (v < pivot) {
        values[i] = values[--lessStart];
        values[lessStart] = v;
      } else {
        i++;
      }
    }
    let greaterMass = 0;
    for (let j = lo; j < greaterEnd; j++) greaterMass += values[j];
    if (greaterEnd > lo && greaterMass >= need) {
      hi = greaterEnd;
      continue;
    }
    let cumulative = greaterMass;
    let taken = 0;
    for (let j = greaterEnd; j < lessStart; j++) {
      cumulative += pivot;
      taken++;
      if (cumulative >= need) return { threshold: pivot, equalToTake: taken };
    }
    need -= cumulative;
    lo = lessStart;
  }
  // The whole distribution sums (after rounding) to less than p: keep every token.
  return { threshold: 0, equalToTake: 0 };
}

function medianOfThree(a: number, b: number, c: number): number {
  if (a < b) return b < c ? b : a < c ? c : a;
  return a < c ? a : b < c ? c : b;
}

/** Draws a token id from softmax(row) with one `rng.nextFloat()`. */
export function sampleFromScores(row: Float32Array, rng: SeededRandom): number {
  checkScores(row);
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let total = 0;
  for (let i = 0; i < row.length; i++) total += Math.exp(row[i] - max);
  const target = rng.nextFloat() * total;
  let cumulative = 0;
  let lastPossible = -1;
  for (let i = 0; i < row.length; i++) {
    const weight = Math.exp(row[i] - max);
    if (weight === 0) continue;
    cumulative += weight;
    lastPossible = i;
    if (target < cumulative) return i;
  }
  return lastPossible;
}

/** Stateful next-token chooser for one sequence: greedy, or temperature → top-k → top-p → draw with its own
 *  seeded stream. The caller's row is never modified (a scratch copy is filtered). */
export class TokenSampler {
  readonly config: SamplingConfig;
  readonly #random: SeededRandom | undefined;
  #scratch = new Float32Array(0);

  constructor(config: SamplingConfig, state?: SeededRandomState) {
    validateSamplingConfig(config);
    this.config = config;
    switch (config.kind) {
      case "greedy":
        this.#random = undefined;
        break;
      case "sample":
        this.#random = state ? SeededRandom.fromState(state) : new SeededRandom(config.seed);
        break;
      default:
        throw new UnreachableCaseError(config);
    }
  }

  /** PRNG state after the draws so far (undefined for greedy); pass it back to resume. */
  get randomState(): SeededRandomState | undefined {
    return this.#random?.state;
  }

  next(row: Float32Array): number {
    const config = this.config;
    switch (config.kind) {
      case "greedy":
        return argmax(row);
      case "sample": {
        checkScores(row);
        if (this.#scratch.length !== row.length) this.#scratch = new Float32Array(row.length);
        const scratch = this.#scratch;
        scratch.set(row);
        applyTemperature(scratch, config.temperature ?? 1);
        applyTopK(scratch, config.topK ?? 0);
        applyTopP(scratch, config.topP ?? 1);
        return sampleFromScores(scratch, this.#random!);
      }
      default:
        throw new UnreachableCaseError(config);
    }
  }
}

/** The warpers as LogitsProcessors (for a {@link LogitsProcessorList} after guidance). */
export class TemperatureWarper implements LogitsProcessor {
  constructor(readonly temperature: number) {
    checkTemperature(temperature);
  }
  process(row: Float32Array): void {
    applyTemperature(row, this.temperature);
  }
}

export class TopKWarper implements LogitsProcessor {
  constructor(readonly topK: number) {
    checkTopK(topK);
  }
  process(row: Float32Array): void {
    applyTopK(row, this.topK);
  }
}

export class TopPWarper implements LogitsProcessor {
  constructor(readonly topP: number) {
    checkTopP(topP);
  }
  process(row: Float32Array): void {
    applyTopP(row, this.topP);
  }
}

/** softmax in float64 (entries −∞ → 0). */
function softmax64(row: Float32Array): Float64Array {
  checkScores(row);
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  const out = new Float64Array(row.length);
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    out[i] = Math.exp(row[i] - max);
    total += out[i];
  }
  for (let i = 0; i < row.length; i++) out[i] /= total;
  return out;
}

function checkScores(row: Float32Array): void {
  if (!(row instanceof Float32Array) || row.length === 0) {
    throw new SamplingConfigError("INVALID_ROW", "scores must be a non-empty Float32Array");
  }
  let finite = false;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (Number.isNaN(v) || v === Infinity) {
      throw new SamplingConfigError("INVALID_ROW", `scores[${i}] is ${v}; scores must be finite or −∞ (masked)`);
    }
    if (v !== -Infinity) finite = true;
  }
  if (!finite) throw new SamplingConfigError("INVALID_ROW", "every score is −∞: nothing can be chosen");
}

function checkTemperature(temperature: number): void {
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature <= 0) {
    throw new SamplingConfigError(
      "INVALID_SAMPLING_CONFIG",
      `temperature must be a finite number > 0 for sampling (use kind "greedy" for 0), got ${String(temperature)}`,
    );
  }
}

function checkTopK(topK: number): void {
  if (!Number.isInteger(topK) || topK < 0) {
    throw new SamplingConfigError("INVALID_SAMPLING_CONFIG", `topK must be an integer ≥ 0 (0 = off), got ${String(topK)}`);
  }
}

function checkTopP(topP: number): void {
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) {
    throw new SamplingConfigError("INVALID_SAMPLING_CONFIG", `topP must be in (0, 1] (1 = off), got ${String(topP)}`);
  }
}
