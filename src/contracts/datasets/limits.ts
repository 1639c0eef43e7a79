/**
 * @module contracts/datasets/limits — the size limits of one dataset upload: one name, default and bound each.
 *
 * The parser applies them (defaults when a caller gives none); the api reads each from its environment
 * variable (docs/configuration.md), refusing a value outside `[min, max]` at start. They bound the work a
 * single upload can cause (decompression bombs: 300 MB of newlines gzip to ~300 KB), independently of the
 * tenant's stored-bytes quota (`Tenant.maxDatasetBytes`).
 */
import type { DatasetIssueCode } from "./types.ts";

export interface DatasetLimits {
  /** Most bytes an upload may hold after decompression; beyond it parsing stops with a fatal TOO_LARGE. */
  readonly maxDecompressedBytes: number;
  /**
   * Most decompressed bytes per compressed byte read so far (gzip uploads only), checked once more than
   * {@link EXPANSION_RATIO_FLOOR_BYTES} are decompressed; beyond it parsing stops with EXPANSION_RATIO_EXCEEDED.
   * Deflate cannot expand more than ~1032-fold, so the largest value turns the check off.
   */
  readonly maxExpansionRatio: number;
  /** Most lines (LF-terminated or final, blank ones included); beyond it parsing stops with TOO_MANY_LINES. */
  readonly maxLines: number;
}

export interface DatasetLimitSpec {
  /** The api's environment variable. */
  readonly env: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

/** Each limit's variable, default and bounds (integers). */
export const DATASET_LIMITS: Readonly<Record<keyof DatasetLimits, DatasetLimitSpec>> = {
  maxDecompressedBytes: { env: "PARM_DATASET_MAX_DECOMPRESSED_BYTES", default: 2 * 1024 ** 3, min: 1024, max: 1024 ** 4 },
  maxExpansionRatio: { env: "PARM_DATASET_MAX_EXPANSION_RATIO", default: 100, min: 2, max: 1032 },
  // Record line numbers are PostgreSQL `integer`s.
  maxLines: { env: "PARM_DATASET_MAX_LINES", default: 10_000_000, min: 1, max: 2_147_483_647 },
};

export const DEFAULT_DATASET_LIMITS: DatasetLimits = {
  maxDecompressedBytes: DATASET_LIMITS.maxDecompressedBytes.default,
  maxExpansionRatio: DATASET_LIMITS.maxExpansionRatio.default,
  maxLines: DATASET_LIMITS.maxLines.default,
};

/** The expansion ratio is not judged before this many bytes are decompressed (small files have odd ratios). */
export const EXPANSION_RATIO_FLOOR_BYTES = 1024 * 1024;

/** A limit an upload broke, as the parser reports it (fatal). */
export interface DatasetLimitProblem {
  readonly code: Extract<DatasetIssueCode, "TOO_LARGE" | "EXPANSION_RATIO_EXCEEDED" | "TOO_MANY_LINES">;
  readonly reason: string;
}

/**
 * Whether `decompressed` bytes from `compressed` bytes of gzip read so far (null: a plain upload) break
 * maxDecompressedBytes or maxExpansionRatio. The reason names the limit and its variable.
 */
export function decompressionProblem(limits: DatasetLimits, decompressed: number, compressed: number | null): DatasetLimitProblem | null {
  if (decompressed > limits.maxDecompressedBytes) {
    return {
      code: "TOO_LARGE",
      reason: `the upload exceeds ${limits.maxDecompressedBytes} bytes after decompression (limit maxDecompressedBytes, ${DATASET_LIMITS.maxDecompressedBytes.env})`,
    };
  }
  if (compressed !== null && decompressed > EXPANSION_RATIO_FLOOR_BYTES && decompressed > limits.maxExpansionRatio * compressed) {
    return {
      code: "EXPANSION_RATIO_EXCEEDED",
      reason:
        `the gzip upload expands more than ${limits.maxExpansionRatio}-fold: ${decompressed} bytes from the first ${compressed} compressed bytes` +
        ` (limit maxExpansionRatio, ${DATASET_LIMITS.maxExpansionRatio.env})`,
    };
  }
  return null;
}

/** The fatal problem of line `line` when it is beyond maxLines. */
export function tooManyLines(limits: DatasetLimits): DatasetLimitProblem {
  return {
    code: "TOO_MANY_LINES",
    reason: `the upload has more than ${limits.maxLines} lines, blank lines included (limit maxLines, ${DATASET_LIMITS.maxLines.env})`,
  };
}
