/**
 * @module engine/model/decode-weights
 * The weights the fast decode graphs (model/llm-decode-graph.ts) read: every matrix of model/config.ts either as
 * float32 [rows = out, cols = in] or block-quantized for MatMulNBits (model/quantized-weights.ts), and the vectors
 * (norm gains, biases) as float32. A float model wraps its ModelWeights without copying; `quantize` re-encodes
 * its projections and head on load (8 bits like Q8_0, 4 bits like Q4_0). The embedding table stays in the host
 * (it is looked up per token, never multiplied) in whatever form it has.
 */
import type { LlamaConfig, ModelWeights } from "./config.ts";
import { expectedWeightShapes, ModelWeightsError } from "../util/loaded-model.ts";
import { dequantizeRow, quantizeBlockwise, quantizedBytes, type BlockQuantized, type QuantBits } from "./quantized-weights.ts";

export interface FloatMatrix {
  readonly kind: "float32";
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export type DecodeMatrix = FloatMatrix | BlockQuantized;

export interface DecodeWeights {
  /** tok_embeddings, projections and (untied) output, canonical names. */
  readonly matrices: ReadonlyMap<string, DecodeMatrix>;
  /** Norm gains and biases. */
  readonly vectors: ReadonlyMap<string, Float32Array>;
}

/** How float weights are held for the fast graphs: as they are, or quantized on load. */
export type WeightQuantization = "none" | "q8" | "q4";

const MATRIX_PATTERN = /^(tok_embeddings|output|layers\.\d+\.(wq|wk|wv|wo|w_gate|w_up|w_down))$/;

export function isMatrixName(name: string): boolean {
  return MATRIX_PATTERN.test(name);
}

/** Checks names and shapes against the config (every expected tensor present, no extra). */
export function validateDecodeWeights(config: LlamaConfig, weights: DecodeWeights): void {
  const expected = expectedWeightShapes(config);
  for (const [name, shape] of expected) {
    if (isMatrixName(name)) {
      const m = weights.matrices.get(name);
      if (!m) throw new ModelWeightsError("MISSING_TENSOR", `weight "${name}" is missing`);
      if (m.rows !== shape[0] || m.cols !== shape[1]) throw new ModelWeightsError("SHAPE_MISMATCH", `weight "${name}" is [${m.rows},${m.cols}], expected [${shape.join(",")}]`);
    } else {
      const v = weights.vectors.get(name);
      if (!v) throw new ModelWeightsError("MISSING_TENSOR", `weight "${name}" is missing`);
      if (v.length !== shape[0]) throw new ModelWeightsError("SHAPE_MISMATCH", `weight "${name}" has ${v.length} values, expected ${shape[0]}`);
    }
  }
  for (const name of [...weights.matrices.keys(), ...weights.vectors.keys()]) {
    if (!expected.has(name)) throw new ModelWeightsError("UNEXPECTED_TENSOR", `weight "${name}" is not part of this config`);
  }
}

/** Decode weights over float ModelWeights: shared as they are (`none`) or quantized (`q8`, `q4`), embedding kept. */
export function decodeWeightsFromModel(config: LlamaConfig, weights: ModelWeights, quantization: WeightQuantization = "none"): DecodeWeights {
  const bits: QuantBits | undefined = quantization === "q8" ? 8 : quantization === "q4" ? 4 : undefined;
  const matrices = new Map<string, DecodeMatrix>();
  const vectors = new Map<string, Float32Array>();
  for (const [name, w] of weights) {
    if (!isMatrixName(name)) {
      vectors.set(name, w.data);
      continue;
    }
    const [rows, cols] = w.shape;
    matrices.set(name, bits && name !== "tok_embeddings" ? quantizeBlockwise(w.data, rows, cols, bits) : { kind: "float32", rows, cols, data: w.data });
  }
  if (bits && config.tiedEmbeddings) {
    const e = weights.get("tok_embeddings");
    if (e) matrices.set("output", quantizeBlockwise(e.data, e.shape[0], e.shape[1], bits));
  }
  const out = { matrices, vectors };
  validateDecodeWeights({ ...config, tiedEmbeddings: config.tiedEmbeddings && !matrices.has("output") }, out);
  return out;
}

/** The head matrix: `output`, or the embedding table when tied and no separate head was made. */
export function headMatrix(weights: DecodeWeights): DecodeMatrix {
  const m = weights.matrices.get("output") ?? weights.matrices.get("tok_embeddings");
  if (!m) throw new ModelWeightsError("MISSING_TENSOR", "neither output nor tok_embeddings is present");
  return m;
}

/** Row `id` of a matrix as floats into `out` at `offset` (the host-side embedding lookup). */
export function matrixRow(m: DecodeMatrix, id: number, out: Float32Array, offset: number): void {
  if (m.kind === "float32") out.set(m.data.subarray(id * m.cols, (id + 1) * m.cols), offset);
  else dequantizeRow(m, id, out, offset);
}

/** Bytes the weights hold (float32 data, or quants + scales). */
export function decodeWeightBytes(weights: DecodeWeights): number {
  let n = 0;
  for (const m of weights.matrices.values()) n += m.kind === "float32" ? m.data.byteLength : quantizedBytes(m);
  for (const v of weights.vectors.values()) n += v.byteLength;
  return n;
}
