/** @module gpu-runner/cli/data
 * Turns `--data` arguments into training and validation preference pairs in α order.
 *
 * - `--data <dimension>=<file>`: a single-label file (HH-RLHF or generic JSONL, plain or gzip); its one label
 *   ("preferred") becomes objective <dimension>; the pair is unlabelled (null) for every other objective.
 * - `--data <file>` with a multi-label format (PKU-SafeRLHF): each label becomes the objective named by
 *   `labelMap` (label → dimension; default: the label name itself), so one pair carries several labels.
 * Objective order (= α order): `objectives` when given, else the order in which dimensions first appear.
 * Records are split by their content hash (contracts/datasets): the VALIDATION share becomes held-out pairs.
 * `maxChars` drops pairs whose prompt plus longer response exceed it (PARM's character filter);
 * `maxPairs` / `maxValidationPairs` keep the first n of each file's training / validation records.
 */
import { readFileSync } from "node:fs";
import { DEFAULT_LABEL_NAMES, parseDataset, type DatasetFormat, type PreferenceRecord } from "../../contracts/datasets/index.ts";
import type { PreferencePair } from "../engine/index.ts";
import { CliUsageError } from "./args.ts";

export interface DataSource {
  /** Objective of a single-label file; undefined for a multi-label file. */
  readonly dimension?: string;
  readonly path: string;
}

export interface LoadPairsOptions {
  readonly sources: readonly DataSource[];
  readonly format: DatasetFormat;
  readonly objectives?: readonly string[];
  readonly labelMap?: Readonly<Record<string, string>>;
  readonly validationFraction: number;
  readonly maxChars?: number;
  readonly maxPairs?: number;
  readonly maxValidationPairs?: number;
}

export interface LoadedPairs {
  readonly objectives: readonly string[];
  readonly train: readonly PreferencePair[];
  readonly validation: readonly PreferencePair[];
  /** Per file: accepted records, rejected lines, pairs kept for training and validation. */
  readonly files: readonly { readonly path: string; readonly accepted: number; readonly rejected: number; readonly train: number; readonly validation: number }[];
}

/** Parses `dim=path` or `path`. */
export function parseDataSource(text: string): DataSource {
  const eq = text.indexOf("=");
  if (eq < 0) return { path: text };
  const dimension = text.slice(0, eq).trim();
  const path = text.slice(eq + 1).trim();
  if (!dimension || !path) throw new CliUsageError(`--data must be <dimension>=<file> or <file>, got "${text}"`);
  return { dimension, path };
}

/** Parses `a=b,c=d` into a record. */
export function parseKeyValues(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0 || eq === part.length - 1) throw new CliUsageError(`${what} must be name=value pairs separated by commas, got "${text}"`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

export function loadPreferencePairs(options: LoadPairsOptions): LoadedPairs {
  if (options.sources.length === 0) throw new CliUsageError("at least one --data is required");
  if (!(options.validationFraction >= 0 && options.validationFraction < 1)) {
    throw new CliUsageError(`--validation-fraction must be in [0, 1), got ${options.validationFraction}`);
  }
  const labels = DEFAULT_LABEL_NAMES[options.format];
  const perFile = options.sources.map((source) => {
    if (source.dimension !== undefined && labels.length !== 1) {
      throw new CliUsageError(`--data ${source.dimension}=… needs a single-label format; ${options.format} has labels ${labels.join(", ")} (use --data <file> with --label-map)`);
    }
    const mapping: Record<string, string> =
      source.dimension !== undefined ? { [labels[0]]: source.dimension } : Object.fromEntries(labels.map((l) => [l, options.labelMap?.[l] ?? l]));
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(source.path);
    } catch (cause) {
      throw new CliUsageError(`cannot read data file ${source.path}: ${(cause as Error).message}`);
    }
    const result = parseDataset(bytes, options.format, {
      splitRatios: { train: 1 - options.validationFraction, validation: options.validationFraction, test: 0 },
    });
    if (result.report.fatal) throw new CliUsageError(`${source.path}: ${result.report.fatal.reason}`);
    return { source, mapping, records: result.records, report: result.report };
  });
  const dimensions: string[] = [];
  for (const f of perFile) for (const d of Object.values(f.mapping)) if (!dimensions.includes(d)) dimensions.push(d);
  let objectives = dimensions;
  if (options.objectives && options.objectives.length > 0) {
    const missing = dimensions.filter((d) => !options.objectives!.includes(d));
    if (missing.length > 0) throw new CliUsageError(`--objectives lacks ${missing.join(", ")}, which the data labels`);
    objectives = [...options.objectives];
  }
  const fits = (r: PreferenceRecord) => options.maxChars === undefined || r.prompt.length + Math.max(r.response0.length, r.response1.length) <= options.maxChars;
  const train: PreferencePair[] = [];
  const validation: PreferencePair[] = [];
  const files = perFile.map(({ source, mapping, records, report }) => {
    const toPair = (r: PreferenceRecord): PreferencePair => ({
      prompt: r.prompt,
      responses: [r.response0, r.response1],
      preferred: objectives.map((dim) => {
        const label = Object.keys(mapping).find((l) => mapping[l] === dim);
        return label !== undefined && r.preferences[label] !== undefined ? (r.preferences[label] as 0 | 1) : null;
      }),
    });
    const kept = records.filter(fits);
    const t = kept.filter((r) => r.split === "TRAIN").slice(0, options.maxPairs ?? Infinity).map(toPair);
    const v = kept.filter((r) => r.split !== "TRAIN").slice(0, options.maxValidationPairs ?? Infinity).map(toPair);
    train.push(...t);
    validation.push(...v);
    return { path: source.path, accepted: report.accepted, rejected: report.rejected, train: t.length, validation: v.length };
  });
  return { objectives, train, validation, files };
}
