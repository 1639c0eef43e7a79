/**
 * @module bench/decode
 * Decoding throughput, measured in one run on the same models (greedy, no EOS, so every run makes exactly the
 * same number of tokens; sessions are built before timing). Throughput is taken from the median step time over
 * `--repeats` runs (robust to load from other processes) and also reported from the best wall time:
 *   - tokens/s and time to first token of the base alone, base + PARM (k = 2, 3) and base + GenARM (k = 2, 3);
 *     ratios PARM ÷ GenARM at equal k (per-token cost: PARM runs 2 forwards, GenARM 1 + k);
 *   - one ARM's decode step with PBLoRA (α input, ranks r1 + r2) ÷ plain LoRA of rank r1 + r2;
 *   - an 11-point α sweep (k = 2, step 0.1) as one batch ÷ 11 sequential runs;
 *   - each of these on the plain-op reference graphs and on the fast path (onnxruntime's LLM kernels,
 *     decode/fast-decoder.ts), with fast ÷ reference ratios (`--paths`), peak RSS at the end;
 *   - `--model tinyllama`: a TinyLlama-1.1B-shaped model kept quantized (bench/decode-tinyllama.ts).
 *
 *   node --import @swc-node/register/esm-register bench/decode.ts [--model synthetic|stories|PATH.gguf]
 *     [--tokens 64] [--prompt-tokens 16] [--threads 2] [--repeats 2] [--dim 256 --layers 4 --vocab 8000]
 *     [--weights-as inputs|initializers] [--adapter-as inputs|initializers] [--allow-spinning]
 *
 * The synthetic model has random weights (throughput does not depend on them) and a byte-fallback vocabulary.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { createGenerator, CachedDecoder, FastDecoder, type DecodeAdapter, type DecodeModel, type GeneratorOptions } from "../src/gpu-runner/engine/decode/index.ts";
import { loadGguf, SentencePieceBpeTokenizer, type LlamaConfig } from "../src/gpu-runner/engine/model/index.ts";
import { randomTinyWeights } from "../src/gpu-runner/engine/model/arm-graph-reference.ts";
import { initAdapterTensors, pbloraSpec, type AdapterSpec } from "../src/gpu-runner/engine/model/pblora.ts";
import { mulberry32 } from "../src/gpu-runner/engine/onnx/index.ts";
import { benchExecutionProvider } from "./execution-provider.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "synthetic" },
    tokens: { type: "string", default: "64" },
    "prompt-tokens": { type: "string", default: "16" },
    threads: { type: "string", default: "2" },
    repeats: { type: "string", default: "2" },
    dim: { type: "string", default: "256" },
    layers: { type: "string", default: "4" },
    vocab: { type: "string", default: "8000" },
    "weights-as": { type: "string", default: "inputs" },
    "adapter-as": { type: "string", default: "inputs" },
    /** onnxruntime thread pools spin-wait between runs (the engine's default is off). */
    "allow-spinning": { type: "boolean", default: false },
    /** Decode paths to measure: reference (plain-op graphs), fast (LLM kernels), or both. */
    paths: { type: "string", default: "reference,fast" },
    /** Fast path: float weights as they are (none) or quantized on load (q8, q4); tinyllama: q8 or q4 blocks. */
    quant: { type: "string", default: "none" },
  },
});
if (values.model === "tinyllama") {
  const { tinyLlamaBench } = await import("./decode-tinyllama.ts");
  await tinyLlamaBench({ tokens: Number(values.tokens), threads: Number(values.threads), quant: values.quant === "q4" ? "q4" : "q8" });
  process.exit(0);
}
const tokens = Number(values.tokens);
const promptTokens = Number(values["prompt-tokens"]);
const threads = Number(values.threads);
const repeats = Number(values.repeats);
const weightsAs = values["weights-as"] === "initializers" ? "initializers" : "inputs";
const adapterAs = values["adapter-as"] === "initializers" ? "initializers" : "inputs";
const allowSpinning = values["allow-spinning"] === true;
const paths = (values.paths ?? "").split(",").filter((p): p is "reference" | "fast" => p === "reference" || p === "fast");
const weightQuantization = values.quant === "q8" ? "q8" : values.quant === "q4" ? "q4" : "none";

function syntheticModel(): DecodeModel {
  const dim = Number(values.dim);
  const vocabSize = Number(values.vocab);
  const headDim = 32;
  const config: LlamaConfig = {
    vocabSize,
    dim,
    nLayers: Number(values.layers),
    nHeads: dim / headDim,
    nKvHeads: Math.max(1, dim / headDim / 2),
    headDim,
    ffnDim: Math.round((dim * 8) / 3 / 8) * 8,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeLayout: "rotate-half",
    maxSeqLen: 1024,
    tiedEmbeddings: false,
    qkvBias: false,
    bosId: 1,
    eosId: 2,
  };
  const pieces = ["<unk>", "<s>", "</s>", ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)];
  for (let i = pieces.length; i < vocabSize; i++) pieces.push(`▁w${i}`);
  const tokenizer = new SentencePieceBpeTokenizer({
    pieces,
    scores: pieces.map((_, i) => -i),
    tokenTypes: pieces.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1)),
    bosId: 1,
    eosId: 2,
  });
  return { config, weights: randomTinyWeights(config, mulberry32(1)), tokenizer };
}

async function loadModel(): Promise<{ name: string; model: DecodeModel }> {
  if (values.model === "synthetic") {
    const model = syntheticModel();
    const c = model.config;
    return { name: `synthetic d=${c.dim} L=${c.nLayers} H=${c.nHeads}/${c.nKvHeads} F=${c.ffnDim} V=${c.vocabSize}`, model };
  }
  const path = values.model === "stories" ? fileURLToPath(new URL("../../shared/data/tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", import.meta.url)) : values.model!;
  const model = await loadGguf(path);
  return { name: path, model };
}

function randomAdapter(config: LlamaConfig, spec: AdapterSpec, seed: number): DecodeAdapter {
  const random = mulberry32(seed);
  const tensors = initAdapterTensors(config, spec, random);
  for (const [name, data] of tensors) if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * 0.1;
  return { spec, tensors };
}

interface Measured {
  /** Tokens per second from the median step time (robust to bursts of load from other processes). */
  readonly tokensPerSecond: number;
  /** Tokens per second over whole runs (prefill included), best run. */
  readonly wallTokensPerSecond: number;
  readonly ttftMs: number;
  readonly medianStepMs: number;
  readonly totalMs: number;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const { name, model } = await loadModel();
const executionProvider = await benchExecutionProvider();
const prompt = Array.from({ length: promptTokens }, (_, i) => (i === 0 ? model.config.bosId : 3 + ((i * 7919) % (model.config.vocabSize - 3))));

/** Timing of one request shape on a generator whose sessions are built first: median step time over all steps of
 *  `repeats` runs, best wall time, median time to first token. `runsPerMeasure` > 1 runs each α alone in turn. */
async function measure(options: GeneratorOptions, alphas: number[][] | undefined, runsPerMeasure = 1): Promise<Measured> {
  const generator = createGenerator({ fastDecode: false, ...options, threads, weightsAs, adapterAs, allowSpinning, executionProvider, weightQuantization });
  await generator.warm(runsPerMeasure > 1 ? 1 : (alphas?.length ?? 1), prompt.length, tokens);
  const stepMs: number[] = [];
  const ttfts: number[] = [];
  let bestWall = Infinity;
  let rowsPerStep = 1;
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    for (let i = 0; i < runsPerMeasure; i++) {
      const alpha = runsPerMeasure > 1 && alphas ? [alphas[i]] : alphas;
      rowsPerStep = alpha?.length ?? 1;
      let last = 0;
      const result = await generator.generate({ prompt: { tokenIds: prompt }, ...(alpha ? { alphas: alpha } : {}), maxNewTokens: tokens, eosTokenIds: [] }, (event) => {
        if (event.index !== 0) return;
        const now = performance.now();
        if (event.step > 0) stepMs.push(now - last);
        last = now;
      });
      ttfts.push(result.timings.timeToFirstTokenMs);
    }
    bestWall = Math.min(bestWall, performance.now() - started);
  }
  await generator.release();
  const medianStepMs = median(stepMs);
  const totalTokens = tokens * rowsPerStep * runsPerMeasure;
  return {
    tokensPerSecond: (rowsPerStep * 1000) / medianStepMs,
    wallTokensPerSecond: (totalTokens * 1000) / bestWall,
    ttftMs: median(ttfts),
    medianStepMs,
    totalMs: bestWall,
  };
}

const parm = (k: number): GeneratorOptions["arm"] => ({
  model,
  adapter: randomAdapter(model.config, pbloraSpec({ r1: 4, r2: 4, numObjectives: k, loraAlpha: 8 }), 10 + k),
});
const loraSpec: AdapterSpec = { mode: "lora", rank: 8, loraAlpha: 16, targets: ["q", "k", "v"] };
const genarm = (k: number): GeneratorOptions["arm"] => ({ genarm: Array.from({ length: k }, (_, i) => ({ model, adapter: randomAdapter(model.config, loraSpec, 20 + i) })) });
const uniform = (k: number) => [Array.from({ length: k }, () => 1 / k)];

console.log(`decode bench: ${name} on ${executionProvider}; prompt ${prompt.length} tokens, ${tokens} new tokens, ${threads} thread(s), weights as ${weightsAs}, adapters as ${adapterAs}, thread pools ${allowSpinning ? "spinning" : "not spinning"}, ${repeats} repeats`);
const rows: [string, Measured][] = [];
const record = (label: string, m: Measured) => {
  rows.push([label, m]);
  console.log(
    `${label.padEnd(36)} ${m.tokensPerSecond.toFixed(1).padStart(8)} tok/s (wall ${m.wallTokensPerSecond.toFixed(1).padStart(7)})   ` +
      `TTFT ${m.ttftMs.toFixed(1).padStart(7)} ms   step ${m.medianStepMs.toFixed(2).padStart(7)} ms`,
  );
};
// One untimed pass first: the first measured configuration otherwise pays the process's warm-up (allocator,
// CPU caches), which made PARM k = 2 look slower than PARM k = 3.
await measure({ base: model, arm: parm(2) }, uniform(2));
const baseOnly = await measure({ base: model }, undefined);
record("base alone", baseOnly);
const results = new Map<string, Measured>();
for (const k of [2, 3]) {
  const p = await measure({ base: model, arm: parm(k) }, uniform(k));
  record(`base + PARM (k=${k}, r1=r2=4)`, p);
  const g = await measure({ base: model, arm: genarm(k) }, uniform(k));
  record(`base + GenARM (k=${k}, LoRA r=8)`, g);
  results.set(`parm${k}`, p);
  results.set(`genarm${k}`, g);
}

// One ARM alone: PBLoRA (α input) vs plain LoRA of the same total rank, prefill + `tokens` steps at batch 1,
// the two measured in alternation; median step time.
const armVariants = [
  { decoder: new CachedDecoder(model, randomAdapter(model.config, pbloraSpec({ r1: 4, r2: 4, numObjectives: 2, loraAlpha: 8 }), 31), { threads, weightsAs, adapterAs, allowSpinning, executionProvider }), alpha: [[0.5, 0.5]], steps: [] as number[] },
  { decoder: new CachedDecoder(model, randomAdapter(model.config, loraSpec, 32), { threads, weightsAs, adapterAs, allowSpinning, executionProvider }), alpha: undefined, steps: [] as number[] },
];
for (const v of armVariants) await v.decoder.warm(1, prompt.length, prompt.length + tokens);
for (let r = 0; r < repeats; r++) {
  for (const v of armVariants) {
    const { cache } = await v.decoder.prefill([prompt], v.alpha);
    for (let s = 0; s < tokens; s++) {
      const t = performance.now();
      await v.decoder.step(cache, [3 + s], v.alpha);
      v.steps.push(performance.now() - t);
    }
  }
}
for (const v of armVariants) await v.decoder.release();
const pbloraMs = median(armVariants[0].steps);
const loraMs = median(armVariants[1].steps);
console.log(`ARM step alone: PBLoRA r1=r2=4 (α input) ${pbloraMs.toFixed(3)} ms, plain LoRA r=8 ${loraMs.toFixed(3)} ms (medians)`);

const sweep = Array.from({ length: 11 }, (_, i) => [i / 10, 1 - i / 10]);
const batched = await measure({ base: model, arm: parm(2) }, sweep);
record("PARM 11-α sweep, one batch", batched);
const sequential = await measure({ base: model, arm: parm(2) }, sweep, 11);
record("PARM 11-α sweep, 11 sequential runs", sequential);

// The same measurements on the fast path (one session per model, KV buffers fed in place).
const fastRows = new Map<string, Measured>();
const fastArmMs: number[] = [];
if (paths.includes("fast")) {
  const fast = { fastDecode: true } as const;
  await measure({ ...fast, base: model, arm: parm(2) }, uniform(2));
  for (const [key, options, alphas, runs] of [
    ["base", { ...fast, base: model }, undefined, 1],
    ["parm2", { ...fast, base: model, arm: parm(2) }, uniform(2), 1],
    ["genarm2", { ...fast, base: model, arm: genarm(2) }, uniform(2), 1],
    ["sweep", { ...fast, base: model, arm: parm(2) }, sweep, 1],
    ["sequential", { ...fast, base: model, arm: parm(2) }, sweep, 11],
  ] as const) {
    const m = await measure(options, alphas as number[][] | undefined, runs);
    fastRows.set(key, m);
    record(`fast: ${key}`, m);
  }
  const fastArms = [
    { decoder: new FastDecoder(model, randomAdapter(model.config, pbloraSpec({ r1: 4, r2: 4, numObjectives: 2, loraAlpha: 8 }), 31), { threads, allowSpinning, executionProvider, weightQuantization }), alpha: [[0.5, 0.5]], steps: [] as number[] },
    { decoder: new FastDecoder(model, randomAdapter(model.config, loraSpec, 32), { threads, allowSpinning, executionProvider, weightQuantization }), alpha: undefined, steps: [] as number[] },
  ];
  for (let r = 0; r < repeats; r++) {
    for (const v of fastArms) {
      const { cache } = await v.decoder.prefill([prompt], v.alpha);
      for (let s = 0; s < tokens; s++) {
        const t = performance.now();
        await v.decoder.step(cache, [3 + s], v.alpha);
        v.steps.push(performance.now() - t);
      }
    }
  }
  for (const v of fastArms) {
    fastArmMs.push(median(v.steps));
    await v.decoder.release();
  }
  console.log(`fast ARM step alone: PBLoRA r1=r2=4 (α input) ${fastArmMs[0].toFixed(3)} ms, plain LoRA r=8 ${fastArmMs[1].toFixed(3)} ms (medians)`);
}

console.log("\nratios (same run, same model):");
for (const k of [2, 3]) {
  const p = results.get(`parm${k}`)!;
  const g = results.get(`genarm${k}`)!;
  console.log(`  PARM ÷ GenARM tokens/s, k=${k}:             ${(p.tokensPerSecond / g.tokensPerSecond).toFixed(2)}×`);
}
console.log(`  base + PARM ÷ base alone tokens/s (k=2):   ${(results.get("parm2")!.tokensPerSecond / baseOnly.tokensPerSecond).toFixed(2)}×`);
console.log(`  PBLoRA-with-α ÷ plain LoRA step time:      ${(pbloraMs / loraMs).toFixed(2)}× (same total rank 8)`);
if (fastRows.size > 0) {
  const f = (k: string) => fastRows.get(k)!.tokensPerSecond;
  console.log(`  fast ÷ reference tokens/s, base alone:     ${(f("base") / baseOnly.tokensPerSecond).toFixed(2)}×`);
  console.log(`  fast ÷ reference tokens/s, base + PARM k=2: ${(f("parm2") / results.get("parm2")!.tokensPerSecond).toFixed(2)}×`);
  console.log(`  fast ÷ reference tokens/s, base + GenARM k=2: ${(f("genarm2") / results.get("genarm2")!.tokensPerSecond).toFixed(2)}×`);
  console.log(`  fast: base + PARM ÷ base alone (k=2):      ${(f("parm2") / f("base")).toFixed(2)}×`);
  console.log(`  fast: PBLoRA-with-α ÷ plain LoRA step:     ${(fastArmMs[0] / fastArmMs[1]).toFixed(2)}×`);
  console.log(`  fast: 11-α batch ÷ 11 sequential tokens/s: ${(fastRows.get("sweep")!.wallTokensPerSecond / fastRows.get("sequential")!.wallTokensPerSecond).toFixed(2)}×`);
}
console.log(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
console.log(`  11-α sweep batched ÷ sequential tokens/s:  ${(batched.tokensPerSecond / sequential.tokensPerSecond).toFixed(2)}× by step time, ${(batched.wallTokensPerSecond / sequential.wallTokensPerSecond).toFixed(2)}× by wall time (${batched.totalMs.toFixed(0)} vs ${sequential.totalMs.toFixed(0)} ms)`);
console.log(`  time to first token: base ${baseOnly.ttftMs.toFixed(1)} ms, PARM ${results.get("parm2")!.ttftMs.toFixed(1)} ms, GenARM k=2 ${results.get("genarm2")!.ttftMs.toFixed(1)} ms, k=3 ${results.get("genarm3")!.ttftMs.toFixed(1)} ms`);
