import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadGguf, parseGguf, parseGgufHeader, ggufToModel, GgufError, type GgufValue } from "./gguf.ts";
import { writeGguf, roundTripGgml, type GgufTensorInput, type GgufTypedValue } from "./gguf-writer.ts";
import { sentencePieceFromGgufJson } from "./tokenizer-llama.ts";
import { ModelWeightsError } from "../util/loaded-model.ts";
import { EngineError } from "../util/errors.ts";

const dataDir = new URL("../../../../../shared/data/tinyllamas-stories260k/", import.meta.url);
const modelPath = fileURLToPath(new URL("tinyllamas-stories-260k-f32.gguf", dataDir));
const tokJson = JSON.parse(readFileSync(new URL("tok512.tokenizer.json", dataDir), "utf8"));
const modelBytes = new Uint8Array(readFileSync(modelPath));
const shipped = await loadGguf(modelPath);

const isCode = (code: string) => (e: unknown) => e instanceof GgufError && e.code === code;

test("loads the shipped GGUF v1 model", () => {
  const model = shipped;
  assert.deepEqual(
    { ...model.config, normEps: Math.round(model.config.normEps * 1e9) / 1e9 },
    {
      vocabSize: 512, dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, headDim: 8, ffnDim: 172, normEps: 1e-5,
      ropeTheta: 10000, ropeLayout: "interleaved", maxSeqLen: 512, tiedEmbeddings: true, qkvBias: false, bosId: 1, eosId: 2,
    },
  );
  assert.equal(model.source.format, "gguf");
  assert.equal(model.source.sha256, "c14806920629b6c217445c69d7ac61bd0e4047289f8ab824c3f0b4f827a5d1cb");
  assert.equal(model.weights.has("output"), false);
  assert.deepEqual(model.weights.get("layers.0.wk")?.shape, [32, 64]);
  assert.deepEqual(model.weights.get("layers.4.w_down")?.shape, [64, 172]);
  assert.deepEqual(model.weights.get("tok_embeddings")?.shape, [512, 64]);
  // 260,032 unique values (README): everything but the duplicated output.weight.
  let total = 0;
  for (const t of model.weights.values()) total += t.data.length;
  assert.equal(total, 260_032);
  assert.equal(model.tokenizer.digest, sentencePieceFromGgufJson(tokJson).digest);
  assert.deepEqual(model.tokenizer.encode("Once upon a time"), [1, 403, 407, 261, 378]);
});

test("v1 layout: header size, data offset and row-major (out, in) reading", () => {
  const file = parseGguf(modelBytes);
  assert.equal(file.version, 1);
  assert.equal(file.tensors.length, 48);
  assert.equal(file.metadata.size, 18);
  assert.equal(file.dataOffset, 11456);
  const last = file.tensors.at(-1)!;
  assert.equal(file.dataOffset + last.offset + last.byteLength, modelBytes.byteLength);
  const wq = file.tensors.find((t) => t.name === "blk.0.attn_k.weight")!;
  assert.deepEqual(wq.dims, [64, 32]);
  // Element (row 3, col 5) of the (out=32, in=64) matrix is at 3*64+5 in ggml order.
  const raw = file.tensorBytes(wq);
  const view = new DataView(raw.buffer, raw.byteOffset);
  assert.equal(view.getFloat32((3 * 64 + 5) * 4, true), new Float32Array(raw.slice().buffer)[3 * 64 + 5]);
});

/** Rebuilds a GGUF from canonical weights so every version, type and alignment can be exercised. */
async function shippedModelAsInput(): Promise<{ metadata: [string, GgufTypedValue][]; tensors: GgufTensorInput[] }> {
  const model = shipped;
  const c = model.config;
  const metadata: [string, GgufTypedValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: "rewritten" }],
    ["llama.context_length", { type: "u32", value: c.maxSeqLen }],
    ["llama.embedding_length", { type: "u32", value: c.dim }],
    ["llama.block_count", { type: "u32", value: c.nLayers }],
    ["llama.feed_forward_length", { type: "u64", value: BigInt(c.ffnDim) }],
    ["llama.attention.head_count", { type: "u32", value: c.nHeads }],
    ["llama.attention.head_count_kv", { type: "i32", value: c.nKvHeads }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: c.normEps }],
    ["llama.rope.freq_base", { type: "f32", value: 500000 }],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "array", elementType: "string", value: tokJson.tokens }],
    ["tokenizer.ggml.scores", { type: "array", elementType: "f32", value: tokJson.scores }],
    ["tokenizer.ggml.token_type", { type: "array", elementType: "i32", value: tokJson.token_type }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: 1 }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: 2 }],
  ];
  const names: Record<string, string> = {
    tok_embeddings: "token_embd.weight", norm: "output_norm.weight", attn_norm: "attn_norm.weight", wq: "attn_q.weight",
    wk: "attn_k.weight", wv: "attn_v.weight", wo: "attn_output.weight", ffn_norm: "ffn_norm.weight",
    w_gate: "ffn_gate.weight", w_up: "ffn_up.weight", w_down: "ffn_down.weight",
  };
  const tensors: GgufTensorInput[] = [];
  for (const [name, t] of model.weights) {
    const m = /^layers\.(\d+)\.(.+)$/.exec(name);
    const ggufName = m ? `blk.${m[1]}.${names[m[2]]}` : names[name];
    tensors.push({ name: ggufName, shape: t.shape, data: t.data, type: "F32" });
  }
  return { metadata, tensors };
}

test("v2 and v3 with F16 tensors, custom alignment and an untied output", async () => {
  const base = await shippedModelAsInput();
  const original = shipped;
  const output = new Float32Array(512 * 64).map((_, i) => Math.sin(i) * 0.1);
  const tensors: GgufTensorInput[] = [
    ...base.tensors.map((t) => ({ ...t, type: "F16" as const })),
    { name: "output.weight", shape: [512, 64], data: output, type: "F16" },
  ];
  for (const version of [2, 3] as const) {
    for (const alignment of [32, 64]) {
      const bytes = writeGguf({ version, metadata: base.metadata, tensors, alignment });
      const file = parseGguf(bytes);
      assert.equal(file.version, version);
      assert.equal(file.alignment, alignment);
      assert.equal(file.dataOffset % alignment, 0);
      const model = await ggufToModel(file, (info) => file.tensorBytes(info));
      assert.equal(model.config.tiedEmbeddings, false);
      assert.equal(model.config.ropeTheta, 500000);
      assert.deepEqual(model.weights.get("output")?.data, roundTripGgml("F16", output));
      const wq = model.weights.get("layers.2.wq")!;
      assert.deepEqual(wq.data, roundTripGgml("F16", original.weights.get("layers.2.wq")!.data));
      // F16 rounding really happened (values differ from f32), but stays within half-precision error.
      const f32 = original.weights.get("layers.2.wq")!.data;
      let maxErr = 0;
      for (let i = 0; i < f32.length; i++) maxErr = Math.max(maxErr, Math.abs(f32[i] - wq.data[i]) / Math.max(Math.abs(f32[i]), 1e-3));
      assert.ok(maxErr > 0 && maxErr < 1e-3, `relative f16 error ${maxErr}`);
    }
  }
});

test("v1 written by the writer loads bit-exactly from a file", async () => {
  const base = await shippedModelAsInput();
  const dir = mkdtempSync(join(tmpdir(), "gguf-test-"));
  try {
    const path = join(dir, "m.gguf");
    writeFileSync(path, writeGguf({ version: 1, metadata: base.metadata, tensors: base.tensors }));
    const model = await loadGguf(path);
    const original = shipped;
    for (const [name, t] of original.weights) assert.deepEqual(model.weights.get(name)?.data, t.data, name);
    assert.equal(model.config.tiedEmbeddings, true);
    const truncatedPath = join(dir, "truncated.gguf");
    writeFileSync(truncatedPath, modelBytes.subarray(0, 5000));
    await assert.rejects(loadGguf(truncatedPath), isCode("TRUNCATED"));
    writeFileSync(truncatedPath, modelBytes.subarray(0, modelBytes.byteLength - 100));
    await assert.rejects(loadGguf(truncatedPath), isCode("TENSOR_OUT_OF_BOUNDS"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("BF16 and Q8_0 tensors decode", () => {
  const data = new Float32Array(64).map((_, i) => (i - 31.5) / 7);
  for (const type of ["BF16", "Q8_0"] as const) {
    const bytes = writeGguf({ version: 3, metadata: [], tensors: [{ name: "x", shape: [2, 32], data, type }] });
    const file = parseGguf(bytes);
    const info = file.tensors[0];
    assert.equal(info.byteLength, type === "BF16" ? 128 : 68);
  }
  const q8 = parseGguf(writeGguf({ version: 3, metadata: [], tensors: [{ name: "x", shape: [2, 32], data, type: "Q8_0" }] }));
  const raw = q8.tensorBytes(q8.tensors[0]);
  // hand check of the first block: scale = max|x|/127 stored as f16, quant of the first value is -127.
  assert.equal(new DataView(raw.buffer, raw.byteOffset).getInt8(2), -127);
});

test("every metadata value type round-trips in v1, v2 and v3", () => {
  const metadata: [string, GgufTypedValue][] = [
    ["a.u8", { type: "u8", value: 250 }], ["a.i8", { type: "i8", value: -100 }],
    ["a.u16", { type: "u16", value: 65000 }], ["a.i16", { type: "i16", value: -30000 }],
    ["a.u32", { type: "u32", value: 4_000_000_000 }], ["a.i32", { type: "i32", value: -2_000_000_000 }],
    ["a.f32", { type: "f32", value: 0.5 }], ["a.bool", { type: "bool", value: true }],
    ["a.string", { type: "string", value: "héllo ▁" }], ["a.u64", { type: "u64", value: 2n ** 60n }],
    ["a.i64", { type: "i64", value: -(2n ** 62n) }], ["a.f64", { type: "f64", value: Math.PI }],
    ["a.array", { type: "array", elementType: "string", value: ["x", "", "zz"] }],
    ["a.farray", { type: "array", elementType: "f64", value: [1.25, -2] }],
  ];
  const expected: Record<string, GgufValue> = {
    "a.u8": 250, "a.i8": -100, "a.u16": 65000, "a.i16": -30000, "a.u32": 4_000_000_000, "a.i32": -2_000_000_000,
    "a.f32": 0.5, "a.bool": true, "a.string": "héllo ▁", "a.u64": 2n ** 60n, "a.i64": -(2n ** 62n), "a.f64": Math.PI,
    "a.array": ["x", "", "zz"], "a.farray": [1.25, -2],
  };
  for (const version of [1, 2, 3] as const) {
    const header = parseGgufHeader(writeGguf({ version, metadata, tensors: [] }));
    assert.deepEqual(Object.fromEntries(header.metadata), expected);
  }
});

test("bad input is rejected with typed errors naming the problem", async () => {
  const bad = modelBytes.slice();
  bad[0] = 0x58;
  assert.throws(() => parseGguf(bad), isCode("BAD_MAGIC"));
  const v9 = modelBytes.slice();
  new DataView(v9.buffer).setUint32(4, 9, true);
  assert.throws(() => parseGguf(v9), (e: unknown) => isCode("UNSUPPORTED_VERSION")(e) && /version 9/.test((e as Error).message));
  const bigEndian = modelBytes.slice();
  new DataView(bigEndian.buffer).setUint32(4, 3, false);
  assert.throws(() => parseGguf(bigEndian), /big-endian/);
  assert.throws(() => parseGguf(modelBytes.subarray(0, 5000)), isCode("TRUNCATED"));
  assert.throws(() => parseGguf(modelBytes.subarray(0, modelBytes.byteLength - 4)), (e: unknown) => isCode("TENSOR_OUT_OF_BOUNDS")(e) && /output\.weight/.test((e as Error).message));

  const q4 = writeGguf({ version: 3, metadata: [], tensors: [{ name: "w", shape: [32], data: new Float32Array(32), type: "F32" }] });
  // v3 header (4+4+8+8) + name (8+1) + n_dims (4) + ne0 (8) = 45: the tensor's type; patch it to Q4_K (12).
  new DataView(q4.buffer).setUint32(45, 12, true);
  assert.throws(() => parseGguf(q4), (e: unknown) => isCode("UNSUPPORTED_TENSOR_TYPE")(e) && /Q4_K/.test((e as Error).message));

  const base = await shippedModelAsInput();
  const extra = writeGguf({ version: 3, metadata: base.metadata, tensors: [...base.tensors, { name: "blk.0.mystery", shape: [4], data: new Float32Array(4), type: "F32" }] });
  const extraFile = parseGguf(extra);
  await assert.rejects(ggufToModel(extraFile, (i) => extraFile.tensorBytes(i)), (e: unknown) => isCode("UNKNOWN_TENSOR")(e) && /blk\.0\.mystery/.test((e as Error).message));

  const missing = writeGguf({ version: 3, metadata: base.metadata.filter(([k]) => k !== "llama.block_count"), tensors: base.tensors });
  const missingFile = parseGguf(missing);
  await assert.rejects(ggufToModel(missingFile, (i) => missingFile.tensorBytes(i)), (e: unknown) => isCode("MISSING_KEY")(e) && /llama\.block_count/.test((e as Error).message));

  const noLayer = writeGguf({ version: 3, metadata: base.metadata, tensors: base.tensors.filter((t) => t.name !== "blk.3.ffn_up.weight") });
  const noLayerFile = parseGguf(noLayer);
  await assert.rejects(ggufToModel(noLayerFile, (i) => noLayerFile.tensorBytes(i)), (e: unknown) => e instanceof ModelWeightsError && e.code === "MISSING_TENSOR" && /layers\.3\.w_up/.test(e.message));

  const qwen = writeGguf({ version: 3, metadata: base.metadata.map(([k, v]) => (k === "general.architecture" ? [k, { type: "string", value: "falcon" }] : [k, v]) as [string, GgufTypedValue]), tensors: base.tensors });
  const qwenFile = parseGguf(qwen);
  await assert.rejects(ggufToModel(qwenFile, (i) => qwenFile.tensorBytes(i)), isCode("UNSUPPORTED_ARCHITECTURE"));
});

test("fuzz: 400 single-byte corruptions of the header either parse or fail with a typed engine error", () => {
  let seed = 99;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  let failures = 0;
  for (let n = 0; n < 400; n++) {
    const bytes = modelBytes.slice();
    const at = next() % 11456;
    bytes[at] = next() & 0xff;
    try {
      parseGguf(bytes);
    } catch (error) {
      failures++;
      assert.ok(error instanceof EngineError, `byte ${at}: ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    }
  }
  assert.ok(failures > 0);
});
