import { test } from "node:test";
import assert from "node:assert/strict";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./half-float.ts";

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
