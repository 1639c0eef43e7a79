/**
 * @module test/gpu/webgpu-engine.test — the engine on onnxruntime's WebGPU provider (lavapipe: webgpu-device.ts)
 * against the CPU provider on the real stories260K model: greedy generation token for token (unguided, PARM with
 * an α-batch of 3, GenARM with 2 ARMs), a PARM train step's loss and adapter gradients within float32 tolerance,
 * and where onnxruntime places the nodes of the decode and train graphs.
 */
import assert from "node:assert/strict";
import { nodePlacement } from "../../src/gpu-runner/device/index.ts";
import { createGenerator, type DecodeAdapter, type GenerateRequest, type GeneratorOptions } from "../../src/gpu-runner/engine/decode/index.ts";
import { adapterFeeds, armTrainBatchFeeds, buildArmTrainGraph, dropoutMaskFeeds, IGNORE_LABEL, type ArmRow } from "../../src/gpu-runner/engine/model/arm-graph.ts";
import { loadGguf } from "../../src/gpu-runner/engine/model/gguf.ts";
import { buildDecodeStepGraph, buildPrefillGraph } from "../../src/gpu-runner/engine/model/llama-graph.ts";
import { initAdapterTensors, pbloraSpec, type AdapterSpec } from "../../src/gpu-runner/engine/model/pblora.ts";
import { mulberry32, type HostTensor } from "../../src/gpu-runner/engine/onnx/index.ts";
import { createEngineSession } from "../../src/gpu-runner/engine/session/index.ts";
import { STORIES_GGUF_PATH } from "../runner/fixtures.ts";
import { webgpuTest } from "./webgpu-device.ts";

const model = await loadGguf(STORIES_GGUF_PATH);
const { config } = model;

/** Adapter tensors with non-zero B (so the ARM differs from the base) and a strong W2 (so α steers). */
function randomAdapter(spec: AdapterSpec, seed: number, scale = 1): DecodeAdapter {
  const random = mulberry32(seed);
  const tensors = initAdapterTensors(config, spec, random);
  for (const [name, data] of tensors) {
    if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = scale * (2 * random() - 1);
    if (name.endsWith("_W2")) for (let i = 0; i < data.length; i++) data[i] *= 8;
  }
  return { spec, tensors };
}

const parm = randomAdapter(pbloraSpec({ r1: 2, r2: 2, numObjectives: 2, loraAlpha: 4 }), 7);
const lora: AdapterSpec = { mode: "lora", rank: 4, loraAlpha: 8, targets: ["q", "k", "v"] };
const genarm = [randomAdapter(lora, 8), randomAdapter(lora, 9)];

async function greedy(provider: "cpu" | "webgpu", arm: GeneratorOptions["arm"], request: Omit<GenerateRequest, "maxNewTokens">): Promise<(readonly number[])[]> {
  const generator = createGenerator({ base: model, ...(arm ? { arm } : {}), threads: 1, executionProvider: provider });
  try {
    const result = await generator.generate({ ...request, maxNewTokens: 12 });
    return result.outputs.map((o) => o.tokenIds);
  } finally {
    await generator.release();
  }
}

const alphas = [[1, 0], [0.5, 0.5], [0, 1]];
const cases: { name: string; arm: GeneratorOptions["arm"]; request: Omit<GenerateRequest, "maxNewTokens"> }[] = [
  { name: "unguided", arm: undefined, request: { prompt: "Once upon a time" } },
  { name: "PARM, α-batch of 3", arm: { model, adapter: parm }, request: { prompt: "Once upon a time", alphas, beta: 1 } },
  { name: "GenARM, 2 ARMs", arm: { genarm: genarm.map((adapter) => ({ model, adapter })) }, request: { prompt: "Once upon a time", alphas: [[1, 0], [0.3, 0.7]], beta: 0.5 } },
];

for (const c of cases) {
  webgpuTest(`greedy generation on webgpu equals CPU token for token: stories260K ${c.name}`, async () => {
    const cpu = await greedy("cpu", c.arm, c.request);
    const gpu = await greedy("webgpu", c.arm, c.request);
    assert.deepEqual(gpu, cpu);
    assert.ok(cpu.every((ids) => ids.length === 12));
    // The guidance must matter, or equality would only test the base model.
    if (c.arm) assert.notDeepEqual(cpu, await greedy("cpu", undefined, { prompt: c.request.prompt, alphas: c.request.alphas!.map(() => []) }));
    if (c.name.startsWith("PARM")) assert.notDeepEqual(cpu[0], cpu[2], "α steers the PARM rows");
  });
}

function row(prompt: number[], response: number[]): ArmRow {
  const ids = [...prompt, ...response, config.eosId];
  return { ids, labels: ids.map((id, t) => (t < prompt.length ? IGNORE_LABEL : id)) };
}

webgpuTest("a PARM train step on webgpu: loss and every adapter gradient equal CPU within float32 tolerance", async () => {
  const adapter = randomAdapter(pbloraSpec({ r1: 2, r2: 2, numObjectives: 2, loraAlpha: 4 }), 5, 0.3);
  const graph = buildArmTrainGraph(config, model.weights, adapter.spec, { batchPairs: 2, seqLen: 16, responseLen: 8, dtype: "float32", weightsAs: "inputs", adapterDropout: true });
  const pairs = [
    { first: row([1, 403, 407], [300, 301, 302]), second: row([1, 403, 407], [410, 290]), sign: [1, -1] },
    { first: row([1, 350], [351, 352, 353, 354]), second: row([1, 350], [280]), sign: [-1, 1] },
  ];
  const feeds = {
    ...graph.frozenFeeds,
    ...adapterFeeds(config, adapter.spec, adapter.tensors, "float32"),
    ...armTrainBatchFeeds(graph, { pairs, alpha: [0.3, 0.7], beta: [0.5, 1], padId: 0 }),
    ...dropoutMaskFeeds(graph, 0.1, mulberry32(9)),
  };
  const run = async (provider: "cpu" | "webgpu"): Promise<Record<string, HostTensor>> => {
    const session = await createEngineSession(graph, { executionProvider: provider, intraOpNumThreads: 1 });
    try {
      assert.equal(session.provider, provider);
      return await session.run(feeds);
    } finally {
      await session.release();
    }
  };
  const cpu = await run("cpu");
  const gpu = await run("webgpu");
  const loss = (t: HostTensor) => Number(t.data[0]);
  assert.ok(Math.abs(loss(gpu.loss) - loss(cpu.loss)) <= 1e-5 * Math.abs(loss(cpu.loss)), `loss ${loss(gpu.loss)} vs ${loss(cpu.loss)}`);
  assert.equal(graph.gradientNames.size, 60);
  for (const output of graph.gradientNames.values()) {
    const a = cpu[output].data as Float32Array;
    const b = gpu[output].data as Float32Array;
    const scale = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(scale > 0, `${output} is all zero on CPU`);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4 * scale, `${output}[${i}]: webgpu ${b[i]} vs cpu ${a[i]} (max |g| ${scale})`);
  }
});

webgpuTest("node placement on webgpu: the decode step entirely on the device; prefill and train keep only int64 index ops and LogSoftmax on the CPU", async () => {
  const adapter = { spec: parm.spec, placement: { as: "inputs" as const } };
  const step = await nodePlacement(buildDecodeStepGraph(config, model.weights, { batch: 3, cacheLen: 32, dtype: "float32", weightsAs: "inputs", adapter }), "webgpu");
  const prefill = await nodePlacement(buildPrefillGraph(config, model.weights, { batch: 3, seqLen: 8, positions: 1, dtype: "float32", weightsAs: "inputs", adapter }), "webgpu");
  const train = await nodePlacement(buildArmTrainGraph(config, model.weights, parm.spec, { batchPairs: 2, seqLen: 16, responseLen: 8, dtype: "float32", weightsAs: "inputs", adapterDropout: true }), "webgpu");
  assert.deepEqual(Object.keys(step), ["WebGpuExecutionProvider"], JSON.stringify(step.CPUExecutionProvider?.nodes));
  const cpuOps = (placement: typeof step) => new Set((placement.CPUExecutionProvider?.nodes ?? []).map((n) => n.split(" ")[0]));
  // int64 Unsqueeze/Expand index the label/last positions (the WebGPU provider runs int64 only where it must);
  // LogSoftmax has no WebGPU kernel (docs/operations.md).
  for (const [name, placement, allowed] of [["prefill", prefill, ["Unsqueeze", "Expand"]], ["train", train, ["Unsqueeze", "Expand", "LogSoftmax"]]] as const) {
    assert.ok(placement.WebGpuExecutionProvider.count > 100, name);
    for (const op of cpuOps(placement)) assert.ok((allowed as readonly string[]).includes(op), `${name}: unexpected CPU node ${op}: ${JSON.stringify(placement.CPUExecutionProvider)}`);
  }
  assert.ok(cpuOps(train).has("LogSoftmax"), JSON.stringify(train.CPUExecutionProvider));
});
