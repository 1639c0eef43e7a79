/**
 * @module gpu-runner/handlers/train-data — turns dataset snapshots (JSON Lines of contract `PreferenceRecord`) into
 * the trainer's preference pairs in α order, and a payload's projection names into engine adapter targets.
 *
 * For dimension i (payload order = α order), a record's label is the one its dataset's `dimensionMap` sends to that
 * dimension; a dataset without such a label leaves the pair unlabelled (null) for it. TRAIN records train;
 * VALIDATION records are held out; TEST records are left for evaluation sweeps. `maxPairs` keeps each dataset's
 * first N TRAIN pairs (snapshot order, so the cut is deterministic). Evaluators (train-evaluator.ts) train on a
 * split disjoint from TRAIN, VALIDATION by default.
 *
 * Prompt templates: `templatedSnapshots` renders the prompts of snapshots whose format carries bare prompts
 * (PKU_SAFERLHF, GENERIC) through the job's template, as one user turn with the generation prompt, and joins the
 * responses to them (contracts/prompt-template.ts), so an ARM trains in the context the chat route decodes in;
 * HH_RLHF prompts, and every prompt of a job without a template, stay as they are.
 */
import {
  ADAPTER_TARGET_NAMES,
  joinResponse,
  PreferenceRecordSchema,
  renderBarePrompts,
  templateForDatasetFormat,
  type ChatTemplateSandbox,
  type DatasetFormat,
  type PreferenceRecord,
  type PromptTemplate,
} from "../../contracts/index.ts";
import { EngineError, type AdapterTarget, type PreferencePair } from "../engine/index.ts";

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
  /** The dataset's format (which prompts a template applies to); absent = prompts as they are. */
  readonly format?: DatasetFormat;
}

/**
 * The snapshots with the prompts of bare-prompt formats rendered through `template` and their responses joined to
 * them (see the module contract); each distinct prompt is rendered once. A template that fails throws the
 * contracts' ChatTemplateError.
 */
export async function templatedSnapshots(
  snapshots: readonly SnapshotForTraining[],
  template: PromptTemplate | null,
  sandbox?: ChatTemplateSandbox,
): Promise<SnapshotForTraining[]> {
  const out: SnapshotForTraining[] = [];
  for (const snapshot of snapshots) {
    const applied = snapshot.format === undefined ? null : templateForDatasetFormat(snapshot.format, template);
    if (applied === null) {
      out.push(snapshot);
      continue;
    }
    const distinct = [...new Set(snapshot.records.map((r) => r.prompt))];
    const rendered = await renderBarePrompts(applied, distinct, sandbox);
    const renderedOf = new Map(distinct.map((prompt, i) => [prompt, rendered[i]]));
    const records = snapshot.records.map((record) => {
      const prompt = renderedOf.get(record.prompt)!;
      return { ...record, prompt, response0: joinResponse(applied, prompt, record.response0), response1: joinResponse(applied, prompt, record.response1) };
    });
    out.push({ ...snapshot, records });
  }
  return out;
}

export interface TrainingPairs {
  readonly train: PreferencePair[];
  readonly validation: PreferencePair[];
}

export interface TrainingPairsOptions {
  /** Per dataset, keep only its first maxPairs TRAIN pairs (snapshot order, counting pairs labelled for the job's
   *  dimensions); null = all. VALIDATION pairs are not capped. */
  readonly maxPairs?: number | null;
}

/** The TRAIN and VALIDATION pairs of every snapshot, in snapshot order (datasets in the given order). */
export function trainingPairs(snapshots: readonly SnapshotForTraining[], dimensionIds: readonly string[], options: TrainingPairsOptions = {}): TrainingPairs {
  const maxPairs = options.maxPairs ?? Infinity;
  const train: PreferencePair[] = [];
  const validation: PreferencePair[] = [];
  for (const snapshot of snapshots) {
    let trainTaken = 0;
    for (const { split, pair } of labelledPairs(snapshot, dimensionIds)) {
      if (split === "TRAIN" && trainTaken < maxPairs) {
        train.push(pair);
        trainTaken += 1;
      } else if (split === "VALIDATION") validation.push(pair);
    }
  }
  return { train, validation };
}

/** The snapshot's records labelled for at least one dimension, as pairs in α order (unlabelled → null). */
function* labelledPairs(snapshot: SnapshotForTraining, dimensionIds: readonly string[]): Generator<{ split: PreferenceRecord["split"]; pair: PreferencePair }> {
  const labelFor = dimensionIds.map((id) => Object.keys(snapshot.dimensionMap).find((label) => snapshot.dimensionMap[label] === id));
  for (const record of snapshot.records) {
    const preferred = labelFor.map((label) => {
      if (label === undefined) return null;
      const value = record.preferences[label];
      return value === 0 || value === 1 ? value : null;
    });
    if (preferred.every((p) => p === null)) continue;
    yield { split: record.split, pair: { prompt: record.prompt, responses: [record.response0, record.response1], preferred } };
  }
}

const TARGET_ALIASES: Readonly<Record<string, AdapterTarget>> = ADAPTER_TARGET_NAMES;

/** A training job names an adapter target the engine does not know (bad input: the message lists the known). */
export class UnknownTargetError extends EngineError<"UNKNOWN_ADAPTER_TARGET"> {
  static override readonly category = "invalid-input";
  constructor(message: string) {
    super("UNKNOWN_ADAPTER_TARGET", message);
  }
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
