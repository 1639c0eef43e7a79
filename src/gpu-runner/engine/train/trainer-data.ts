/** @module engine/train/trainer-data
 * Data preparation for ARM training and evaluation: preference pairs → tokenized `ArmPair`s with their length
 * bucket, the default bucket ladder, and the deterministic per-epoch micro-batch plan.
 *
 * Micro-batch plan of one epoch (a pure function of seed, phase, epoch and the pair set, so a resumed run replays it):
 * 1. group the phase's pairs by length bucket (a micro-batch never mixes buckets, so one graph per bucket serves);
 * 2. inside a bucket, shuffle; then, when pairs carry labels for different objectives (HH-RLHF style: one label per
 *    pair), interleave them round-robin by labelled objective so each micro-batch mixes objectives as evenly as the
 *    bucket allows (PKU-style pairs labelled for every objective form a single group and keep the shuffled order);
 * 3. cut each bucket into micro-batches of `batchPairs` (the last one of a bucket may be short);
 * 4. shuffle the order of all micro-batches.
 */
import type { ArmPair } from "../model/arm-graph.ts";
import { EngineError, type CategoryByCode } from "../util/errors.ts";
import { bucketFor, LABEL_IGNORE, pairLength, tokenizePair, type PairTokenizationOptions, type PairTokenizer, type PreferencePair } from "./pairs.ts";
import { Rng } from "./rng.ts";

export type TrainerErrorCode =
  | "INVALID_OPTIONS"
  | "NO_TRAINING_PAIRS"
  | "RESUME_MISMATCH"
  | "CANCELLED"
  | "NON_FINITE_LOSS";

export class TrainerError extends EngineError<TrainerErrorCode> {
  static override readonly category: CategoryByCode<TrainerErrorCode> = {
    INVALID_OPTIONS: "invalid-input",
    NO_TRAINING_PAIRS: "invalid-input",
    RESUME_MISMATCH: "invalid-input",
    CANCELLED: "cancelled",
    NON_FINITE_LOSS: "diverged",
  };
}

/** A tokenized pair ready for the ARM graphs. */
export interface PreparedPair {
  /** Index in the caller's pair list. */
  readonly source: number;
  readonly arm: ArmPair;
  /** Per objective: whether the pair is labelled for it. */
  readonly counts: readonly boolean[];
  /** Padded length bucket (≥ the longer sequence). */
  readonly bucket: number;
  /** Labelled tokens of the longer response (EOS included). */
  readonly responseTokens: number;
  /** Real tokens of both sequences together. */
  readonly tokens: number;
  readonly truncated: boolean;
}

/** Bucket ladder up to `maxLength`: 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, … (×1.5 / ×4/3 steps), plus maxLength. */
export function defaultLengthBuckets(maxLength: number): number[] {
  if (!Number.isInteger(maxLength) || maxLength < 2) throw new TrainerError("INVALID_OPTIONS", `maxLength must be an integer ≥ 2, got ${maxLength}`);
  const ladder: number[] = [];
  for (let b = 16, i = 0; b < maxLength; i++) {
    ladder.push(b);
    b = b < 64 ? b + 16 : i % 2 === 1 ? (b * 3) / 2 : (b * 4) / 3;
  }
  return [...ladder, maxLength];
}

function labelledTokens(labels: readonly number[]): number {
  let n = 0;
  for (let t = 1; t < labels.length; t++) if (labels[t] !== LABEL_IGNORE) n++;
  return n;
}

/**
 * Tokenizes pairs (pairs.ts rules) and attaches graph-ready rows, signs (+1 when response 0 is preferred) and
 * per-objective counts. `numObjectives` must equal every pair's label count.
 */
export function preparePairs(
  tokenizer: PairTokenizer,
  pairs: readonly PreferencePair[],
  numObjectives: number,
  options: PairTokenizationOptions & { readonly buckets: readonly number[] },
  what = "pair",
): PreparedPair[] {
  return pairs.map((pair, index) => {
    const where = `${what} ${index}`;
    if (!Array.isArray(pair?.preferred) || pair.preferred.length !== numObjectives) {
      throw new TrainerError("INVALID_OPTIONS", `${where}: preferred has ${pair?.preferred?.length} labels, expected ${numObjectives} (one per objective)`);
    }
    const tokenized = tokenizePair(tokenizer, pair, options, where);
    const [first, second] = tokenized.sequences;
    const counts = tokenized.preferred.map((p) => p !== null);
    const sign = tokenized.preferred.map((p) => (p === 1 ? -1 : 1));
    return {
      source: index,
      arm: { first, second, sign, counts },
      counts,
      bucket: bucketFor(pairLength(tokenized), options.buckets),
      responseTokens: Math.max(labelledTokens(first.labels), labelledTokens(second.labels)),
      tokens: first.ids.length + second.ids.length,
      truncated: tokenized.truncated,
    };
  });
}

/** Restricts prepared pairs to one objective (GenARM): sign and counts become single-entry. */
export function singleObjectivePairs(pairs: readonly PreparedPair[], objective: number): PreparedPair[] {
  return pairs
    .filter((p) => p.counts[objective])
    .map((p) => ({ ...p, counts: [true], arm: { first: p.arm.first, second: p.arm.second, sign: [p.arm.sign[objective]], counts: [true] } }));
}

/** Longest labelled response per bucket (the graph's label-slot count R). */
export function responseSlotsByBucket(pairs: readonly PreparedPair[]): Map<number, number> {
  const slots = new Map<number, number>();
  for (const p of pairs) slots.set(p.bucket, Math.max(slots.get(p.bucket) ?? 1, p.responseTokens));
  return slots;
}

/** 32-bit mix of integers for derived seeds. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return h >>> 0;
}

/** Number of micro-batches in every epoch of `pairs` (it does not depend on the epoch). */
export function microBatchesPerEpoch(pairs: readonly PreparedPair[], batchPairs: number): number {
  const perBucket = new Map<number, number>();
  for (const p of pairs) perBucket.set(p.bucket, (perBucket.get(p.bucket) ?? 0) + 1);
  let n = 0;
  for (const count of perBucket.values()) n += Math.ceil(count / batchPairs);
  return n;
}

/**
 * Optimizer updates per phase under a cap on all updates together. `natural[j]` is phase j's update count when
 * the epochs decide; `maxSteps` null (or ≥ their sum) keeps them. Otherwise the cap is shared in proportion
 * (each phase gets at least one update: 1 + ⌊(maxSteps − k)(n_j − 1)/(N − k)⌋, the remainder going to the
 * largest fractional parts, lower index first), so the budgets sum to exactly maxSteps and none exceeds
 * natural[j]. A cap below the phase count k is INVALID_OPTIONS (a GenARM ARM would get no update).
 */
export function phaseUpdateBudgets(natural: readonly number[], maxSteps: number | null): number[] {
  const total = natural.reduce((s, n) => s + n, 0);
  if (maxSteps === null || maxSteps >= total) return [...natural];
  const k = natural.length;
  if (maxSteps < k) throw new TrainerError("INVALID_OPTIONS", `maxSteps (${maxSteps}) is below the number of ARMs trained in turn (${k}); each needs at least one update`);
  const exact = natural.map((n) => ((maxSteps - k) * (n - 1)) / (total - k));
  const budgets = exact.map((x) => 1 + Math.floor(x));
  const left = maxSteps - budgets.reduce((s, b) => s + b, 0);
  const byRemainder = exact.map((x, j) => ({ j, fraction: x - Math.floor(x) })).sort((a, b) => b.fraction - a.fraction || a.j - b.j);
  for (let r = 0; r < left; r++) budgets[byRemainder[r].j] += 1;
  return budgets;
}

/** The micro-batches (indices into `pairs`) of one epoch; see the module comment. */
export function epochPlan(pairs: readonly PreparedPair[], batchPairs: number, seed: number, phase: number, epoch: number): number[][] {
  const rng = new Rng(mixSeed(seed, 0x5eed, phase, epoch));
  const byBucket = new Map<number, number[]>();
  pairs.forEach((p, i) => {
    if (!byBucket.has(p.bucket)) byBucket.set(p.bucket, []);
    byBucket.get(p.bucket)!.push(i);
  });
  const batches: number[][] = [];
  for (const bucket of [...byBucket.keys()].sort((a, b) => a - b)) {
    const members = rng.shuffle(byBucket.get(bucket)!);
    const groups = new Map<string, number[]>();
    for (const i of members) {
      const key = pairs[i].counts.map((c) => (c ? "1" : "0")).join("");
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(i);
    }
    const ordered: number[] = [];
    const queues = [...groups.entries()].sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0)).map(([, q]) => q);
    for (let r = 0; ordered.length < members.length; r++) for (const q of queues) if (r < q.length) ordered.push(q[r]);
    for (let s = 0; s < ordered.length; s += batchPairs) batches.push(ordered.slice(s, s + batchPairs));
  }
  return rng.shuffle(batches);
}

/** FNV-1a over the token ids, signs and counts of prepared pairs: a resumed run must see the same data. */
export function pairsFingerprint(pairs: readonly PreparedPair[]): string {
  let h = 0x811c9dc5;
  const feed = (v: number) => {
    h = Math.imul(h ^ (v & 0xffff), 0x01000193) >>> 0;
    h = Math.imul(h ^ (v >>> 16), 0x01000193) >>> 0;
  };
  for (const p of pairs) {
    for (const row of [p.arm.first, p.arm.second]) {
      feed(row.ids.length);
      for (let i = 0; i < row.ids.length; i++) feed(row.ids[i] + 7 * (row.labels[i] === LABEL_IGNORE ? 1 : 0));
    }
    p.arm.sign.forEach((s) => feed(s + 2));
    p.counts.forEach((c) => feed(c ? 1 : 0));
  }
  return `${pairs.length}:${h.toString(16).padStart(8, "0")}`;
}
