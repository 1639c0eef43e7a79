import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSafetensorsFile, parseSafetensors, readSafetensorsHeader, SafetensorsError, writeSafetensors } from "./safetensors.ts";

const isCode = (code: string, pattern?: RegExp) => (e: unknown) =>
  e instanceof SafetensorsError && e.code === code && (!pattern || pattern.test(e.message));

function rawFile(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

test("f32 round-trips bit-exactly with metadata, in name order", () => {
  const weird = new Float32Array([0, -0, 1.5, -3e-38, Infinity, 1e-45, NaN, 123456.789]);
  const tensors = new Map([
    ["z.last", { shape: [2, 4], data: weird }],
    ["a.first", { shape: [3], data: new Float32Array([1, 2, 3]) }],
    ["empty", { shape: [0, 5], data: new Float32Array(0) }],
  ]);
  const bytes = writeSafetensors(tensors, { metadata: { format: "pt", note: "ünïcode" } });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0);
  const parsed = parseSafetensors(bytes);
  assert.deepEqual(parsed.metadata, { format: "pt", note: "ünïcode" });
  assert.deepEqual([...parsed.tensors.keys()], ["a.first", "empty", "z.last"]);
  const back = parsed.tensors.get("z.last")!;
  assert.deepEqual(back.shape, [2, 4]);
  assert.deepEqual(new Uint32Array(back.data.buffer), new Uint32Array(weird.buffer));
  assert.deepEqual(parseSafetensors(bytes, ["a.first"]).tensors.size, 1);
});

test("F16 and BF16 decode from hand-made bytes", () => {
  const data = new Uint8Array(8);
  const view = new DataView(data.buffer);
  view.setUint16(0, 0x3c00, true); // f16 1.0
  view.setUint16(2, 0xc000, true); // f16 -2.0
  view.setUint16(4, 0x3f80, true); // bf16 1.0
  view.setUint16(6, 0x4049, true); // bf16 3.140625
  const file = rawFile({ h: { dtype: "F16", shape: [2], data_offsets: [0, 4] }, b: { dtype: "BF16", shape: [2], data_offsets: [4, 8] } }, data);
  const parsed = parseSafetensors(file);
  assert.deepEqual([...parsed.tensors.get("h")!.data], [1, -2]);
  assert.deepEqual([...parsed.tensors.get("b")!.data], [1, 3.140625]);
  const written = parseSafetensors(writeSafetensors([["x", { shape: [2], data: new Float32Array([1, 3.140625]) }]], { dtype: "BF16" }));
  assert.deepEqual([...written.tensors.get("x")!.data], [1, 3.140625]);
});

test("reads from files, selecting tensors", async () => {
  const dir = mkdtempSync(join(tmpdir(), "st-test-"));
  try {
    const path = join(dir, "m.safetensors");
    writeFileSync(path, writeSafetensors([["w", { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }], ["v", { shape: [1], data: new Float32Array([9]) }]]));
    const header = await readSafetensorsHeader(path);
    assert.deepEqual([...header.entries.keys()].sort(), ["v", "w"]);
    const loaded = await loadSafetensorsFile(path, ["w"]);
    assert.deepEqual([...loaded.tensors.keys()], ["w"]);
    assert.deepEqual([...loaded.tensors.get("w")!.data], [1, 2, 3, 4]);
    await assert.rejects(loadSafetensorsFile(path, ["nope"]), isCode("MISSING_TENSOR", /nope/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("malformed files are rejected with typed errors", () => {
  const four = new Uint8Array(16);
  assert.throws(() => parseSafetensors(new Uint8Array(4)), isCode("BAD_HEADER_LENGTH"));
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 1000n, true);
  assert.throws(() => parseSafetensors(huge), isCode("BAD_HEADER_LENGTH", /1000/));
  const notJson = new Uint8Array(12);
  new DataView(notJson.buffer).setBigUint64(0, 4n, true);
  notJson.set(new TextEncoder().encode("{{{{"), 8);
  assert.throws(() => parseSafetensors(notJson), isCode("BAD_HEADER_JSON"));
  assert.throws(() => parseSafetensors(rawFile({ w: { dtype: "F32", shape: [4], data_offsets: [0, 32] } }, four)), isCode("BAD_OFFSETS", /outside/));
  assert.throws(() => parseSafetensors(rawFile({ w: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, four)), isCode("BAD_OFFSETS", /needs 12 bytes/));
  assert.throws(
    () => parseSafetensors(rawFile({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, four)),
    isCode("OVERLAPPING_TENSORS"),
  );
  assert.throws(() => parseSafetensors(rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, four)), isCode("BAD_TENSOR_ENTRY"));
  assert.throws(() => parseSafetensors(rawFile({ w: { dtype: "Q9", shape: [1], data_offsets: [0, 4] } }, four)), isCode("UNSUPPORTED_DTYPE", /Q9/));
  const withInt = rawFile({ i: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, four);
  assert.throws(() => parseSafetensors(withInt), isCode("UNSUPPORTED_DTYPE", /I64/));
  assert.equal(parseSafetensors(withInt, []).tensors.size, 0);
  assert.throws(() => parseSafetensors(rawFile({ __metadata__: { a: 1 } }, four)), isCode("BAD_METADATA"));
  assert.throws(() => writeSafetensors([["w", { shape: [3], data: new Float32Array(2) }]]), isCode("BAD_TENSOR_ENTRY"));
});

test("fuzz: 400 single-byte corruptions either parse or fail with a SafetensorsError", () => {
  const file = writeSafetensors([["a", { shape: [2, 3], data: new Float32Array(6).fill(1) }], ["b", { shape: [4], data: new Float32Array(4) }]], { metadata: { k: "v" } });
  let seed = 5;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let n = 0; n < 400; n++) {
    const bytes = file.slice();
    const at = next() % (file.byteLength - 40);
    bytes[at] = next() & 0xff;
    try {
      parseSafetensors(bytes);
    } catch (error) {
      assert.ok(error instanceof SafetensorsError, `byte ${at}: ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    }
  }
});
