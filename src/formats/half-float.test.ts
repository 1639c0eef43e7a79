/** @module formats/half-float.test — f16 / bf16 codecs: known values, every bit pattern round-trips (subnormals,
 *  ±0, ±Inf), NaN stays NaN, rounding ties go to even, and the array decoders agree with the scalar ones. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { bf16ToF32, decodeBf16Array, decodeF16Array, decodeF32Array, f16ToF32, f32ToBf16, f32ToF16 } from "./half-float.ts";

test("f16: known values and every finite half round-trips through f32", () => {
  assert.equal(f16ToF32(0x3c00), 1);
  assert.equal(f16ToF32(0xc000), -2);
  assert.equal(f16ToF32(0x7bff), 65504);
  assert.equal(f16ToF32(0x0001), 2 ** -24);
  assert.equal(f16ToF32(0x7c00), Infinity);
  assert.ok(Number.isNaN(f16ToF32(0x7e00)));
  assert.ok(Object.is(f16ToF32(0x8000), -0));
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue;
    assert.equal(f32ToF16(f16ToF32(h)), h, `half 0x${h.toString(16)}`);
  }
});

test("f32 → f16 rounds to nearest even, overflows to Inf, underflows to subnormal/zero", () => {
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // halfway between 1 and next: ties to even (1)
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // halfway, rounds up to even
  assert.equal(f32ToF16(65520), 0x7c00);
  assert.equal(f32ToF16(2 ** -25), 0x0000); // tie between 0 and the smallest subnormal → even (0)
  assert.equal(f32ToF16(1.5 * 2 ** -24), 0x0002);
  assert.equal(f32ToF16(-1e-10), 0x8000);
  assert.equal(f32ToF16(NaN) & 0x7e00, 0x7e00);
});

test("bf16 conversions", () => {
  assert.equal(bf16ToF32(0x3f80), 1);
  assert.equal(bf16ToF32(0x4049), 3.140625);
  assert.equal(f32ToBf16(3.14159), 0x4049);
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
});

test("subnormals, infinities and NaN round-trip through both half formats", () => {
  for (let m = 1; m < 0x400; m++) {
    assert.equal(f16ToF32(m), m * 2 ** -24, `f16 subnormal 0x${m.toString(16)}`);
    assert.equal(f16ToF32(0x8000 | m), -m * 2 ** -24);
    assert.equal(f32ToF16(m * 2 ** -24), m);
  }
  assert.equal(f32ToF16(Infinity), 0x7c00);
  assert.equal(f32ToF16(-Infinity), 0xfc00);
  assert.equal(f16ToF32(0xfc00), -Infinity);
  for (const nan of [0x7c01, 0x7e00, 0xfe00, 0x7fff]) assert.ok(Number.isNaN(f16ToF32(nan)) && Number.isNaN(f16ToF32(f32ToF16(f16ToF32(nan)))));
  // bf16: every non-NaN pattern (normals, subnormals, ±0, ±Inf) survives f32 and back; NaN stays NaN.
  for (let b = 0; b < 0x10000; b++) {
    const isNaN = (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
    if (isNaN) assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(bf16ToF32(b)))), `bf16 NaN 0x${b.toString(16)}`);
    else assert.equal(f32ToBf16(bf16ToF32(b)), b, `bf16 0x${b.toString(16)}`);
  }
  assert.equal(bf16ToF32(0x0001), 2 ** -133, "smallest bf16 subnormal");
  assert.equal(bf16ToF32(0xff80), -Infinity);
  assert.equal(f32ToBf16(3.4e38), 0x7f80, "rounds past the largest bf16 to Inf");
});

test("array decoders read little-endian values at any byte offset and match the scalar codecs", () => {
  const halves = [0x3c00, 0x0001, 0xfc00, 0x7bff, 0x8000];
  const raw = new Uint8Array(1 + halves.length * 2);
  const view = new DataView(raw.buffer);
  halves.forEach((h, i) => view.setUint16(1 + i * 2, h, true));
  assert.deepEqual([...decodeF16Array(raw.subarray(1), halves.length)], halves.map(f16ToF32));
  assert.deepEqual([...decodeBf16Array(raw.subarray(1), halves.length)], halves.map(bf16ToF32));
  const floats = new Uint8Array(1 + 8);
  new DataView(floats.buffer).setFloat32(1, 1.5, true);
  new DataView(floats.buffer).setFloat32(5, -Infinity, true);
  assert.deepEqual([...decodeF32Array(floats.subarray(1), 2)], [1.5, -Infinity]);
});
