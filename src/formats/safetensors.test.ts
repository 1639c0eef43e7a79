/** @module formats/safetensors.test — the safetensors header: entries of every dtype, bounds and typed errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSafetensorsHeader, readSafetensorsHeaderFromFile, SafetensorsFormatError } from "./safetensors.ts";

function file(header: object, dataBytes: number, pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(pad));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

const isCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof SafetensorsFormatError && e.code === code && (!pattern || pattern.test(e.message));

test("entries of decodable and other dtypes, metadata and the data offset", () => {
  const bytes = file(
    {
      __metadata__: { format: "pt" },
      "model.embed_tokens.weight": { dtype: "BF16", shape: [5, 2], data_offsets: [0, 20] },
      "position_ids": { dtype: "I64", shape: [3], data_offsets: [20, 44] },
      "empty": { dtype: "F32", shape: [0], data_offsets: [44, 44] },
    },
    44,
    3,
  );
  const header = parseSafetensorsHeader(bytes, bytes.byteLength);
  assert.deepEqual(header.metadata, { format: "pt" });
  assert.deepEqual([...header.entries.keys()], ["model.embed_tokens.weight", "position_ids", "empty"]);
  assert.deepEqual(header.entries.get("position_ids"), { name: "position_ids", dtype: "I64", shape: [3], begin: 20, end: 44 });
  assert.equal(header.dataOffset, bytes.byteLength - 44);
});

test("bad headers are typed errors naming the tensor", async () => {
  const entry = (e: object) => ({ t: e });
  const cases: [Uint8Array, string, RegExp?][] = [
    [new Uint8Array(4), "BAD_HEADER_LENGTH"],
    [file({ t: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, 8).subarray(0, 20), "BAD_HEADER_LENGTH"],
    [file(entry({ dtype: "F32", shape: [2] }), 8), "BAD_TENSOR_ENTRY", /tensor t/],
    [file(entry({ dtype: "F32", shape: [-1], data_offsets: [0, 8] }), 8), "BAD_TENSOR_ENTRY"],
    [file(entry({ dtype: "F32", shape: [2], data_offsets: [0, 16] }), 8), "BAD_OFFSETS", /outside the data section/],
    [file(entry({ dtype: "I64", shape: [2], data_offsets: [0, 8] }), 8), "BAD_OFFSETS", /needs 16 bytes/],
    [file(entry({ dtype: "F4", shape: [2], data_offsets: [0, 8] }), 8), "UNSUPPORTED_DTYPE", /unknown dtype F4/],
    [file(entry({ dtype: "toString", shape: [2], data_offsets: [0, 8] }), 8), "UNSUPPORTED_DTYPE"],
    [file({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, 8), "OVERLAPPING_TENSORS"],
    [file({ __metadata__: { n: 1 } }, 0), "BAD_METADATA"],
    [file([1, 2] as unknown as object, 0), "BAD_HEADER_JSON"],
  ];
  for (const [bytes, code, pattern] of cases) assert.throws(() => parseSafetensorsHeader(bytes, bytes.byteLength), isCode(code, pattern), code);
  const dir = mkdtempSync(join(tmpdir(), "formats-st-"));
  try {
    const path = join(dir, "x.safetensors");
    const good = file({ t: { dtype: "F16", shape: [4], data_offsets: [0, 8] } }, 8);
    writeFileSync(path, good);
    assert.deepEqual((await readSafetensorsHeaderFromFile(path)).entries.get("t")?.shape, [4]);
    const lying = good.slice();
    new DataView(lying.buffer).setBigUint64(0, 1n << 40n, true);
    writeFileSync(path, lying);
    await assert.rejects(readSafetensorsHeaderFromFile(path, "x"), isCode("BAD_HEADER_LENGTH", /^x: header length/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
