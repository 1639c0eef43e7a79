/**
 * @module gpu-runner/cli/evaluate
 * `parm train-evaluator` and `parm evaluate`.
 *
 *   parm train-evaluator --model M --data <dim>=<file> [--data …] --out DIR [options]
 *     trains one reward-model evaluator per dimension (engine/evaluate) and writes evaluator-<dim>.safetensors and
 *     evaluator-<dim>.json (metrics: held-out accuracy before/after) into DIR. Use data disjoint from the ARM's
 *     training split (other files, or `--hash-range lo,hi` over the pair hash). `--pooling last|mean` picks where
 *     the score head reads (the last token, default, or the mean over the response tokens); the file records it.
 *
 *   parm evaluate --base M --arm ADAPTER [--arm …] --evaluator <dim>=<file> [--evaluator …] --prompts FILE
 *                 [--step 0.1 | --alpha a,b …] --out DIR [options]
 *     sweeps the α grid: α-batched guided generation for every prompt, each response scored by every evaluator
 *     (one per dimension, in α order; a trained `.safetensors` evaluator or an external `.onnx` reward model),
 *     prints a line per finished point and the final table, and writes report.json, pareto.svg and
 *     responses.jsonl into DIR. `--with-base` adds the unguided base model as a baseline.
 * Both take argv without the command name and return the exit code (0 ok, 1 failure, 2 usage).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DATASET_FORMATS, hashToUnitInterval, parseDataset, type DatasetFormat } from "../../contracts/datasets/index.ts";
import { createGenerator, decodeAdapterFromFile, type GenArmGuides, type ParmArm } from "../engine/decode/index.ts";
import {
  exportRewardModel,
  importRewardModel,
  OnnxRewardEvaluator,
  REWARD_POOLINGS,
  RewardModelEvaluator,
  runEvaluation,
  scoreResponses,
  trainEvaluator,
  type EvaluatedPoint,
  type Evaluator,
  type RewardPooling,
  type TrainEvaluatorResult,
} from "../engine/evaluate/index.ts";
import { importAdapter, type AdapterTarget, type LoadedModel, type PreferencePair } from "../engine/index.ts";
import { formatAlpha, type BaselinePoint } from "../engine/pareto/index.ts";
import { CliUsageError, parseArgs, type OptionSpec, type ParsedArgs } from "./args.ts";
import { loadPreferencePairs, parseDataSource } from "./data.ts";
import { loadModel } from "./model.ts";

export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export const TRAIN_EVALUATOR_USAGE = `parm train-evaluator --model <file.gguf|hf-dir> --data <dim>=<file.jsonl[.gz]> [--data …] --out <dir> [options]
  data:      --format HH_RLHF|PKU_SAFERLHF|GENERIC · --validation-fraction 0.1 · --max-pairs N · --max-validation-pairs N · --max-chars N
  model:     --rank 8 --lora-alpha 16 --targets q,k,v · --max-length 256 --max-prompt-length 128
             --pooling last|mean (score head on the last token, default, or the mean over the response tokens)
  schedule:  --epochs 1 --lr 1e-3 --weight-decay 0 --warmup-steps 0 --batch-pairs 8 --grad-accum 1 --seed 0 --threads N`;

export const EVALUATE_USAGE = `parm evaluate --base <model> [--arm <adapter.safetensors> …] [--arm-base <model>] --evaluator <dim>=<file> [--evaluator …]
              --prompts <file> --out <dir> [options]
  sweep:     --step 0.1 (default) | --alpha 0.3,0.7 (repeatable) · --alpha-batch N · --with-base
  prompts:   a .txt file (one per line) or a dataset file (--format HH_RLHF) · --max-prompts 32 · --hash-range 0.9,1
             --max-prompt-tokens N (keep BOS + the last N−1 prompt tokens)
  decoding:  --beta 1 (ARM weight 1/β) · --max-new-tokens 64 · greedy · --eos-ids 1,2 (token ids that end a response;
             default the tokenizer's EOS; stories260K ends texts with BOS = 1)
  evaluators: <dim>=<evaluator.safetensors> (from train-evaluator) or <dim>=<model.onnx> (inputs input_ids, attention_mask;
             --onnx-max-length 512) · --reference z1,z2 (HV reference point; default min − 0.1·span)
  runtime:   --threads N --skip-digest-check`;

const TRAIN_EVALUATOR_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  model: {}, data: { repeat: true }, format: {}, out: {}, "validation-fraction": {}, "max-pairs": {}, "max-validation-pairs": {},
  "max-chars": {}, rank: {}, "lora-alpha": {}, targets: {}, "max-length": {}, "max-prompt-length": {}, epochs: {}, lr: {},
  "weight-decay": {}, "warmup-steps": {}, "batch-pairs": {}, "grad-accum": {}, seed: {}, threads: {}, pooling: {}, quiet: { flag: true },
};

const EVALUATE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  base: {}, arm: { repeat: true }, "arm-base": {}, evaluator: { repeat: true }, prompts: {}, format: {}, "max-prompts": {},
  "hash-range": {}, "max-prompt-tokens": {}, step: {}, alpha: { repeat: true }, "alpha-batch": {}, "with-base": { flag: true },
  beta: {}, "max-new-tokens": {}, "eos-ids": {}, "onnx-max-length": {}, reference: {}, out: {}, threads: {}, "skip-digest-check": { flag: true },
};

function oneOf<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[], fallback: T): T {
  const v = args.string(name, fallback);
  if (!(allowed as readonly string[]).includes(v)) throw new CliUsageError(`--${name} must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}

function hashRange(args: ParsedArgs): [number, number] | undefined {
  const range = args.numbers("hash-range");
  if (range === undefined) return undefined;
  if (range.length !== 2 || !(range[0] >= 0 && range[0] < range[1] && range[1] <= 1)) throw new CliUsageError(`--hash-range must be lo,hi with 0 ≤ lo < hi ≤ 1, got ${range.join(",")}`);
  return [range[0], range[1]];
}

async function guarded(io: CommandIo, usage: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (error) {
    if (error instanceof CliUsageError) {
      io.stderr.write(`parm: ${error.message}\n\n${usage}\n`);
      return 2;
    }
    const e = error as Error & { code?: string };
    io.stderr.write(`parm: ${e.name}${e.code ? ` ${e.code}` : ""}: ${e.message}\n`);
    return 1;
  }
}

// ------------------------------------------------------------------------------------------------ train-evaluator

/** `parm train-evaluator` (argv after the command name). */
export async function runTrainEvaluatorCommand(argv: readonly string[], io: CommandIo = process): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout.write(`${TRAIN_EVALUATOR_USAGE}\n`);
    return 0;
  }
  return guarded(io, TRAIN_EVALUATOR_USAGE, async () => {
    const args = parseArgs(["train-evaluator", ...argv], TRAIN_EVALUATOR_OPTIONS);
    const out = args.required("out");
    const sources = args.all("data").map(parseDataSource);
    if (sources.some((s) => s.dimension === undefined)) throw new CliUsageError("--data must be <dim>=<file> (one evaluator per dimension)");
    const pooling = oneOf<RewardPooling>(args, "pooling", REWARD_POOLINGS, "last");
    const data = loadPreferencePairs({
      sources,
      format: oneOf<DatasetFormat>(args, "format", DATASET_FORMATS, "HH_RLHF"),
      validationFraction: args.number("validation-fraction", 0.1),
      maxChars: args.integer("max-chars"),
      maxPairs: args.integer("max-pairs"),
      maxValidationPairs: args.integer("max-validation-pairs"),
    });
    const model = await loadModel(args.required("model"));
    mkdirSync(out, { recursive: true });
    const maxLength = args.integer("max-length", 256);
    const rows: string[] = [];
    for (const [i, dimension] of data.objectives.entries()) {
      const single = (pairs: readonly PreferencePair[]): PreferencePair[] =>
        pairs.filter((p) => p.preferred[i] !== null).map((p) => ({ prompt: p.prompt, responses: p.responses, preferred: [p.preferred[i]] }));
      const pairs = single(data.train);
      const validationPairs = single(data.validation);
      if (!args.flag("quiet")) io.stderr.write(`training evaluator "${dimension}" (${pooling} pooling) on ${pairs.length} pairs (${validationPairs.length} held out)\n`);
      const result: TrainEvaluatorResult = await trainEvaluator({
        model,
        dimension,
        pairs,
        validationPairs,
        rank: args.integer("rank", 8),
        loraAlpha: args.number("lora-alpha", 16),
        targets: args.string("targets")?.split(",").map((s) => s.trim()) as AdapterTarget[] | undefined,
        maxLength,
        maxPromptLength: args.integer("max-prompt-length", Math.floor(maxLength / 2)),
        epochs: args.integer("epochs", 1),
        lr: args.number("lr", 1e-3),
        weightDecay: args.number("weight-decay", 0),
        warmupSteps: args.integer("warmup-steps", 0),
        batchPairs: args.integer("batch-pairs", 8),
        gradAccum: args.integer("grad-accum", 1),
        seed: args.integer("seed", 0),
        threads: args.integer("threads"),
        pooling,
        onProgress: args.flag("quiet") ? undefined : (p) => io.stderr.write(`  ${dimension} step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)}\n`),
      });
      writeFileSync(join(out, `evaluator-${dimension}.safetensors`), exportRewardModel(result.model, model.config));
      writeFileSync(join(out, `evaluator-${dimension}.json`), JSON.stringify({ dimension, model: model.source, pooling, metrics: result.metrics, history: result.history }, null, 2));
      const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "–" : `${(100 * v).toFixed(1)}%`);
      rows.push(`  ${dimension.padEnd(16)} ${String(result.metrics.trainPairs).padStart(6)} ${String(result.metrics.validationPairs).padStart(6)}   ${pct(result.metrics.heldOutBefore?.accuracy).padStart(6)} → ${pct(result.metrics.heldOutAfter?.accuracy)}`);
    }
    io.stdout.write(`evaluators written to ${out}\n  dimension         pairs  held   held-out accuracy before → after\n${rows.join("\n")}\n`);
  });
}

// ------------------------------------------------------------------------------------------------ evaluate

function loadPrompts(args: ParsedArgs): string[] {
  const path = args.required("prompts");
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new CliUsageError(`cannot read --prompts ${path}: ${(cause as Error).message}`);
  }
  const max = args.integer("max-prompts", 32);
  if (max < 1) throw new CliUsageError(`--max-prompts must be ≥ 1, got ${max}`);
  if (path.endsWith(".txt")) {
    const lines = new TextDecoder().decode(bytes).split("\n").filter((l) => l.trim() !== "").map((l) => l.replace(/\\n/g, "\n"));
    return lines.slice(0, max);
  }
  const result = parseDataset(bytes, oneOf<DatasetFormat>(args, "format", DATASET_FORMATS, "HH_RLHF"), { splitRatios: { train: 1, validation: 0, test: 0 } });
  if (result.report.fatal) throw new CliUsageError(`${path}: ${result.report.fatal.reason}`);
  const range = hashRange(args);
  const seen = new Set<string>();
  const prompts: string[] = [];
  for (const r of result.records) {
    if (range && !(hashToUnitInterval(r.pairHash) >= range[0] && hashToUnitInterval(r.pairHash) < range[1])) continue;
    if (seen.has(r.prompt)) continue;
    seen.add(r.prompt);
    prompts.push(r.prompt);
    if (prompts.length === max) break;
  }
  if (prompts.length === 0) throw new CliUsageError(`--prompts ${path} yields no prompts${range ? ` in hash range ${range.join(",")}` : ""}`);
  return prompts;
}

async function loadEvaluators(args: ParsedArgs, backbone: LoadedModel): Promise<{ evaluators: Evaluator[]; names: string[] }> {
  const specs = args.all("evaluator").map(parseDataSource);
  if (specs.length === 0) throw new CliUsageError("give one --evaluator <dim>=<file> per dimension, in α order");
  const evaluators: Evaluator[] = [];
  for (const spec of specs) {
    if (spec.dimension === undefined) throw new CliUsageError(`--evaluator must be <dim>=<file>, got "${spec.path}"`);
    if (spec.path.endsWith(".onnx")) {
      evaluators.push(await OnnxRewardEvaluator.create({ name: spec.dimension, model: spec.path, tokenizer: backbone.tokenizer, padId: backbone.tokenizer.eosId, maxLength: args.integer("onnx-max-length", 512), threads: args.integer("threads") }));
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(spec.path);
    } catch (cause) {
      throw new CliUsageError(`cannot read evaluator ${spec.path}: ${(cause as Error).message}`);
    }
    const model = importRewardModel(bytes, { config: backbone.config, ...(args.flag("skip-digest-check") ? {} : { baseModelDigest: backbone.source.sha256 }) });
    evaluators.push(new RewardModelEvaluator({ backbone: args.flag("skip-digest-check") ? { ...backbone, source: undefined } : backbone, model, name: spec.dimension, threads: args.integer("threads"), batch: 16 }));
  }
  return { evaluators, names: specs.map((s) => s.dimension!) };
}

async function loadGuidance(args: ParsedArgs, base: LoadedModel): Promise<ParmArm | GenArmGuides> {
  const paths = args.all("arm");
  if (paths.length === 0) throw new CliUsageError("give --arm <adapter.safetensors> (one PARM adapter, or one GENARM adapter per dimension)");
  const armBase = args.string("arm-base");
  const backbone = armBase ? await loadModel(armBase) : base;
  const files = paths.map((path) =>
    importAdapter(new Uint8Array(readFileSync(path)), { config: backbone.config, ...(args.flag("skip-digest-check") ? {} : { baseModelDigest: backbone.source.sha256 }) }),
  );
  if (new Set(files.map((f) => f.metadata.method)).size > 1) throw new CliUsageError("--arm files mix PARM and GENARM adapters");
  if (files[0].metadata.method === "PARM") {
    if (files.length > 1) throw new CliUsageError(`PARM guidance uses one adapter, got ${files.length}`);
    return { model: backbone, adapter: decodeAdapterFromFile(files[0]) };
  }
  return { genarm: files.map((file) => ({ model: backbone, adapter: decodeAdapterFromFile(file) })) };
}

/** One table row: α, rewards ± standard errors. */
export function formatPointRow(point: Pick<EvaluatedPoint, "alpha" | "rewards" | "standardErrors">, onFront?: boolean): string {
  const cells = point.rewards.map((r, i) => `${r.toFixed(4)} ± ${point.standardErrors[i].toFixed(4)}`.padStart(20));
  return `  ${formatAlpha(point.alpha).padEnd(14)}${cells.join("")}${onFront === undefined ? "" : onFront ? "   front" : ""}`;
}

/** `parm evaluate` (argv after the command name). */
export async function runEvaluateCommand(argv: readonly string[], io: CommandIo = process): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout.write(`${EVALUATE_USAGE}\n`);
    return 0;
  }
  return guarded(io, EVALUATE_USAGE, async () => {
    const args = parseArgs(["evaluate", ...argv], EVALUATE_OPTIONS);
    const out = args.required("out");
    const alphas = args.all("alpha").map((text, i) => {
      const v = text.split(",").map(Number);
      if (v.some((x) => !Number.isFinite(x))) throw new CliUsageError(`--alpha #${i + 1} must be comma-separated numbers, got "${text}"`);
      return v;
    });
    if (alphas.length > 0 && args.has("step")) throw new CliUsageError("give --step or --alpha, not both");
    const step = args.number("step", 0.1);
    const prompts = loadPrompts(args);
    const base = await loadModel(args.required("base"));
    const arm = await loadGuidance(args, base);
    const { evaluators, names } = await loadEvaluators(args, base);
    const beta = args.number("beta", 1);
    if (!(beta > 0)) throw new CliUsageError(`--beta must be positive, got ${beta}`);
    const maxNewTokens = args.integer("max-new-tokens", 64);
    const maxPromptTokens = args.integer("max-prompt-tokens");
    const reference = args.numbers("reference");
    if (reference && reference.length !== names.length) throw new CliUsageError(`--reference needs ${names.length} numbers, got ${reference.length}`);
    const threads = args.integer("threads");
    const eosIds = args.numbers("eos-ids");
    if (eosIds && eosIds.some((id) => !Number.isInteger(id) || id < 0 || id >= base.config.vocabSize)) throw new CliUsageError(`--eos-ids must be token ids in [0, ${base.config.vocabSize}), got ${eosIds.join(",")}`);
    const stop = eosIds ? { eosTokenIds: eosIds } : {};
    const promptIds = (prompt: string): number[] => {
      const ids = base.tokenizer.encode(prompt, { bos: true });
      return maxPromptTokens === undefined || ids.length <= maxPromptTokens ? ids : [ids[0], ...ids.slice(ids.length - (maxPromptTokens - 1))];
    };
    mkdirSync(out, { recursive: true });
    const generator = createGenerator({ base, arm, ...(threads !== undefined ? { threads } : {}) });
    try {
      const baselines: BaselinePoint[] = [];
      if (args.flag("with-base")) {
        const plain = createGenerator({ base, ...(threads !== undefined ? { threads } : {}) });
        const texts: string[] = [];
        try {
          for (const p of prompts) texts.push((await plain.generate({ prompt: { tokenIds: promptIds(p) }, maxNewTokens, ...stop })).outputs[0].text);
        } finally {
          await plain.release();
        }
        const perPrompt = await scoreResponses(evaluators, prompts, texts);
        baselines.push({ name: "base (unguided)", rewards: names.map((_, j) => perPrompt.reduce((s, r) => s + r[j], 0) / prompts.length) });
        io.stdout.write(`base (unguided): ${baselines[0].rewards.map((r) => r.toFixed(4)).join(", ")}\n`);
      }
      io.stdout.write(`evaluating ${generator.mode} on ${prompts.length} prompts, ${maxNewTokens} new tokens, 1/β = ${1 / beta}\n  ${"α".padEnd(14)}${names.map((n) => n.padStart(20)).join("")}\n`);
      const responses: string[] = [];
      const result = await runEvaluation({
        ...(alphas.length > 0 ? { alphas } : { step }),
        prompts,
        evaluators,
        objectiveNames: names,
        baselines,
        ...(reference ? { referencePoint: reference } : {}),
        ...(args.integer("alpha-batch") !== undefined ? { alphaBatch: args.integer("alpha-batch")! } : {}),
        generate: async (prompt, batch) => (await generator.generate({ prompt: { tokenIds: promptIds(prompt) }, alphas: batch, beta, maxNewTokens, ...stop })).outputs.map((o) => o.text),
        onPoint: (point) => {
          io.stdout.write(`${formatPointRow(point)}\n`);
          point.responses.forEach((text, i) => responses.push(JSON.stringify({ alpha: point.alpha, prompt: i, text, rewards: point.perPrompt[i] })));
        },
      });
      const { report } = result;
      io.stdout.write(`\nPareto front (${report.front.length} of ${report.points.length} points):\n`);
      for (const p of report.points) io.stdout.write(`${formatPointRow({ ...p, standardErrors: result.points[p.index].standardErrors }, p.onFront)}\n`);
      io.stdout.write(`hypervolume ${report.hypervolume.toPrecision(6)} (z = ${report.referencePoint.map((v) => v.toFixed(4)).join(", ")}), MIP ${report.mip.toFixed(4)}\n`);
      writeFileSync(join(out, "report.json"), JSON.stringify({ ...report, standardErrors: result.points.map((p) => p.standardErrors), seconds: result.seconds }, null, 2));
      writeFileSync(join(out, "pareto.svg"), result.svg);
      writeFileSync(join(out, "responses.jsonl"), responses.join("\n") + "\n");
      io.stdout.write(`wrote report.json, pareto.svg, responses.jsonl to ${out} (${result.seconds.toFixed(1)} s)\n`);
    } finally {
      await generator.release();
      for (const e of evaluators) await e.release();
    }
  });
}
