import { test } from "node:test";
import assert from "node:assert/strict";
import type { LlamaConfig, WeightTensor } from "../model/config.ts";
import { parseSafetensors, writeSafetensors } from "../model/safetensors.ts";
import { AdapterFileError, exportAdapter, importAdapter, type AdapterFileMetadata } from "./adapter-file.ts";
import { Rng } from "./rng.ts";

const config: LlamaConfig = {
  vocabSize: 32, dim: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 4, ffnDim: 24, normEps: 1e-5, ropeTheta: 10000,
  ropeLayout: "interleaved", maxSeqLen: 64, tiedEmbeddings: true, qkvBias: false, bosId: 1, eosId: 2,
};
const digest = "ab".repeat(32);
const parm: AdapterFileMetadata = { method: "PARM", dimensions: ["harmless", "helpful"], r1: 2, r2: 3, loraAlpha: 6, scale: 2, targets: ["q", "k", "v"], baseModelDigest: digest };

function parmTensors(): Map<string, WeightTensor> {
  const rng = new Rng(3);
  const t = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()) });
  const out = new Map<string, WeightTensor>();
  for (let l = 0; l < 2; l++) {
    for (const [target, outDim] of [["q", 16], ["k", 8], ["v", 8]] as const) {
      out.set(`layers.${l}.${target}.pblora_A`, t([5, 16]));
      out.set(`layers.${l}.${target}.pblora_B`, t([outDim, 5]));
      out.set(`layers.${l}.${target}.pblora_W1`, t([2, 2]));
      out.set(`layers.${l}.${target}.pblora_W2`, t([2, 9]));
    }
  }
  return out;
}

const invalid = (code: string, pattern: RegExp) => (e: unknown) => e instanceof AdapterFileError && e.code === code && pattern.test(e.message);

test("PARM adapter export/import keeps tensors bit-exact and metadata typed", () => {
  const tensors = parmTensors();
  const bytes = exportAdapter(tensors, parm, config);
  const raw = parseSafetensors(bytes).metadata;
  assert.equal(raw.method, "PARM");
  assert.equal(raw.dimensions, '["harmless","helpful"]');
  const back = importAdapter(bytes, { baseModelDigest: digest, config, dimensions: ["harmless", "helpful"] });
  assert.deepEqual(back.metadata, parm);
  for (const [name, t] of tensors) assert.deepEqual(back.tensors.get(name), t);
});

test("GENARM (plain LoRA, one dimension) round-trips", () => {
  const meta: AdapterFileMetadata = { method: "GENARM", dimensions: ["helpful"], r1: 4, r2: 0, loraAlpha: 8, scale: 2, targets: ["v"], baseModelDigest: digest };
  const tensors = new Map<string, WeightTensor>();
  for (let l = 0; l < 2; l++) {
    tensors.set(`layers.${l}.v.lora_A`, { shape: [4, 16], data: new Float32Array(64).fill(0.25) });
    tensors.set(`layers.${l}.v.lora_B`, { shape: [8, 4], data: new Float32Array(32) });
  }
  assert.deepEqual(importAdapter(exportAdapter(tensors, meta, config), { config }).metadata, meta);
});

test("validation names the problem", () => {
  const tensors = parmTensors();
  const bytes = exportAdapter(tensors, parm);
  assert.throws(() => importAdapter(bytes, { baseModelDigest: "cd".repeat(32) }), invalid("BASE_MODEL_MISMATCH", /abab/));
  assert.throws(() => importAdapter(bytes, { dimensions: ["helpful", "harmless"] }), invalid("INVALID_METADATA", /α order/));
  assert.throws(() => exportAdapter(tensors, { ...parm, scale: 1.5 }), invalid("INVALID_METADATA", /scale 1.5/));
  assert.throws(() => exportAdapter(tensors, { ...parm, dimensions: ["a", "a"] }), invalid("INVALID_METADATA", /repeat/));
  assert.throws(() => exportAdapter(tensors, { ...parm, baseModelDigest: "xyz" }), invalid("INVALID_METADATA", /sha256/));
  assert.throws(() => exportAdapter(tensors, { ...parm, targets: ["q", "k"] }), invalid("INVALID_TENSORS", /adapts v/));
  const wrongW2 = new Map(tensors);
  wrongW2.set("layers.1.k.pblora_W2", { shape: [3, 9], data: new Float32Array(27) });
  assert.throws(() => exportAdapter(wrongW2, parm), invalid("INVALID_TENSORS", /layers\.1\.k\.pblora_W2 has shape \[3,9\], expected \[2,9\]/));
  const missing = new Map(tensors);
  missing.delete("layers.0.q.pblora_B");
  assert.throws(() => exportAdapter(missing, parm), invalid("INVALID_TENSORS", /layers\.0\.q lacks pblora_B/));
  const wrongIn = new Map(tensors);
  for (const part of ["A", "B", "W1", "W2"]) wrongIn.delete(`layers.1.q.pblora_${part}`);
  assert.throws(() => exportAdapter(wrongIn, parm, config), invalid("INVALID_TENSORS", /layers\.1\.q has no adapter tensors/));
  assert.throws(() => exportAdapter(tensors, parm, { ...config, dim: 32 }), invalid("INVALID_TENSORS", /expected \[5,32\]/));
  const nan = new Map(tensors);
  nan.set("layers.0.v.pblora_W1", { shape: [2, 2], data: new Float32Array([0, NaN, 0, 0]) });
  assert.throws(() => exportAdapter(nan, parm), invalid("INVALID_TENSORS", /NaN/));
  const foreign = writeSafetensors([["x", { shape: [1], data: new Float32Array(1) }]]);
  assert.throws(() => importAdapter(foreign), invalid("NOT_AN_ADAPTER", /parm\.format/));
  assert.throws(() => importAdapter(new Uint8Array(3)), invalid("NOT_AN_ADAPTER", /safetensors/));
});
