/**
 * @module engine/model/quantized-weights
 * Block-quantized projection matrices in the layout of onnxruntime's com.microsoft.MatMulNBits, and the repacking
 * of GGUF Q8_0 / Q4_0 blocks into it without going through float32.
 *
 * Layout (MatMulNBits, block size 32, default zero points): a matrix W [N = out, K = in] is cut along K into
 * ceil(K/32) blocks per row; `packed` [N, blocks, 32·bits/8] holds unsigned quants, `scales` [N·blocks] float32
 * one per block, and w = (q − z)·scale with z = 2^(bits−1) (128 for 8 bits, 8 for 4 bits). 4-bit quants are two per
 * byte, element 2i in the low nibble of byte i. A last block past K is padded with z (value 0).
 *
 * GGUF rows are the same blocks along ne0 = K: Q8_0 is an f16 scale and 32 int8 (q + 128 gives the unsigned
 * quant); Q4_0 is an f16 scale and 16 bytes holding elements j (low nibble) and j + 16 (high nibble), already
 * offset by 8. Repacking copies quants and widens scales; values are bit-for-bit those GGUF's own dequantization
 * gives (x = d·q), so the float32 reference decodes the same model.
 */
import { decodeF16Array } from "../../../formats/index.ts";
import { EngineError } from "../util/errors.ts";

export const QUANT_BLOCK = 32;

export type QuantBits = 4 | 8;

export type QuantizedWeightsErrorCode = "INVALID_QUANT" | "SHAPE_MISMATCH";

export class QuantizedWeightsError extends EngineError<QuantizedWeightsErrorCode> {}

/** A projection [rows = N, cols = K] stored for MatMulNBits. */
export interface BlockQuantized {
  readonly kind: "nbits";
  readonly bits: QuantBits;
  readonly rows: number;
  readonly cols: number;
  readonly blockSize: typeof QUANT_BLOCK;
  readonly packed: Uint8Array;
  readonly packedShape: readonly [number, number, number];
  readonly scales: Float32Array;
}

function blocksPerRow(cols: number): number {
  return Math.ceil(cols / QUANT_BLOCK);
}

function emptyQuantized(rows: number, cols: number, bits: QuantBits): BlockQuantized {
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
    throw new QuantizedWeightsError("SHAPE_MISMATCH", `a quantized matrix needs integer rows, cols ≥ 1, got [${rows}, ${cols}]`);
  }
  if (bits !== 4 && bits !== 8) throw new QuantizedWeightsError("INVALID_QUANT", `bits must be 4 or 8, got ${String(bits)}`);
  const nb = blocksPerRow(cols);
  const blob = (QUANT_BLOCK * bits) / 8;
  const packed = new Uint8Array(rows * nb * blob).fill(bits === 8 ? 128 : 0x88);
  return { kind: "nbits", bits, rows, cols, blockSize: QUANT_BLOCK, packed, packedShape: [rows, nb, blob], scales: new Float32Array(rows * nb) };
}

function setQuant(q: BlockQuantized, row: number, col: number, value: number): void {
  const nb = q.packedShape[1];
  const block = Math.floor(col / QUANT_BLOCK);
  const inBlock = col % QUANT_BLOCK;
  const base = (row * nb + block) * q.packedShape[2];
  if (q.bits === 8) {
    q.packed[base + inBlock] = value;
  } else {
    const at = base + (inBlock >> 1);
    q.packed[at] = inBlock & 1 ? (q.packed[at] & 0x0f) | (value << 4) : (q.packed[at] & 0xf0) | value;
  }
}

/**
 * Quantizes a float matrix [rows, cols] (row-major) block-wise as GGUF does: 8 bits like Q8_0 (scale = absmax/127,
 * q = round(x/scale)), 4 bits like Q4_0 (scale = −m/8 for the element m of largest magnitude, q = round(x/scale)
 * clamped to [−8, 7]). Used for float (F32/F16/BF16) weights quantized on load.
 */
export function quantizeBlockwise(data: Float32Array, rows: number, cols: number, bits: QuantBits): BlockQuantized {
  if (data.length !== rows * cols) throw new QuantizedWeightsError("SHAPE_MISMATCH", `${data.length} values for [${rows}, ${cols}]`);
  const q = emptyQuantized(rows, cols, bits);
  const nb = blocksPerRow(cols);
  const zero = bits === 8 ? 128 : 8;
  for (let r = 0; r < rows; r++) {
    for (let blk = 0; blk < nb; blk++) {
      const start = blk * QUANT_BLOCK;
      const end = Math.min(cols, start + QUANT_BLOCK);
      let extreme = 0;
      for (let c = start; c < end; c++) if (Math.abs(data[r * cols + c]) > Math.abs(extreme)) extreme = data[r * cols + c];
      const scale = bits === 8 ? Math.abs(extreme) / 127 : -extreme / 8;
      q.scales[r * nb + blk] = scale;
      const inv = scale === 0 ? 0 : 1 / scale;
      for (let c = start; c < end; c++) {
        const level = Math.round(data[r * cols + c] * inv);
        const clamped = bits === 8 ? Math.max(-127, Math.min(127, level)) : Math.max(-8, Math.min(7, level));
        setQuant(q, r, c, clamped + zero);
      }
    }
  }
  return q;
}

/** The float values a quantized matrix stands for, [rows, cols] row-major. */
export function dequantizeBlockwise(q: BlockQuantized): Float32Array {
  const out = new Float32Array(q.rows * q.cols);
  const nb = q.packedShape[1];
  const blob = q.packedShape[2];
  const zero = q.bits === 8 ? 128 : 8;
  for (let r = 0; r < q.rows; r++) {
    for (let c = 0; c < q.cols; c++) {
      const blk = Math.floor(c / QUANT_BLOCK);
      const i = c % QUANT_BLOCK;
      const base = (r * nb + blk) * blob;
      const level = q.bits === 8 ? q.packed[base + i] : i & 1 ? q.packed[base + (i >> 1)] >> 4 : q.packed[base + (i >> 1)] & 0x0f;
      out[r * q.cols + c] = (level - zero) * q.scales[r * nb + blk];
    }
  }
  return out;
}

/** One row of a quantized matrix as floats (embedding lookups on the host). */
export function dequantizeRow(q: BlockQuantized, row: number, out: Float32Array, offset = 0): void {
  const nb = q.packedShape[1];
  const blob = q.packedShape[2];
  const zero = q.bits === 8 ? 128 : 8;
  for (let blk = 0; blk < nb; blk++) {
    const scale = q.scales[row * nb + blk];
    const base = (row * nb + blk) * blob;
    const end = Math.min(QUANT_BLOCK, q.cols - blk * QUANT_BLOCK);
    for (let i = 0; i < end; i++) {
      const level = q.bits === 8 ? q.packed[base + i] : i & 1 ? q.packed[base + (i >> 1)] >> 4 : q.packed[base + (i >> 1)] & 0x0f;
      out[offset + blk * QUANT_BLOCK + i] = (level - zero) * scale;
    }
  }
}

export const GGUF_Q8_0_BYTES = 34;
export const GGUF_Q4_0_BYTES = 18;

/** Repacks a GGUF Q8_0 or Q4_0 tensor of `rows` rows of `cols` values (cols a multiple of 32) for MatMulNBits. */
export function repackGgufBlocks(raw: Uint8Array, rows: number, cols: number, type: "Q8_0" | "Q4_0"): BlockQuantized {
  if (cols % QUANT_BLOCK !== 0) throw new QuantizedWeightsError("SHAPE_MISMATCH", `GGUF ${type} rows hold a multiple of 32 values, got ${cols}`);
  const blockBytes = type === "Q8_0" ? GGUF_Q8_0_BYTES : GGUF_Q4_0_BYTES;
  const nBlocks = (rows * cols) / QUANT_BLOCK;
  if (raw.byteLength !== nBlocks * blockBytes) {
    throw new QuantizedWeightsError("SHAPE_MISMATCH", `GGUF ${type} [${rows}, ${cols}] needs ${nBlocks * blockBytes} bytes, got ${raw.byteLength}`);
  }
  const q = emptyQuantized(rows, cols, type === "Q8_0" ? 8 : 4);
  const scaleBytes = new Uint8Array(nBlocks * 2);
  for (let b = 0; b < nBlocks; b++) {
    const src = b * blockBytes;
    scaleBytes[2 * b] = raw[src];
    scaleBytes[2 * b + 1] = raw[src + 1];
    const dst = b * q.packedShape[2];
    if (type === "Q8_0") {
      for (let i = 0; i < QUANT_BLOCK; i++) q.packed[dst + i] = raw[src + 2 + i] ^ 0x80; // int8 two's complement + 128
    } else {
      for (let i = 0; i < 16; i++) {
        const lo = i * 2;
        const hi = i * 2 + 1;
        // element e of the block: e < 16 → low nibble of byte e, else high nibble of byte e − 16.
        const nib = (e: number) => (e < 16 ? raw[src + 2 + e] & 0x0f : raw[src + 2 + e - 16] >> 4);
        q.packed[dst + i] = nib(lo) | (nib(hi) << 4);
      }
    }
  }
  q.scales.set(decodeF16Array(scaleBytes, nBlocks));
  return q;
}

/** Bytes held by a quantized matrix (quants + scales). */
export function quantizedBytes(q: BlockQuantized): number {
  return q.packed.byteLength + q.scales.byteLength;
}
