/**
 * @module test/gpu/webgpu-device-step.test — decoding steps whose KV caches and logits stay on the WebGPU device
 * (lavapipe: webgpu-device.ts): the base's and the PARM ARM's step sessions keep `logits` and their new keys/values
 * as GPU buffers (`deviceOutputs`, `runKeeping`), each model's DeviceKvCache writes them into its device caches
 * (decode/device-kv-cache.ts), the guidance graph (decode/guidance-graph.ts) takes both logits on the device, and
 * only the chosen token id crosses to the host. Greedy PARM decoding this way equals the engine's CPU generator
 * token for token on stories260K; the guidance graph alone equals its CPU run, every node (TopK too) on WebGPU.
 */
import assert from "node:assert/strict";
import { nodePlacement } from "../../src/gpu-runner/device/index.ts";
import { adapterTensorFeeds, createGenerator, KvCache } from "../../src/gpu-runner/engine/decode/index.ts";
import { buildGuidanceGraph, GUIDANCE_GRAPH } from "../../src/gpu-runner/engine/decode/guidance-graph.ts";
import { buildCacheUpdateGraph, DeviceKvCache, newKvNames } from "../../src/gpu-runner/engine/decode/device-kv-cache.ts";
import { loadGguf } from "../../src/gpu-runner/engine/model/gguf.ts";
import { buildDecodeStepGraph, buildPrefillGraph } from "../../src/gpu-runner/engine/model/llama-graph.ts";
import { initAdapterTensors, pbloraSpec } from "../../src/gpu-runner/engine/model/pblora.ts";
import { mulberry32 } from "../../src/gpu-runner/engine/onnx/index.ts";
import { createEngineSession, type DeviceTensor, type HostTensor } from "../../src/gpu-runner/engine/session/index.ts";
import { STORIES_GGUF_PATH } from "../runner/fixtures.ts";
import { webgpuTest } from "./webgpu-device.ts";

const model = await loadGguf(STORIES_GGUF_PATH);
const { config } = model;
const V = config.vocabSize;
const spec = pbloraSpec({ r1: 2, r2: 2, numObjectives: 2, loraAlpha: 4 });
const random = mulberry32(7);
const tensors = initAdapterTensors(config, spec, random);
for (const [name, data] of tensors) {
  if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = 2 * random() - 1;
  if (name.endsWith("_W2")) for (let i = 0; i < data.length; i++) data[i] *= 8;
}
const adapter = { spec, tensors };
const alpha: HostTensor = { dtype: "float32", shape: [1, 2], data: Float32Array.of(0.2, 0.8) };
const beta = 1;
const NEW_TOKENS = 8;

webgpuTest("greedy PARM decoding with KV caches and logits kept on the WebGPU device, selected by the guidance graph, equals the CPU generator", async () => {
  const prompt = model.tokenizer.encode("Once upon a time");
  const cpu = createGenerator({ base: model, arm: { model, adapter }, threads: 1, executionProvider: "cpu" });
  const expected = (await cpu.generate({ prompt: { tokenIds: prompt }, alphas: [[0.2, 0.8]], beta, maxNewTokens: NEW_TOKENS })).outputs[0].tokenIds;
  await cpu.release();

  const placement = { spec, placement: { as: "inputs" as const } };
  const models = [
    { adapter: undefined, feeds: {} as Record<string, HostTensor> },
    { adapter: placement, feeds: { ...adapterTensorFeeds(config, adapter, "float32"), alpha } as Record<string, HostTensor> },
  ];
  const sessions = await Promise.all(
    models.map(async (m) => {
      const prefillGraph = buildPrefillGraph(config, model.weights, { batch: 1, seqLen: 8, positions: 1, dtype: "float32", weightsAs: "inputs", adapter: m.adapter });
      const stepGraph = buildDecodeStepGraph(config, model.weights, { batch: 1, cacheLen: 32, dtype: "float32", weightsAs: "inputs", adapter: m.adapter });
      return {
        prefillGraph,
        stepGraph,
        prefill: await createEngineSession(prefillGraph, { executionProvider: "webgpu" }),
        step: await createEngineSession(stepGraph, { executionProvider: "webgpu", deviceOutputs: ["logits", ...newKvNames(config)] }),
      };
    }),
  );
  const select = await createEngineSession(buildGuidanceGraph({ batch: 1, vocab: V, guides: 1, topK: 1 }), { executionProvider: "webgpu" });
  const weights: HostTensor = { dtype: "float32", shape: [1, 1], data: Float32Array.of(1 / beta) };
  const choose = async (baseLogits: HostTensor | DeviceTensor, armLogits: HostTensor | DeviceTensor): Promise<number> => {
    const { host } = await select.runKeeping({ [GUIDANCE_GRAPH.baseLogits]: baseLogits, [GUIDANCE_GRAPH.guideLogits(0)]: armLogits, [GUIDANCE_GRAPH.guideWeights]: weights }, [GUIDANCE_GRAPH.topIds]);
    return Number(host[GUIDANCE_GRAPH.topIds].data[0]);
  };
  const caches: DeviceKvCache[] = [];
  try {
    // Prefill on the host (its logits are [1, 1, V]; the first token is chosen from host feeds).
    const ids = new BigInt64Array(8);
    prompt.forEach((id, t) => (ids[t] = BigInt(id)));
    const first: HostTensor[] = [];
    for (const [i, s] of sessions.entries()) {
      const out = await s.prefill.run({ ...s.prefillGraph.frozenFeeds, ...models[i].feeds, input_ids: { dtype: "int64", shape: [1, 8], data: ids }, positions: { dtype: "int64", shape: [1, 1], data: BigInt64Array.of(BigInt(prompt.length - 1)) } });
      caches.push(await DeviceKvCache.fromHost(config, KvCache.fromPrefill(config, out, [prompt.length], 32, "float32"), [prompt.length], "webgpu"));
      first.push({ dtype: "float32", shape: [1, V], data: out.logits.data as Float32Array });
    }
    const tokens = [await choose(first[0], first[1])];
    // Steps: only input ids, cache masks and positions go to the device, only the token id comes back.
    while (tokens.length < NEW_TOKENS) {
      const logits: DeviceTensor[] = [];
      for (const [i, s] of sessions.entries()) {
        const { host, device } = await s.step.runKeeping({ ...s.stepGraph.frozenFeeds, ...models[i].feeds, ...caches[i].stepFeeds(), input_ids: { dtype: "int64", shape: [1, 1], data: BigInt64Array.of(BigInt(tokens.at(-1)!)) } });
        assert.equal(device.logits.location, "gpu-buffer");
        assert.deepEqual(Object.keys(host), [], "nothing of the step comes to the host");
        const { logits: stepLogits, ...kv } = device;
        await caches[i].append(kv);
        logits.push(stepLogits);
      }
      tokens.push(await choose(logits[0], logits[1]));
      for (const t of logits) t.dispose();
    }
    assert.deepEqual(tokens, expected);
    const update = await nodePlacement(buildCacheUpdateGraph(config, 1, 32), "webgpu");
    const cpuOps = new Set((update.CPUExecutionProvider?.nodes ?? []).map((n) => n.split(" ")[0]));
    assert.ok(!cpuOps.has("ScatterElements"), `the cache writes run on WebGPU: ${JSON.stringify(update)}`);
    await assert.rejects(sessions[0].step.run({ ...sessions[0].stepGraph.frozenFeeds, ...caches[0].stepFeeds(), input_ids: { dtype: "int64", shape: [1, 1], data: BigInt64Array.of(1n) } }), /output "logits" is on the device \(gpu-buffer\): fetch it with runKeeping/);
  } finally {
    for (const c of caches) await c.release();
    for (const s of sessions) {
      await s.prefill.release();
      await s.step.release();
    }
    await select.release();
  }
});

webgpuTest("the guidance graph on webgpu equals its CPU run (GenARM k = 2, top-4), and runs entirely on WebGPU", async () => {
  const B = 3;
  const random = mulberry32(3);
  const row = () => Float32Array.from({ length: B * V }, () => 8 * (2 * random() - 1));
  const feeds: Record<string, HostTensor> = {
    [GUIDANCE_GRAPH.baseLogits]: { dtype: "float32", shape: [B, V], data: row() },
    [GUIDANCE_GRAPH.guideLogits(0)]: { dtype: "float32", shape: [B, V], data: row() },
    [GUIDANCE_GRAPH.guideLogits(1)]: { dtype: "float32", shape: [B, V], data: row() },
    [GUIDANCE_GRAPH.guideWeights]: { dtype: "float32", shape: [B, 2], data: Float32Array.of(1, 0, 0.3, 0.7, 2, 2) },
  };
  const graph = buildGuidanceGraph({ batch: B, vocab: V, guides: 2, topK: 4 });
  const run = async (provider: "cpu" | "webgpu") => {
    const session = await createEngineSession(graph, { executionProvider: provider });
    try {
      return await session.run(feeds);
    } finally {
      await session.release();
    }
  };
  const [cpu, gpu] = [await run("cpu"), await run("webgpu")];
  assert.deepEqual(gpu[GUIDANCE_GRAPH.topIds].data, cpu[GUIDANCE_GRAPH.topIds].data);
  const a = cpu[GUIDANCE_GRAPH.topLogprobs].data as Float32Array;
  const b = gpu[GUIDANCE_GRAPH.topLogprobs].data as Float32Array;
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-4, `top_logprobs[${i}]: ${b[i]} vs ${v}`));
  const placed = await nodePlacement(graph, "webgpu");
  assert.deepEqual(Object.keys(placed), ["WebGpuExecutionProvider"], JSON.stringify(placed.CPUExecutionProvider));
  assert.ok(placed.WebGpuExecutionProvider.count >= 15, JSON.stringify(placed));
});
