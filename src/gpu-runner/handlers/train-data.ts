/**
 * @module gpu-runner/handlers/train-data — turns dataset snapshots (JSON Lines of contract `PreferenceRecord`) into
 * the trainer's preference pairs in α order, and a payload's projection names into engine adapter targets.
 *
 * For dimension i (payload order = α order), a record's label is the one its dataset's `dimensionMap` sends to that
 * dimension; a dataset without such a label leaves the pair unlabelled (null) for it. TRAIN records train;
 * VALIDATION records are held out; TEST records are left for evaluation sweeps. Evaluators (train-evaluator.ts)
 * train on a split disjoint from TRAIN, VALIDATION by default.
 */
import { ADAPTER_TARGET_NAMES, PreferenceRecordSchema, type PreferenceRecord } from "../../contracts/index.ts";
import type { AdapterTarget, PreferencePair } from "../engine/index.ts";

export class SnapshotFormatError extends Error {
  override readonly name = "SnapshotFormatError";
  readonly code = "SNAPSHOT_INVALID" as const;
}

/** Parses a snapshot; throws SnapshotFormatError naming the first bad line. */
export function parseSnapshot(text: string, what: string): PreferenceRecord[] {
  const records: PreferenceRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new SnapshotFormatError(`${what}: line ${i + 1} is not JSON`);
    }
    const parsed = PreferenceRecordSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SnapshotFormatError(`${what}: line ${i + 1}: ${issue.path.join(".") || "record"} ${issue.message}`);
    }
    records.push(parsed.data);
  }
  return records;
}

export interface SnapshotForTraining {
  readonly records: readonly PreferenceRecord[];
  /** Label name → dimension id. */
  readonly dimensionMap: Readonly<Record<string, string>>;
}

export interface TrainingPairs {
  readonly train: PreferencePair[];
  readonly validation: PreferencePair[];
}

export function trainingPairs(snapshots: readonly SnapshotForTraining[], dimensionIds: readonly string[]): TrainingPairs {
  const train: PreferencePair[] = [];
  const validation: PreferencePair[] = [];
  for (const snapshot of snapshots) {
    const labelFor = dimensionIds.map((id) => Object.keys(snapshot.dimensionMap).find((label) => snapshot.dimensionMap[label] === id));
    for (const record of snapshot.records) {
      const preferred = labelFor.map((label) => {
        if (label === undefined) return null;
        const value = record.preferences[label];
        return value === 0 || value === 1 ? value : null;
      });
      if (preferred.every((p) => p === null)) continue;
      const pair: PreferencePair = { prompt: record.prompt, responses: [record.response0, record.response1], preferred };
      if (record.split === "TRAIN") train.push(pair);
      else if (record.split === "VALIDATION") validation.push(pair);
    }
  }
  return { train, validation };
}

const TARGET_ALIASES: Readonly<Record<string, AdapterTarget>> = ADAPTER_TARGET_NAMES;

export class UnknownTargetError extends Error {
  override readonly name = "UnknownTargetError";
  readonly code = "UNKNOWN_ADAPTER_TARGET" as const;
}

/** "q_proj" → "q" etc.; throws UnknownTargetError naming the target. */
export function adapterTargets(names: readonly string[]): AdapterTarget[] {
  const out: AdapterTarget[] = [];
  for (const name of names) {
    const target = TARGET_ALIASES[name];
    if (!target) throw new UnknownTargetError(`unknown adapter target "${name}"; use one of ${Object.keys(TARGET_ALIASES).join(", ")}`);
    if (!out.includes(target)) out.push(target);
  }
  return out;
}
