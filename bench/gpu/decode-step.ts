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
 *   parm2-device  (not in the default list) parm2 on the reference graphs with float weights as initializers, both
 *            models' KV caches on the device (decode/device-kv-cache.ts) and guidance + greedy choice on the device
 *            (decode/guidance-graph.ts): per step only token ids cross (issue 15 item 2)
 * Prints one JSON line per workload: { workload, provider, shape, quant, rows, tokens, tokensPerSecond (all rows),
 * ttftMs, msPerToken, weightBytesPerModel, weightBytesPerSecond (batch-1 rows: bytes of every model's weights read
 * per step × steps/s) }.
 *
 *   node bench/gpu/decode-step.ts [--shape tinyllama|small] [--quant q4] [--tokens 16] [--workloads base,parm2,…]
 */
import { parseArgs } from "node:util";
import { adapterTensorFeeds, createGenerator, KvCache, type DecodeAdapter, type DecodeModel, type GeneratorOptions } from "../../src/gpu-runner/engine/decode/index.ts";
import { DeviceKvCache, newKvNames } from "../../src/gpu-runner/engine/decode/device-kv-cache.ts";
import { buildGuidanceGraph, GUIDANCE_GRAPH } from "../../src/gpu-runner/engine/decode/guidance-graph.ts";
import { buildDecodeStepGraph, buildPrefillGraph } from "../../src/gpu-runner/engine/model/llama-graph.ts";
import { createEngineSession, type DeviceTensor, type HostTensor } from "../../src/gpu-runner/engine/session/index.ts";
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

/** parm2-device: prefill on the device with host outputs, then steps with caches, logits and the choice on the device. */
async function parmOnDevice(): Promise<void> {
  const parm = adapter(pbloraSpec({ r1: 4, r2: 4, numObjectives: 2, loraAlpha: 8 }));
  const seqLen = 1 << Math.ceil(Math.log2(prompt.length));
  const capacity = 1 << Math.ceil(Math.log2(prompt.length + tokens + 1));
  const alpha: HostTensor = { dtype: "float32", shape: [1, 2], data: Float32Array.of(0.5, 0.5) };
  const arms = [
    { adapter: undefined, feeds: {} as Record<string, HostTensor> },
    { adapter: { spec: parm.spec, placement: { as: "inputs" as const } }, feeds: { ...adapterTensorFeeds(config, parm, "float32"), alpha } as Record<string, HostTensor> },
  ];
  const t0 = performance.now();
  const models = await Promise.all(
    arms.map(async (m) => {
      const prefillGraph = buildPrefillGraph(config, weights, { batch: 1, seqLen, positions: 1, dtype: "float32", weightsAs: "initializers", adapter: m.adapter });
      const stepGraph = buildDecodeStepGraph(config, weights, { batch: 1, cacheLen: capacity, dtype: "float32", weightsAs: "initializers", adapter: m.adapter });
      return { prefill: await createEngineSession(prefillGraph, { executionProvider: provider }), step: await createEngineSession(stepGraph, { executionProvider: provider, deviceOutputs: ["logits", ...newKvNames(config)] }), prefillGraph, stepGraph };
    }),
  );
  const select = await createEngineSession(buildGuidanceGraph({ batch: 1, vocab: config.vocabSize, guides: 1, topK: 1 }), { executionProvider: provider });
  const buildMs = performance.now() - t0;
  const weight: HostTensor = { dtype: "float32", shape: [1, 1], data: Float32Array.of(1) };
  const choose = async (base: HostTensor | DeviceTensor, arm: HostTensor | DeviceTensor) =>
    Number((await select.runKeeping({ [GUIDANCE_GRAPH.baseLogits]: base, [GUIDANCE_GRAPH.guideLogits(0)]: arm, [GUIDANCE_GRAPH.guideWeights]: weight }, [GUIDANCE_GRAPH.topIds])).host[GUIDANCE_GRAPH.topIds].data[0]);
  const once = async (count: number) => {
    const ids = new BigInt64Array(seqLen);
    prompt.forEach((id, t) => (ids[t] = BigInt(id)));
    const started = performance.now();
    const caches: DeviceKvCache[] = [];
    const first: HostTensor[] = [];
    for (const [i, m] of models.entries()) {
      const out = await m.prefill.run({ ...m.prefillGraph.frozenFeeds, ...arms[i].feeds, input_ids: { dtype: "int64", shape: [1, seqLen], data: ids }, positions: { dtype: "int64", shape: [1, 1], data: BigInt64Array.of(BigInt(prompt.length - 1)) } });
      caches.push(await DeviceKvCache.fromHost(config, KvCache.fromPrefill(config, out, [prompt.length], capacity, "float32"), [prompt.length], provider));
      first.push({ dtype: "float32", shape: [1, config.vocabSize], data: out.logits.data as Float32Array });
    }
    const out = [await choose(first[0], first[1])];
    const ttft = performance.now() - started;
    while (out.length < count) {
      const logits: DeviceTensor[] = [];
      for (const [i, m] of models.entries()) {
        const { device } = await m.step.runKeeping({ ...m.stepGraph.frozenFeeds, ...arms[i].feeds, ...caches[i].stepFeeds(), input_ids: { dtype: "int64", shape: [1, 1], data: BigInt64Array.of(BigInt(out.at(-1)!)) } });
        const { logits: l, ...kv } = device;
        await caches[i].append(kv);
        logits.push(l);
      }
      out.push(await choose(logits[0], logits[1]));
      for (const l of logits) l.dispose();
    }
    for (const c of caches) await c.release();
    const totalMs = performance.now() - started;
    return { ttft, msPerToken: count > 1 ? (totalMs - ttft) / (count - 1) : null, totalMs };
  };
  try {
    await once(2);
    const m = await once(tokens);
    const weightBytesPerModel = [...weights.values()].reduce((n, t) => n + t.data.byteLength, 0);
    console.log(JSON.stringify({ workload: "parm2-device", provider, shape: values.shape, quant: "none", rows: 1, tokens, tokensPerSecond: (tokens * 1000) / m.totalMs, ttftMs: m.ttft, msPerToken: m.msPerToken, buildMs, weightBytesPerModel, weightBytesPerSecond: m.msPerToken ? (2 * weightBytesPerModel * 1000) / m.msPerToken : null }));
  } finally {
    for (const m of models) {
      await m.prefill.release();
      await m.step.release();
    }
    await select.release();
  }
}

for (const name of values.workloads!.split(",")) {
  if (name === "parm2-device") {
    await parmOnDevice();
    continue;
  }
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
