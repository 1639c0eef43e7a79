/** @module contracts/datasets/split — pair hashing and the deterministic hash-based train/validation/test split. */
import { createHash } from "node:crypto";
import type { DatasetSplit, SplitRatios } from "./types.ts";

/**
 * Hex sha256 of the pair: sha256(JSON.stringify([prompt, response0, response1])) in UTF-8. The JSON array keeps the
 * three strings unambiguous (no separator can be forged). Equal pairs hash equally, so duplicates share a split.
 */
export function pairHash(prompt: string, response0: string, response1: string): string {
  return createHash("sha256").update(JSON.stringify([prompt, response0, response1]), "utf8").digest("hex");
}

/** The first 52 bits of a hex hash as a number in [0, 1). */
export function hashToUnitInterval(hexHash: string): number {
  return Number.parseInt(hexHash.slice(0, 13), 16) / 2 ** 52;
}

/**
 * Split of a pair: u = the hash's first 52 bits in [0, 1); u < train → TRAIN, u < train + validation →
 * VALIDATION, else TEST. Depends only on the pair's content and the ratios (not on order or file).
 */
export function splitForHash(hexHash: string, ratios: SplitRatios): DatasetSplit {
  const u = hashToUnitInterval(hexHash);
  if (u < ratios.train) return "TRAIN";
  if (u < ratios.train + ratios.validation) return "VALIDATION";
  if (ratios.test > 0) return "TEST";
  // Ratios sum to 1 only within rounding: a zero test share never receives pairs.
  return ratios.validation > 0 ? "VALIDATION" : "TRAIN";
}
