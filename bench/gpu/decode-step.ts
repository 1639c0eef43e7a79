/**
 * @module bench/gpu/decode-step
 * Guided decoding throughput on a synthetic model (bench/gpu/synthetic.ts) on the provider PARM_EXECUTION_PROVIDER
 * resolves to, through the engine's generator on the fast path (onnxruntime's LLM kernels, decode/fast-decoder.ts;
 * weights `--quant none|q8|q4`, held by each model's one session: resident on a GPU). Greedy, no EOS, so every run
 * makes `--tokens` tokens per row; a warm-up run first (sessions, shader compilation). Workloads (`--workloads`):
 *   base     the base alone, batch 1
 *   parm2    base + PARM ARM (PBLoRA r1 = r2 = 4, k = 2, the base as backbone), batch 1
 *   genarm2  base + 2 GenARM ARMs (LoRA r 8), batch 1;  genarm3: 3 ARMs
 *   sweep11  PARM with 11 α (k = 2, step 0.1) in one batch (compare its tokens/s with parm2's: batched ÷ sequential)
 * Prints one JSON line per workload: { workload, provider, shape, quant, rows, tokens, tokensPerSecond (all rows),
 * ttftMs, msPerToken, weightBytesPerModel, weightBytesPerSecond (batch-1 rows: bytes of every model's weights read
 * per step × steps/s) }.
 *
 *   node bench/gpu/decode-step.ts [--shape tinyllama|small] [--quant q4] [--tokens 16] [--workloads base,parm2,…]
 */
import { parseArgs } from "node:util";
import { createGenerator, type DecodeAdapter, type DecodeModel, type GeneratorOptions } from "../../src/gpu-runner/engine/decode/index.ts";
import { decodeWeightBytes, decodeWeightsFromModel, vocabularyDigest, type LlamaConfig, type Tokenizer } from "../../src/gpu-runner/engine/model/index.ts";
import { initAdapterTensors, pbloraSpec, type AdapterSpec } from "../../src/gpu-runner/engine/model/pblora.ts";
import { mulberry32 } from "../../src/gpu-runner/engine/onnx/index.ts";
import { benchExecutionProvider } from "../execution-provider.ts";
import { shapeConfig, syntheticWeights } from "./synthetic.ts";

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "tinyllama" },
    quant: { type: "string", default: "q4" },
    tokens: { type: "string", default: "16" },
    "prompt-tokens": { type: "string", default: "16" },
    workloads: { type: "string", default: "base,parm2,genarm2,genarm3,sweep11" },
  },
});
const config = shapeConfig(values.shape!);
const quant = values.quant as "none" | "q8" | "q4";
if (!["none", "q8", "q4"].includes(quant)) throw new Error(`--quant must be none, q8 or q4, got ${JSON.stringify(values.quant)}`);
const tokens = Number(values.tokens);
const provider = await benchExecutionProvider();

/** Ids only: decoding to text is not measured. */
function idTokenizer(c: LlamaConfig): Tokenizer {
  const pieces = Array.from({ length: c.vocabSize }, (_, i) => `<${i}>`);
  return {
    kind: "sentencepiece-bpe",
    vocabSize: c.vocabSize,
    bosId: c.bosId,
    eosId: c.eosId,
    digest: vocabularyDigest(pieces),
    encode: () => [c.bosId],
    decode: () => "",
    createStreamDecoder: () => ({ push: () => "", flush: () => "" }),
    idToPiece: (id) => pieces[id],
  };
}

const weights = syntheticWeights(config);
const decodeWeights = decodeWeightsFromModel(config, weights, quant);
const weightBytesPerModel = decodeWeightBytes(decodeWeights);
const model: DecodeModel = { config, weights, decodeWeights, tokenizer: idTokenizer(config) };
const random = mulberry32(17);
function adapter(spec: AdapterSpec): DecodeAdapter {
  const tensors = initAdapterTensors(config, spec, random);
  for (const [name, data] of tensors) if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = 0.02 * (2 * random() - 1);
  return { spec, tensors };
}
const lora: AdapterSpec = { mode: "lora", rank: 8, loraAlpha: 16, targets: ["q", "v"] };
const prompt = Array.from({ length: Number(values["prompt-tokens"]) }, (_, i) => (i === 0 ? config.bosId : 3 + ((i * 7919) % (config.vocabSize - 3))));
const sweep = Array.from({ length: 11 }, (_, i) => [i / 10, 1 - i / 10]);

const workloads: Record<string, { arm?: GeneratorOptions["arm"]; alphas?: number[][]; models: number }> = {
  base: { models: 1 },
  parm2: { arm: { model, adapter: adapter(pbloraSpec({ r1: 4, r2: 4, numObjectives: 2, loraAlpha: 8 })) }, alphas: [[0.5, 0.5]], models: 2 },
  genarm2: { arm: { genarm: [0, 1].map(() => ({ model, adapter: adapter(lora) })) }, alphas: [[0.5, 0.5]], models: 3 },
  genarm3: { arm: { genarm: [0, 1, 2].map(() => ({ model, adapter: adapter(lora) })) }, alphas: [[1 / 3, 1 / 3, 1 / 3]], models: 4 },
  sweep11: { arm: { model, adapter: adapter(pbloraSpec({ r1: 4, r2: 4, numObjectives: 2, loraAlpha: 8 })) }, alphas: sweep, models: 2 },
};

for (const name of values.workloads!.split(",")) {
  const w = workloads[name];
  if (!w) throw new Error(`unknown workload ${JSON.stringify(name)}; workloads are ${Object.keys(workloads).join(", ")}`);
  const generator = createGenerator({ base: model, ...(w.arm ? { arm: w.arm } : {}), fastDecode: true, executionProvider: provider });
  try {
    const request = { prompt: { tokenIds: prompt }, ...(w.alphas ? { alphas: w.alphas } : {}), beta: 1, maxNewTokens: tokens, eosTokenIds: [] };
    await generator.generate({ ...request, maxNewTokens: 2 });
    const { timings } = await generator.generate(request);
    const rows = w.alphas?.length ?? 1;
    const stepsPerSecond = timings.msPerToken ? 1000 / timings.msPerToken : 0;
    console.log(
      JSON.stringify({
        workload: name,
        provider,
        shape: values.shape,
        quant,
        rows,
        tokens,
        tokensPerSecond: timings.tokensPerSecond,
        ttftMs: timings.timeToFirstTokenMs,
        msPerToken: timings.msPerToken,
        weightBytesPerModel,
        weightBytesPerSecond: rows === 1 ? weightBytesPerModel * w.models * stepsPerSecond : null,
      }),
    );
  } finally {
    await generator.release();
  }
}
