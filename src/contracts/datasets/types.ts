/** @module contracts/datasets/types — dataset formats, splits, parsed preference records and the validation report. */
import { z } from "zod";

/** Upload formats (same names as the Prisma enum `DatasetFormat`). */
export const DATASET_FORMATS = ["HH_RLHF", "PKU_SAFERLHF", "GENERIC"] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];
export const DatasetFormatSchema = z.enum(DATASET_FORMATS);

/** Split names (same as the Prisma enum `DatasetSplit`). */
export const DATASET_SPLITS = ["TRAIN", "VALIDATION", "TEST"] as const;
export type DatasetSplit = (typeof DATASET_SPLITS)[number];
export const DatasetSplitSchema = z.enum(DATASET_SPLITS);

/**
 * Label names each format yields per record. HH-RLHF and generic: one label, "preferred" (0 = `chosen` is
 * `response0`, which the parser always makes it). PKU-SafeRLHF: "better" (`better_response_id`) and "safer"
 * (`safer_response_id`). A dataset's dimension map sends these names to dimension ids.
 */
export const DEFAULT_LABEL_NAMES: Readonly<Record<DatasetFormat, readonly string[]>> = {
  HH_RLHF: ["preferred"],
  PKU_SAFERLHF: ["better", "safer"],
  GENERIC: ["preferred"],
};

/** Fractions of pairs per split; each in [0, 1], summing to 1 within 1e-9. */
export const SplitRatiosSchema = z
  .object({
    train: z.number().min(0).max(1),
    validation: z.number().min(0).max(1),
    test: z.number().min(0).max(1),
  })
  .refine((r) => Math.abs(r.train + r.validation + r.test - 1) <= 1e-9, {
    message: "split ratios must sum to 1",
  });
export type SplitRatios = z.infer<typeof SplitRatiosSchema>;

/** Default split: 90% train, 5% validation, 5% test. */
export const DEFAULT_SPLIT_RATIOS: SplitRatios = { train: 0.9, validation: 0.05, test: 0.05 };

/**
 * One accepted preference pair. `line` is 1-based in the (decompressed) upload. `preferences[label]` is the
 * index (0 or 1) of the preferred response. `pairHash` = hex sha256 of the pair (see `pairHash`), which also
 * decides `split`. A dataset snapshot in the object store is JSON Lines of these records.
 */
export const PreferenceRecordSchema = z.object({
  line: z.number().int().min(1),
  prompt: z.string(),
  response0: z.string().min(1),
  response1: z.string().min(1),
  preferences: z.record(z.string().min(1), z.union([z.literal(0), z.literal(1)])),
  pairHash: z.string().regex(/^[0-9a-f]{64}$/),
  split: DatasetSplitSchema,
});
export type PreferenceRecord = z.infer<typeof PreferenceRecordSchema>;

/**
 * Why a line (or the file) was rejected. Line problems: MALFORMED_JSON, MISSING_FIELD (names the field; also a
 * wrong type or an empty prompt), EMPTY_RESPONSE, IDENTICAL_PAIR, PROMPT_PREFIX_MISMATCH, INVALID_LABEL,
 * TOO_LARGE (line over the limit), NOT_UTF8, NUL_CHARACTER (U+0000 in the line or any of its strings, which
 * PostgreSQL cannot store). File problems (`fatal`, see limits.ts): TOO_LARGE (maxDecompressedBytes),
 * EXPANSION_RATIO_EXCEEDED (maxExpansionRatio), TOO_MANY_LINES (maxLines), CORRUPT_GZIP.
 */
export const DATASET_ISSUE_CODES = [
  "MALFORMED_JSON",
  "MISSING_FIELD",
  "EMPTY_RESPONSE",
  "IDENTICAL_PAIR",
  "PROMPT_PREFIX_MISMATCH",
  "INVALID_LABEL",
  "TOO_LARGE",
  "NOT_UTF8",
  "NUL_CHARACTER",
  "CORRUPT_GZIP",
  "EXPANSION_RATIO_EXCEEDED",
  "TOO_MANY_LINES",
] as const;
export type DatasetIssueCode = (typeof DATASET_ISSUE_CODES)[number];

export interface DatasetIssue {
  /** 1-based line number in the decompressed upload; 0 for problems with the file as a whole. */
  readonly line: number;
  readonly code: DatasetIssueCode;
  readonly reason: string;
}

/**
 * Validation report. Counts are exact; `issues` holds the first `issueLimit` problems in line order
 * (`issuesTruncated` says whether more exist). `totalLines` counts non-blank lines (maxLines counts blank ones too).
 */
export interface DatasetValidationReport {
  readonly format: DatasetFormat;
  readonly totalLines: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly issues: readonly DatasetIssue[];
  readonly issuesTruncated: boolean;
  /** A problem that stopped parsing (a limit of limits.ts, corrupt gzip); later input was not read. */
  readonly fatal: DatasetIssue | null;
  /** Accepted records whose pair hash repeats an earlier accepted record (kept; they share a split). */
  readonly duplicatePairs: number;
  readonly countsByCode: Readonly<Record<DatasetIssueCode, number>>;
  readonly splitCounts: Readonly<Record<DatasetSplit, number>>;
  /** Per label name: how many accepted records prefer response 0 and response 1. */
  readonly labelCounts: Readonly<Record<string, { readonly 0: number; readonly 1: number }>>;
  /** Bytes after decompression. */
  readonly bytes: number;
  readonly gzip: boolean;
}

export interface DatasetParseResult {
  readonly records: readonly PreferenceRecord[];
  readonly report: DatasetValidationReport;
}
