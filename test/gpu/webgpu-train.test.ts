/**
 * @module test/gpu/webgpu-train.test — trainArm (forward + backward graph on the provider, AdamW in JavaScript) on
 * WebGPU (lavapipe: webgpu-device.ts) against the CPU provider on stories260K: PARM updates over two epochs with dropout on,
 * frozen weights as initializers (resident on the device); per-step losses and every trained adapter tensor agree
 * within float32 tolerance.
 */
import assert from "node:assert/strict";
import { trainArm, type PreferencePair, type TrainArmResult } from "../../src/gpu-runner/engine/index.ts";
import { loadGguf } from "../../src/gpu-runner/engine/model/gguf.ts";
import { mulberry32 } from "../../src/gpu-runner/engine/onnx/index.ts";
import { STORIES_GGUF_PATH } from "../runner/fixtures.ts";
import { webgpuTest } from "./webgpu-device.ts";

const loaded = await loadGguf(STORIES_GGUF_PATH);
/** Ids as space-separated decimal text (bench/train.ts's tokenizer), so the pairs are exact token ids. */
const model = { ...loaded, tokenizer: { bosId: loaded.config.bosId, eosId: loaded.config.eosId, encode: (text: string) => text.split(" ").filter(Boolean).map(Number) } };
const random = mulberry32(21);
const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(random() * (loaded.config.vocabSize - 3))).join(" ");
const pairs: PreferencePair[] = Array.from({ length: 4 }, (_, i) => ({ prompt: ids(6), responses: [` ${ids(5)}`, ` ${ids(4)}`], preferred: i % 2 === 0 ? [0, 1] : [1, 0] }));

function train(provider: "cpu" | "webgpu"): Promise<TrainArmResult> {
  return trainArm({
    model,
    objectives: [{ name: "a", beta: 0.5 }, { name: "b", beta: 0.5 }],
    pairs,
    r1: 2,
    r2: 2,
    loraAlpha: 4,
    loraDropout: 0.1,
    lr: 5e-3,
    epochs: 2,
    batchPairs: 2,
    maxLength: 16,
    maxPromptLength: 8,
    lengthBuckets: [16],
    seed: 3,
    threads: 1,
    executionProvider: provider,
    weightsAs: "initializers",
    evaluateBefore: false,
  });
}

webgpuTest("trainArm on webgpu: losses and the trained PARM adapter equal CPU within float32 tolerance", async () => {
  const cpu = await train("cpu");
  const gpu = await train("webgpu");
  assert.equal(gpu.history.length, cpu.history.length);
  assert.ok(cpu.history.length >= 2, `${cpu.history.length} updates`);
  gpu.history.forEach((h, i) => assert.ok(Math.abs(h.loss - cpu.history[i].loss) <= 1e-4 * Math.abs(cpu.history[i].loss), `step ${i}: ${h.loss} vs ${cpu.history[i].loss}`));
  const [a, b] = [cpu.adapters[0].tensors, gpu.adapters[0].tensors];
  let moved = 0;
  for (const [name, ref] of a) {
    const got = b.get(name)!;
    const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    ref.forEach((v, i) => assert.ok(Math.abs(got[i] - v) <= 1e-4 * scale + 1e-7, `${name}[${i}]: ${got[i]} vs ${v}`));
    if (name.endsWith("_B")) moved += ref.reduce((s, v) => s + Math.abs(v), 0);
  }
  assert.ok(moved > 0, "the updates moved B away from zero");
});
