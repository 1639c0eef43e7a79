/**
 * @module contracts/datasets/acceptance — whether a validated upload is stored or rejected as a whole.
 *
 * Structural problems (malformed JSON, missing fields, bad labels, bad encoding, NUL characters, oversize lines,
 * a corrupt file or one over a limit) reject the upload: they mean the file is not what its format says, and the
 * user must fix it.
 * Data-quality drops (empty response, identical pair, prompt prefixes that differ) occur in real data (HH-RLHF
 * test splits hold a few of each): those pairs are dropped and the upload is kept while they stay under
 * `maxDroppedFraction` of the lines.
 */
import type { DatasetIssueCode, DatasetValidationReport } from "./types.ts";

export const STRUCTURAL_ISSUE_CODES: readonly DatasetIssueCode[] = [
  "MALFORMED_JSON",
  "MISSING_FIELD",
  "INVALID_LABEL",
  "TOO_LARGE",
  "NOT_UTF8",
  "NUL_CHARACTER",
  "CORRUPT_GZIP",
  "EXPANSION_RATIO_EXCEEDED",
  "TOO_MANY_LINES",
];
export const DROPPABLE_ISSUE_CODES: readonly DatasetIssueCode[] = ["EMPTY_RESPONSE", "IDENTICAL_PAIR", "PROMPT_PREFIX_MISMATCH"];

export interface DatasetAcceptancePolicy {
  /** Largest share of lines that may be dropped for data-quality reasons (default 0.05). */
  readonly maxDroppedFraction: number;
}
export const DEFAULT_ACCEPTANCE_POLICY: DatasetAcceptancePolicy = { maxDroppedFraction: 0.05 };

export type DatasetVerdict =
  | { readonly accepted: true; readonly droppedPairs: number }
  | { readonly accepted: false; readonly reason: string; readonly firstIssueLine: number | null };

export function judgeDatasetReport(
  report: DatasetValidationReport,
  policy: DatasetAcceptancePolicy = DEFAULT_ACCEPTANCE_POLICY,
): DatasetVerdict {
  const firstOf = (codes: readonly DatasetIssueCode[]): number | null =>
    report.issues.find((i) => codes.includes(i.code))?.line ?? null;
  if (report.fatal) {
    return { accepted: false, reason: `${report.fatal.code}: ${report.fatal.reason}`, firstIssueLine: report.fatal.line };
  }
  const structural = STRUCTURAL_ISSUE_CODES.filter((code) => report.countsByCode[code] > 0);
  if (structural.length > 0) {
    const summary = structural.map((code) => `${report.countsByCode[code]} ${code}`).join(", ");
    return { accepted: false, reason: `the file has lines that do not match the ${report.format} format (${summary})`, firstIssueLine: firstOf(structural) };
  }
  if (report.accepted === 0) {
    return { accepted: false, reason: "the file contains no usable preference pair", firstIssueLine: firstOf(DROPPABLE_ISSUE_CODES) };
  }
  const dropped = DROPPABLE_ISSUE_CODES.reduce((n, code) => n + report.countsByCode[code], 0);
  if (dropped > policy.maxDroppedFraction * report.totalLines) {
    return {
      accepted: false,
      reason: `${dropped} of ${report.totalLines} pairs are unusable (empty, identical or mismatched prompts), more than ${policy.maxDroppedFraction * 100}%`,
      firstIssueLine: firstOf(DROPPABLE_ISSUE_CODES),
    };
  }
  return { accepted: true, droppedPairs: dropped };
}
