/** @module bench/train
 * Training throughput of the ARM trainer (`trainArm`, engine/train/trainer.ts): tokens/s of the steady state
 * (updates after the first, which builds the graph and session), and the process's peak RSS, for
 *   - stories260K (../shared/data; d=64, 5 layers, V=512), 8 pairs per micro-batch (16 rows) × 128 tokens;
 *   - a random LLaMA with d=256, 4 layers, 4 heads, FFN 768, V=32000, 4 pairs (8 rows) × 128 tokens.
 * PBLoRA r1 = r2 = 4 on q, k, v, two objectives, float32, CPU. Each variant runs in its own child process so the
 * peak memory is its own; ratios are against the default variant measured in the same run:
 *   default   frozen weights as initializers, fused LogSoftmax+GatherElements gradient
 *   inputs    frozen weights fed as graph inputs
 *   generic   the generic LogSoftmax and GatherElements VJP rules (materializes more [rows, R, V] tensors)
 * Usage: npm run bench:train -- [--threads N] [--steps N] [--only stories|random]
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { loadGguf, trainArm, type LoadedModel, type PreferencePair, type TrainableModel } from "../src/gpu-runner/engine/index.ts";
import { randomTinyWeights, tinyConfig } from "../src/gpu-runner/engine/model/arm-graph-reference.ts";
import { mulberry32 } from "../src/gpu-runner/engine/onnx/index.ts";
import { benchExecutionProvider } from "./execution-provider.ts";

type Workload = "stories" | "random";
type Variant = "default" | "inputs" | "generic";
const VARIANTS: readonly Variant[] = ["default", "inputs", "generic"];

interface ChildResult {
  readonly workload: Workload;
  readonly variant: Variant;
  readonly threads: number;
  readonly tokensPerSecond: number;
  readonly msPerUpdate: number;
  readonly firstUpdateMs: number;
  readonly peakRssMiB: number;
  readonly pairsPerUpdate: number;
  readonly seqLen: number;
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Ids as space-separated decimal text, so a trivial tokenizer reproduces them exactly. */
const idTokenizer = (bosId: number, eosId: number) => ({
  bosId,
  eosId,
  encode: (text: string) => text.split(" ").filter((t) => t.length > 0).map(Number),
});

function syntheticPairs(count: number, vocab: number, promptLen: number, responseLen: number, seed: number): PreferencePair[] {
  const random = mulberry32(seed);
  const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(random() * (vocab - 3))).join(" ");
  return Array.from({ length: count }, (_, i) => ({
    prompt: ids(promptLen),
    responses: [` ${ids(responseLen)}`, ` ${ids(responseLen)}`] as [string, string],
    preferred: i % 2 === 0 ? [0, 1] : [1, null],
  }));
}

async function child(workload: Workload, variant: Variant, threads: number, updates: number): Promise<ChildResult> {
  const T = 128;
  let model: TrainableModel;
  let pairsPerUpdate: number;
  if (workload === "stories") {
    const loaded: LoadedModel = await loadGguf(fileURLToPath(new URL("../../shared/data/tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", import.meta.url)));
    model = { ...loaded, tokenizer: idTokenizer(loaded.config.bosId, loaded.config.eosId) };
    pairsPerUpdate = 8;
  } else {
    const config = tinyConfig({ vocabSize: 32000, dim: 256, nLayers: 4, nHeads: 4, nKvHeads: 4, headDim: 64, ffnDim: 768, maxSeqLen: 512 });
    model = { config, weights: randomTinyWeights(config, mulberry32(1)), tokenizer: idTokenizer(config.bosId, config.eosId), source: { sha256: "0".repeat(64) } };
    pairsPerUpdate = 4;
  }
  // prompt 63 tokens after BOS, response 63 + EOS: every sequence is exactly 128 tokens.
  const pairs = syntheticPairs(pairsPerUpdate * (updates + 1), model.config.vocabSize, 63, 63, 7);
  const stamps: number[] = [];
  const tokens: number[] = [];
  const t0 = performance.now();
  const result = await trainArm({
    model,
    objectives: [{ name: "a", beta: 0.1 }, { name: "b", beta: 0.1 }],
    pairs,
    r1: 4,
    r2: 4,
    loraAlpha: 8,
    batchPairs: pairsPerUpdate,
    maxLength: T,
    maxPromptLength: 64,
    lengthBuckets: [T],
    threads,
    executionProvider: await benchExecutionProvider(),
    weightsAs: variant === "inputs" ? "inputs" : "initializers",
    fuseLogSoftmaxGather: variant !== "generic",
    evaluateBefore: false,
    onProgress: () => stamps.push(performance.now()),
  });
  for (const h of result.history) tokens.push(h.tokens);
  const steadyTokens = tokens.slice(1).reduce((s, x) => s + x, 0);
  const steadyMs = stamps[stamps.length - 1] - stamps[0];
  return {
    workload,
    variant,
    threads,
    tokensPerSecond: steadyTokens / (steadyMs / 1000),
    msPerUpdate: steadyMs / (stamps.length - 1),
    firstUpdateMs: stamps[0] - t0,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    pairsPerUpdate,
    seqLen: T,
  };
}

async function parent(): Promise<void> {
  const threads = Number(option("threads", String(Math.min(2, cpus().length))));
  const updates = Number(option("steps", "5"));
  const only = option("only", "");
  const workloads: Workload[] = only ? [only as Workload] : ["stories", "random"];
  console.log(`bench/train: ${cpus()[0]?.model ?? "cpu"} (${cpus().length} cores), onnxruntime ${await benchExecutionProvider()}, intra-op threads ${threads}, ${updates} timed updates after a warm-up update`);
  for (const workload of workloads) {
    const rows: ChildResult[] = [];
    for (const variant of VARIANTS) {
      const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child", workload, variant, String(threads), String(updates)], { encoding: "utf8", maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(`${workload}/${variant} failed: ${r.stderr}`);
      rows.push(JSON.parse(r.stdout.trim().split("\n").at(-1)!));
    }
    const base = rows[0];
    const title = workload === "stories" ? "stories260K (d=64, 5 layers, V=512)" : "random LLaMA (d=256, 4 layers, V=32000)";
    console.log(`\n${title}: ${base.pairsPerUpdate} pairs (${2 * base.pairsPerUpdate} rows) × ${base.seqLen} tokens per update`);
    console.log("  variant   tokens/s   ms/update  first update ms  peak RSS MiB   speed vs default  memory vs default");
    for (const r of rows) {
      console.log(
        `  ${r.variant.padEnd(8)} ${r.tokensPerSecond.toFixed(0).padStart(9)} ${r.msPerUpdate.toFixed(1).padStart(11)} ${r.firstUpdateMs.toFixed(0).padStart(16)} ${r.peakRssMiB.toFixed(0).padStart(13)} ` +
          `${(r.tokensPerSecond / base.tokensPerSecond).toFixed(2).padStart(17)}× ${(r.peakRssMiB / base.peakRssMiB).toFixed(2).padStart(17)}×`,
      );
    }
  }
}

if (process.argv.includes("--child")) {
  const i = process.argv.indexOf("--child");
  const [workload, variant, threads, updates] = process.argv.slice(i + 1, i + 5);
  console.log(JSON.stringify(await child(workload as Workload, variant as Variant, Number(threads), Number(updates))));
} else {
  await parent();
}
