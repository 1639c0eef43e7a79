/** @module gpu-runner/cli/train-command
 * `parm train`: trains a PARM (or GenARM) ARM on local preference files and writes into `--out`:
 *   adapter.safetensors (PARM) or adapter-<dimension>.safetensors (GenARM, one per objective),
 *   report.json (options, data counts, metrics, held-out report before/after), history.jsonl (one line per update),
 *   checkpoint.safetensors (every --checkpoint-every updates; `--resume <file>` continues from one).
 * Progress goes to stderr, the held-out report to stdout. Ctrl-C stops at the next micro-batch.
 */
import { mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { DATASET_FORMATS, type DatasetFormat } from "../../contracts/datasets/index.ts";
import { ALPHA_CADENCES, PAIR_TRUNCATIONS, type AlphaCadence, type PairTruncation } from "../../contracts/training-recipe.ts";
import {
  exportTrainedArm,
  pareto,
  simplexVertices,
  trainArm,
  TrainerError,
  type AdapterMethod,
  type AdapterTarget,
  type TrainArmOptions,
  type TrainArmResult,
  type WeightsPlacement,
} from "../engine/index.ts";
import { resolveExecutionProvider } from "../device/index.ts";
import { CliUsageError, parseArgs, type OptionSpec, type ParsedArgs } from "./args.ts";
import { loadPreferencePairs, parseDataSource, parseKeyValues } from "./data.ts";
import { loadModel } from "./model.ts";
import { ProgressWriter, renderHeldOutReport } from "./progress.ts";

export const TRAIN_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  model: {}, data: { repeat: true }, format: {}, objectives: {}, "label-map": {}, beta: {}, method: {}, out: {},
  epochs: {}, lr: {}, "weight-decay": {}, "warmup-steps": {}, "batch-pairs": {}, "grad-accum": {}, "max-grad-norm": {},
  "dirichlet-p": {}, "alpha-per": {}, truncation: {}, seed: {}, "max-length": {}, "max-prompt-length": {}, buckets: {}, threads: {}, r1: {}, r2: {},
  "lora-alpha": {}, "lora-rank": {}, "lora-dropout": {}, targets: {}, "checkpoint-every": {}, resume: {}, "validation-fraction": {},
  "max-pairs": {}, "max-validation-pairs": {}, "max-chars": {}, "front-step": {}, "execution-provider": {},
  "weights-as": {}, quiet: { flag: true },
};

export const TRAIN_USAGE = `parm train --model <file.gguf|hf-dir> --data <dim>=<file.jsonl[.gz]> [--data …] --out <dir> [options]
  data:      --format HH_RLHF|PKU_SAFERLHF|GENERIC (default HH_RLHF) · --data <file> --label-map better=helpful,safer=harmless
             --objectives helpful,harmless (α order) · --validation-fraction 0.05 · --max-pairs N · --max-validation-pairs N · --max-chars N
  method:    --method PARM|GENARM · --beta 0.01 | helpful=0.1,harmless=0.05 · --r1 4 --r2 4 --lora-alpha 8 (GENARM: --r1 8 --lora-alpha 16; --lora-rank = r1) --lora-dropout 0.05 --targets q,k,v
  schedule:  --epochs 2 (GENARM 1) --lr 5e-4 --weight-decay 0.05 --warmup-steps 20 --batch-pairs 4 --grad-accum 8 --max-grad-norm 1 (0 = off)
             --dirichlet-p 0.5 --alpha-per STEP|MICRO_BATCH --truncation TRL|PREFIX_SHARED --seed 0 --max-length min(1024, context) --max-prompt-length min(512, max-length/2) --buckets 64,128,…
             (defaults: the method's reference recipe, docs/engine.md "Training defaults")
  runtime:   --threads N --execution-provider auto|cpu|webgpu|cuda (default PARM_EXECUTION_PROVIDER, else auto) --weights-as initializers|inputs --checkpoint-every N --resume <checkpoint>
  report:    --front-step 0.1 (also evaluate held-out accuracy along the α grid) --quiet`;

function parseBeta(text: string | undefined, objectives: readonly string[]): number[] {
  if (text === undefined) return objectives.map(() => 0.01);
  if (!text.includes("=")) {
    const b = Number(text);
    if (!(b > 0)) throw new CliUsageError(`--beta must be a positive number or name=value pairs, got "${text}"`);
    return objectives.map(() => b);
  }
  const map = parseKeyValues(text, "--beta");
  for (const name of Object.keys(map)) if (!objectives.includes(name)) throw new CliUsageError(`--beta names "${name}", which is not an objective (${objectives.join(", ")})`);
  return objectives.map((name) => {
    const b = Number(map[name] ?? 0.01);
    if (!(b > 0)) throw new CliUsageError(`--beta ${name} must be positive, got "${map[name]}"`);
    return b;
  });
}

function oneOf<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[], fallback: T): T {
  const v = args.string(name, fallback);
  if (!(allowed as readonly string[]).includes(v)) throw new CliUsageError(`--${name} must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}

function list(args: ParsedArgs, name: string): string[] | undefined {
  const v = args.string(name);
  return v === undefined ? undefined : v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

function writeAtomic(path: string, bytes: Uint8Array | string): void {
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

export async function runTrain(argv: readonly string[], io: { readonly stdout: NodeJS.WritableStream; readonly stderr: NodeJS.WritableStream & { isTTY?: boolean } }): Promise<TrainArmResult> {
  const args = parseArgs(argv, TRAIN_OPTIONS);
  const out = args.required("out");
  const format = oneOf<DatasetFormat>(args, "format", DATASET_FORMATS, "HH_RLHF");
  const method = oneOf<AdapterMethod>(args, "method", ["PARM", "GENARM"], "PARM");
  const data = loadPreferencePairs({
    sources: args.all("data").map(parseDataSource),
    format,
    objectives: list(args, "objectives"),
    labelMap: args.has("label-map") ? parseKeyValues(args.required("label-map"), "--label-map") : undefined,
    validationFraction: args.number("validation-fraction", 0.05),
    maxChars: args.integer("max-chars"),
    maxPairs: args.integer("max-pairs"),
    maxValidationPairs: args.integer("max-validation-pairs"),
  });
  const beta = parseBeta(args.string("beta"), data.objectives);
  const model = await loadModel(args.required("model"));
  const frontStep = args.number("front-step");
  const evaluationAlphas = frontStep === undefined ? undefined : pareto.simplexGrid(data.objectives.length, frontStep);
  const maxGradNorm = args.number("max-grad-norm");
  const resume = args.string("resume");
  mkdirSync(out, { recursive: true });
  const checkpointPath = join(out, "checkpoint.safetensors");
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  const progress = new ProgressWriter(io.stderr, data.objectives);
  const options: TrainArmOptions = {
    model,
    method,
    objectives: data.objectives.map((name, i) => ({ name, beta: beta[i] })),
    pairs: data.train,
    validationPairs: data.validation,
    r1: args.integer("r1"),
    r2: args.integer("r2"),
    loraAlpha: args.number("lora-alpha"),
    loraRank: args.integer("lora-rank"),
    loraDropout: args.number("lora-dropout"),
    targets: list(args, "targets") as AdapterTarget[] | undefined,
    lr: args.number("lr"),
    weightDecay: args.number("weight-decay"),
    warmupSteps: args.integer("warmup-steps"),
    epochs: args.integer("epochs"),
    batchPairs: args.integer("batch-pairs"),
    gradAccum: args.integer("grad-accum"),
    maxGradNorm: maxGradNorm === 0 ? null : maxGradNorm,
    dirichletP: args.number("dirichlet-p"),
    alphaPer: args.has("alpha-per") ? oneOf<AlphaCadence>(args, "alpha-per", ALPHA_CADENCES, "STEP") : undefined,
    truncation: args.has("truncation") ? oneOf<PairTruncation>(args, "truncation", PAIR_TRUNCATIONS, "TRL") : undefined,
    seed: args.integer("seed", 0),
    maxLength: args.integer("max-length"),
    maxPromptLength: args.integer("max-prompt-length"),
    lengthBuckets: args.numbers("buckets"),
    threads: args.integer("threads"),
    executionProvider: await resolveExecutionProvider({ explicit: args.string("execution-provider"), threads: args.integer("threads"), log: (line) => io.stderr.write(`${line}\n`) }),
    weightsAs: oneOf<WeightsPlacement>(args, "weights-as", ["initializers", "inputs"], "initializers"),
    checkpointEvery: args.integer("checkpoint-every", 0),
    onCheckpoint: (bytes) => writeAtomic(checkpointPath, bytes),
    resumeFrom: resume === undefined ? undefined : readFileSync(resume),
    onProgress: args.flag("quiet") ? undefined : (p) => progress.update(p),
    signal: controller.signal,
    evaluationAlphas: evaluationAlphas?.filter((a) => !simplexVertices(a.length).some((v) => v.every((x, i) => x === a[i]))),
  };
  if (!args.flag("quiet")) {
    io.stderr.write(
      `training ${method} on ${model.source.path} (${model.config.nLayers} layers, d=${model.config.dim}, V=${model.config.vocabSize}): ` +
        `${data.train.length} pairs, ${data.validation.length} held out, objectives ${data.objectives.map((n, i) => `${n} (β ${beta[i]})`).join(", ")}\n`,
    );
  }
  let result: TrainArmResult;
  try {
    result = await trainArm(options);
  } catch (error) {
    if (error instanceof TrainerError && error.code === "CANCELLED") {
      io.stderr.write(`\n${error.message}${options.checkpointEvery ? `; resume with --resume ${checkpointPath}` : ""}\n`);
    }
    throw error;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  const files: string[] = [];
  for (const arm of result.adapters) {
    const name = method === "PARM" ? "adapter.safetensors" : `adapter-${arm.dimensions[0]}.safetensors`;
    writeAtomic(join(out, name), exportTrainedArm(arm, model.config));
    files.push(name);
  }
  const skipped = new Set(["model", "pairs", "validationPairs", "onCheckpoint", "onProgress", "signal", "resumeFrom"]);
  const recorded = Object.fromEntries(Object.entries(options).filter(([key]) => !skipped.has(key)));
  writeAtomic(
    join(out, "report.json"),
    JSON.stringify({ model: model.source, objectives: data.objectives, beta, options: { ...recorded, resumedFrom: resume ?? null }, data: data.files, adapters: files, metrics: result.metrics }, null, 2),
  );
  writeAtomic(join(out, "history.jsonl"), result.history.map((h) => JSON.stringify(h)).join("\n") + "\n");
  const after = result.metrics.heldOutAfter;
  io.stdout.write(
    `trained ${result.metrics.steps} updates in ${result.metrics.seconds.toFixed(1)} s (${Math.round(result.metrics.tokensPerSecond)} tok/s); wrote ${files.join(", ")}, report.json, history.jsonl to ${out}\n`,
  );
  if (after) io.stdout.write(`${renderHeldOutReport(after, result.metrics.heldOutBefore)}\n`);
  return result;
}
