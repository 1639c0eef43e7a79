/**
 * @module test/gpu/webgpu-llm-kernels.test — the fast decode graph of onnxruntime's LLM kernels
 * (model/llm-decode-graph.ts: GroupQueryAttention, RotaryEmbedding, MatMulNBits, SkipSimplifiedLayerNormalization)
 * on the WebGPU provider (lavapipe: webgpu-device.ts): every node placed on WebGPU, and FastDecoder's greedy tokens on
 * stories260K equal the CPU provider's, with float and 4-bit weights.
 */
import assert from "node:assert/strict";
import { nodePlacement } from "../../src/gpu-runner/device/index.ts";
import { FastDecoder } from "../../src/gpu-runner/engine/decode/index.ts";
import { argmax } from "../../src/gpu-runner/engine/decode/sampling.ts";
import { decodeWeightsFromModel } from "../../src/gpu-runner/engine/model/decode-weights.ts";
import { loadGguf } from "../../src/gpu-runner/engine/model/gguf.ts";
import { buildLlmDecodeGraph } from "../../src/gpu-runner/engine/model/llm-decode-graph.ts";
import { STORIES_GGUF_PATH } from "../runner/fixtures.ts";
import { webgpuTest } from "./webgpu-device.ts";

const model = await loadGguf(STORIES_GGUF_PATH);

async function greedy(provider: "cpu" | "webgpu", weightQuantization: "none" | "q4"): Promise<number[]> {
  const decoder = new FastDecoder(model, undefined, { threads: 1, executionProvider: provider, weightQuantization });
  try {
    const { logits, cache } = await decoder.prefill([model.tokenizer.encode("Once upon a time")]);
    const ids = [argmax(logits.data.subarray(0, logits.vocab) as Float32Array)];
    while (ids.length < 6) {
      const next = await decoder.step(cache, [ids.at(-1)!]);
      ids.push(argmax(next.data.subarray(0, next.vocab) as Float32Array));
    }
    return ids;
  } finally {
    await decoder.release();
  }
}

for (const quantization of ["none", "q4"] as const) {
  webgpuTest(`the LLM-kernel decode graph on webgpu (weights ${quantization}): every node on WebGPU, greedy tokens equal CPU`, async () => {
    const placement = await nodePlacement(buildLlmDecodeGraph(model.config, decodeWeightsFromModel(model.config, model.weights, quantization)), "webgpu");
    assert.deepEqual(Object.keys(placement), ["WebGpuExecutionProvider"], JSON.stringify(placement.CPUExecutionProvider));
    assert.deepEqual(await greedy("webgpu", quantization), await greedy("cpu", quantization));
  });
}
