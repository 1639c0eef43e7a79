/** @module gpu-runner/cli/dump-command
 * `parm dump`: one ARM train step written out as a safetensors file so another framework can check the engine.
 *
 * Contents (names → meaning; float tensors in --dtype, F64 by default, ids I64):
 *   model.<name>          frozen weights, canonical names and (out, in) layout of engine/model/config.ts (F32 as loaded)
 *   adapter.<name>        adapter tensors (model/pblora.ts names); B is drawn U(−b, b) (--b-scale) instead of 0 so
 *                         that every adapter tensor has a non-zero gradient
 *   batch.input_ids       [2P, T] rows 0…P−1 = response 0 of each pair, P…2P−1 = response 1, right-padded with EOS
 *   batch.label_positions [2P, R] position t whose next-token log-prob counts (label = token t+1)
 *   batch.label_ids       [2P, R] the label token per slot;  batch.label_mask [2P, R] 1 real / 0 padding
 *   batch.pair_sign       [P, k] +1 when response 0 is preferred under objective i, −1 otherwise
 *   batch.pair_weight     [P, k] 1/n_i for the n_i pairs labelled for objective i, else 0
 *   batch.alpha [P, k] (PBLoRA) · batch.beta [k]
 *   output.loss [] = Σ_{p,i} α_{p,i} w_{p,i} softplus(−β_i s_{p,i} (l_p0 − l_p1)) · output.objective_losses [k]
 *   output.margins [P] · output.sequence_logps [2P] = Σ_slots mask · log_softmax(logits at position)[label]
 *   grad.<name>           ∂ output.loss / ∂ adapter.<name>
 * `__metadata__` key `parm.dump` holds JSON: config (RoPE layout, eps, θ, …), adapter spec and scale, objectives,
 * dtype, onnxruntime version, and the formulas above.
 */
import { PAIR_TRUNCATIONS, TRAINING_RECIPES, type PairTruncation } from "../../contracts/training-recipe.ts";
import { readFileSync, writeFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { DATASET_FORMATS, type DatasetFormat } from "../../contracts/datasets/index.ts";
import {
  adapterFeeds,
  adapterScale,
  ARM_INPUTS,
  ARM_OUTPUTS,
  armTrainBatchFeeds,
  buildArmTrainGraph,
  createEngineSession,
  defaultLengthBuckets,
  initAdapterTensors,
  pbloraSpec,
  preparePairs,
  train,
  type AdapterSpec,
  type AdapterTarget,
  type ArmPair,
  type LoadedModel,
} from "../engine/index.ts";
import { CliUsageError, parseArgs, type OptionSpec } from "./args.ts";
import { loadPreferencePairs, parseDataSource, parseKeyValues } from "./data.ts";
import { writeDumpFile, type DumpTensor } from "./dump-file.ts";
import { loadModel } from "./model.ts";

export const DUMP_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  model: {}, out: {}, data: { repeat: true }, format: {}, "label-map": {}, objectives: {}, method: {}, "batch-pairs": {},
  "max-length": {}, "max-prompt-length": {}, truncation: {}, seed: {}, dtype: {}, alpha: {}, beta: {}, r1: {}, r2: {}, "lora-alpha": {},
  "lora-rank": {}, targets: {}, "b-scale": {}, "no-weights": { flag: true },
};

export const DUMP_USAGE = `parm dump --model <file.gguf|hf-dir> --out <file.safetensors> [options]
  --data <dim>=<file> … (first pairs of the files; default: random token ids, objectives o1,o2) --objectives a,b
  --batch-pairs 2 --max-length 64 --max-prompt-length 32 --truncation TRL|PREFIX_SHARED --seed 0 --dtype float64|float32 --alpha 0.3,0.7 --beta 0.05
  --method PARM|GENARM --r1 4 --r2 4 --lora-alpha 8 (PARM; GENARM: --lora-rank 8 --lora-alpha 16) --targets q,k,v --b-scale 0.05 --no-weights (omit model.*)`;

export interface DumpSummary {
  readonly path: string;
  readonly loss: number;
  readonly tensors: number;
  readonly bytes: number;
}

function float(dtype: "float32" | "float64", shape: readonly number[], values: ArrayLike<number>): DumpTensor {
  return dtype === "float64" ? { dtype: "F64", shape, data: Float64Array.from(values) } : { dtype: "F32", shape, data: Float32Array.from(values) };
}

function syntheticPairs(model: LoadedModel, count: number, k: number, maxLength: number, rng: train.Rng): ArmPair[] {
  const { vocabSize, bosId, eosId } = model.config;
  const token = () => {
    for (;;) {
      const t = rng.int(vocabSize);
      if (t !== bosId && t !== eosId) return t;
    }
  };
  const row = (prompt: number[], responseLength: number) => {
    const response = [...Array.from({ length: responseLength }, token), eosId];
    return { ids: [...prompt, ...response], labels: [...prompt.map(() => -100), ...response] };
  };
  return Array.from({ length: count }, (_, p) => {
    const prompt = [bosId, ...Array.from({ length: 1 + rng.int(Math.max(1, Math.floor(maxLength / 4))), }, token)];
    const budget = maxLength - prompt.length - 1;
    const length = 1 + rng.int(Math.max(1, budget));
    return {
      first: row(prompt, length),
      second: row(prompt, Math.max(1, length - rng.int(3))),
      sign: Array.from({ length: k }, (_, i) => ((p + i) % 2 === 0 ? 1 : -1)),
      counts: Array.from({ length: k }, (_, i) => p === 0 || (p + i) % 3 !== 2),
    };
  });
}

export async function runDump(argv: readonly string[], io: { stdout: NodeJS.WritableStream }): Promise<DumpSummary> {
  const args = parseArgs(argv, DUMP_OPTIONS);
  const out = args.required("out");
  const model = await loadModel(args.required("model"));
  const seed = args.integer("seed", 0);
  const rng = new train.Rng(seed);
  const dtype = args.string("dtype", "float64");
  if (dtype !== "float64" && dtype !== "float32") throw new CliUsageError(`--dtype must be float64 or float32, got "${dtype}"`);
  const method = args.string("method", "PARM");
  if (method !== "PARM" && method !== "GENARM") throw new CliUsageError(`--method must be PARM or GENARM, got "${method}"`);
  const batchPairs = args.integer("batch-pairs", 2);
  if (batchPairs < 1) throw new CliUsageError(`--batch-pairs must be ≥ 1, got ${batchPairs}`);
  const maxLength = Math.min(args.integer("max-length", 64), model.config.maxSeqLen);
  const maxPromptLength = args.integer("max-prompt-length", Math.floor(maxLength / 2));
  const targets = (args.string("targets", "q,k,v").split(",") as AdapterTarget[]);

  let objectives: string[];
  let pairs: ArmPair[];
  if (args.all("data").length > 0) {
    const format = args.string("format", "HH_RLHF") as DatasetFormat;
    if (!DATASET_FORMATS.includes(format)) throw new CliUsageError(`--format must be one of ${DATASET_FORMATS.join(", ")}`);
    const data = loadPreferencePairs({
      sources: args.all("data").map(parseDataSource),
      format,
      objectives: args.string("objectives")?.split(","),
      labelMap: args.has("label-map") ? parseKeyValues(args.required("label-map"), "--label-map") : undefined,
      validationFraction: 0,
    });
    objectives = [...data.objectives];
    // Round-robin over files so every objective is represented.
    const perObjective = objectives.map((_, i) => data.train.filter((p) => p.preferred[i] !== null));
    const picked = new Set<(typeof data.train)[number]>();
    for (let r = 0; picked.size < batchPairs && perObjective.some((l) => r < l.length); r++) {
      for (const l of perObjective) if (r < l.length && picked.size < batchPairs) picked.add(l[r]);
    }
    const truncation = args.string("truncation", TRAINING_RECIPES.PARM.truncation) as PairTruncation;
    if (!PAIR_TRUNCATIONS.includes(truncation)) throw new CliUsageError(`--truncation must be one of ${PAIR_TRUNCATIONS.join(", ")}, got "${truncation}"`);
    const prepared = preparePairs(model.tokenizer, [...picked], objectives.length, { maxLength, maxPromptLength, truncation, buckets: defaultLengthBuckets(maxLength) });
    pairs = prepared.map((p) => p.arm);
  } else {
    objectives = args.string("objectives", "o1,o2").split(",");
    pairs = syntheticPairs(model, batchPairs, objectives.length, maxLength, rng);
  }
  const k = objectives.length;
  const spec: AdapterSpec =
    method === "PARM"
      ? pbloraSpec({ r1: args.integer("r1"), r2: args.integer("r2"), numObjectives: k, loraAlpha: args.number("lora-alpha"), targets })
      : { mode: "lora", rank: args.integer("lora-rank", TRAINING_RECIPES.GENARM.r1), loraAlpha: args.number("lora-alpha", TRAINING_RECIPES.GENARM.loraAlpha), targets };
  const graphK = spec.mode === "pblora" ? k : 1;
  if (spec.mode === "lora") pairs = pairs.map((p) => ({ ...p, sign: [p.sign[0]], counts: [p.counts?.[0] ?? true] }));
  const alpha = args.numbers("alpha") ?? (spec.mode === "pblora" ? rng.dirichlet(0.5, k) : undefined);
  if (alpha && (alpha.length !== k || alpha.some((a) => a < 0) || Math.abs(alpha.reduce((s, a) => s + a, 0) - 1) > 1e-6)) {
    throw new CliUsageError(`--alpha must be ${k} non-negative numbers summing to 1, got ${alpha.join(",")}`);
  }
  const betaText = args.string("beta", "0.05");
  const beta = betaText.includes("=") ? objectives.map((o) => Number(parseKeyValues(betaText, "--beta")[o] ?? 0.05)) : objectives.map(() => Number(betaText));
  if (beta.some((b) => !(b > 0))) throw new CliUsageError(`--beta must be positive, got "${betaText}"`);
  const graphBeta = spec.mode === "pblora" ? beta : [beta[0]];

  const initRng = new train.Rng(seed ^ 0x5a5a5a5a);
  const tensors = initAdapterTensors(model.config, spec, () => initRng.uniform());
  const bScale = args.number("b-scale", 0.05);
  for (const [name, data] of tensors) if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = (2 * initRng.uniform() - 1) * bScale;

  const seqLen = Math.max(...pairs.flatMap((p) => [p.first.ids.length, p.second.ids.length]));
  const slots = (row: { labels: readonly number[] }) => row.labels.slice(1).filter((l) => l !== -100).length;
  const responseLen = Math.max(1, ...pairs.flatMap((p) => [slots(p.first), slots(p.second)]));
  const graph = buildArmTrainGraph(model.config, model.weights, spec, { batchPairs: pairs.length, seqLen, responseLen, dtype, weightsAs: "inputs" });
  const session = await createEngineSession(graph, { intraOpNumThreads: 1 });
  const batchFeeds = armTrainBatchFeeds(graph, { pairs, alpha, beta: graphBeta, padId: model.config.eosId });
  const result = await session.run({ ...graph.frozenFeeds, ...adapterFeeds(model.config, spec, tensors, dtype), ...batchFeeds });
  await session.release();

  const dump = new Map<string, DumpTensor>();
  if (!args.flag("no-weights")) for (const [name, w] of model.weights) dump.set(`model.${name}`, { dtype: "F32", shape: w.shape, data: w.data });
  for (const [name, data] of tensors) dump.set(`adapter.${name}`, float(dtype, graph.inputs.find((v) => v.name === name)!.shape, data));
  for (const [name, feed] of Object.entries(batchFeeds)) {
    dump.set(`batch.${name}`, feed.dtype === "int64" ? { dtype: "I64", shape: feed.shape, data: feed.data as BigInt64Array } : float(dtype, feed.shape, feed.data as Float64Array));
  }
  for (const name of Object.values(ARM_OUTPUTS)) dump.set(`output.${name}`, float(dtype, result[name].shape, result[name].data as Float64Array));
  for (const [name, output] of graph.gradientNames) dump.set(`grad.${name}`, float(dtype, result[output].shape, result[output].data as Float64Array));
  const loss = Number((result[ARM_OUTPUTS.loss].data as Float64Array)[0]);
  const metadata = {
    format: "parm-dump",
    version: 1,
    model: model.source,
    config: model.config,
    adapter: { ...spec, scale: adapterScale(spec) },
    objectives,
    dtype,
    onnxruntime: ort.env.versions?.common ?? "unknown",
    inputs: Object.values(ARM_INPUTS),
    conventions: [
      "weights: canonical names, (out, in) row-major; RoPE pairs per config.ropeLayout (interleaved = (x[2j], x[2j+1])), theta config.ropeTheta",
      "decoder: h = emb[ids]; per layer h += Wo·attn(RoPE(Wq·n(h)), RoPE(Wk·n(h)), Wv·n(h)) (causal, GQA); h += Wdown·(silu(Wgate·n(h))·Wup·n(h)); n = RMSNorm(eps); logits = output·n(h)",
      "adapter on target t: y += s·B·blockdiag(W1, reshape(Σ_i α_i W2[i], r2×r2))·A·x (PBLoRA, s = loraAlpha/r2) or s·B·A·x (LoRA, s = loraAlpha/rank)",
      "sequence_logps[r] = Σ_j label_mask[r,j] · log_softmax(logits[r, label_positions[r,j]])[label_ids[r,j]]",
      "margins[p] = sequence_logps[p] − sequence_logps[P + p]",
      "loss = Σ_{p,i} alpha[p,i] · pair_weight[p,i] · softplus(−beta[i] · pair_sign[p,i] · margins[p]); objective_losses[i] = Σ_p pair_weight[p,i] · softplus(…)",
      "GenARM (LoRA) graphs have no alpha: loss = Σ_p pair_weight[p,0] · softplus(−beta[0] · pair_sign[p,0] · margins[p])",
    ],
  };
  const bytes = writeDumpFile(dump, { "parm.dump": JSON.stringify(metadata) });
  writeFileSync(out, bytes);
  io.stdout.write(`wrote ${out}: ${dump.size} tensors, ${bytes.byteLength} bytes, loss ${loss}\n`);
  return { path: out, loss, tensors: dump.size, bytes: bytes.byteLength };
}

/** Reads a dump's metadata (for tools and tests). */
export function readDumpMetadata(path: string): Record<string, unknown> {
  const bytes = readFileSync(path);
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  return JSON.parse(header.__metadata__["parm.dump"]);
}
