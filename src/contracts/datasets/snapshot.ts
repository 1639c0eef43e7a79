/**
 * @module contracts/datasets/snapshot — the dataset snapshot runners read: JSON Lines of {@link PreferenceRecord}
 * (`encoding: "records-jsonl"` in a job's dataset ref), written by the api after validation.
 */
import { PreferenceRecordSchema, type DatasetSplit, type PreferenceRecord } from "./types.ts";

/** A snapshot line is not a valid record; `line` is 1-based in the snapshot. */
export class DatasetSnapshotError extends Error {
  override readonly name = "DatasetSnapshotError";
  readonly code = "DATASET_SNAPSHOT_CORRUPT" as const;
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`dataset snapshot line ${line}: ${reason}`);
  }
}

/** One record per line, in the given order, each line ending in "\n". */
export function encodeRecordsJsonl(records: readonly PreferenceRecord[]): string {
  return records.map((r) => JSON.stringify(r) + "\n").join("");
}

/** Parses and validates a snapshot; `splits` keeps only those splits. Throws {@link DatasetSnapshotError}. */
export function decodeRecordsJsonl(text: string, splits?: readonly DatasetSplit[]): PreferenceRecord[] {
  const out: PreferenceRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch (error) {
      throw new DatasetSnapshotError(i + 1, `malformed JSON: ${(error as Error).message}`);
    }
    const parsed = PreferenceRecordSchema.safeParse(value);
    if (!parsed.success) {
      throw new DatasetSnapshotError(i + 1, parsed.error.issues.map((x) => `${x.path.join(".") || "(root)"}: ${x.message}`).join("; "));
    }
    if (!splits || splits.includes(parsed.data.split)) out.push(parsed.data);
  }
  return out;
}
