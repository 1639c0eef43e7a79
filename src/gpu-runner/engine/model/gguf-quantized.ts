/**
 * @module engine/model/gguf-quantized
 * Loads a llama GGUF for the fast decode path without expanding quantized weights to float32: Q8_0 and Q4_0
 * matrices are repacked for MatMulNBits (model/quantized-weights.ts, 8 and 4 bits, block 32, the same values
 * GGUF's dequantization gives); F16/BF16 matrices are quantized on load to 8 bits by default (onnxruntime's CPU
 * provider has no 16-bit MatMul for float32 activations) or expanded (`floatMatrices: "none"`); F32 matrices
 * stay float32 unless `floatMatrices` says otherwise. Norm gains and biases are float32. The embedding table is
 * kept in its quantized form and looked up row by row on the host.
 *
 * The result is a `LoadedModel` whose `weights` dequantize on first access (for the reference path and tests;
 * the fast path never touches them), plus `decodeWeights`.
 */
import { open } from "node:fs/promises";
import { readExactly, readGgufHeaderFromFile, sha256File, GgmlType, type GgufHeader, type GgufTensorInfo } from "../../../formats/index.ts";
import type { LoadedModel } from "../util/loaded-model.ts";
import type { LlamaConfig, ModelWeights, WeightTensor } from "./config.ts";
import { isMatrixName, validateDecodeWeights, type DecodeMatrix, type DecodeWeights, type WeightQuantization } from "./decode-weights.ts";
import { asGgufError, canonicalGgufName, checkTensorBounds, decodeGgufTensor, ggufConfigAndTokenizer, GgufError, type TensorBytesSource } from "./gguf.ts";
import { dequantizeBlockwise, quantizeBlockwise, repackGgufBlocks } from "./quantized-weights.ts";
import type { Tokenizer } from "./tokenizer.ts";

export interface GgufDecodeOptions {
  /** F16/BF16 matrices: "q8" (default) or "q4" quantized on load, "none" expanded to float32. */
  readonly halfMatrices?: WeightQuantization;
  /** F32 matrices: "none" (default, kept float32), "q8" or "q4". */
  readonly floatMatrices?: WeightQuantization;
}

export interface DecodeLoadedModel extends LoadedModel {
  readonly decodeWeights: DecodeWeights;
}

/** Float weights that dequantize each matrix on first `get` (and keep it): the reference path's view. */
export class DequantizedWeights implements ReadonlyMap<string, WeightTensor> {
  readonly #source: DecodeWeights;
  readonly #names: string[];
  readonly #cache = new Map<string, WeightTensor>();

  constructor(config: LlamaConfig, source: DecodeWeights) {
    this.#source = source;
    this.#names = [...source.matrices.keys(), ...source.vectors.keys()].filter((n) => !(n === "output" && config.tiedEmbeddings));
  }

  get size(): number {
    return this.#names.length;
  }

  has(name: string): boolean {
    return this.#names.includes(name);
  }

  get(name: string): WeightTensor | undefined {
    if (!this.has(name)) return undefined;
    let hit = this.#cache.get(name);
    if (!hit) {
      const m = this.#source.matrices.get(name);
      const v = this.#source.vectors.get(name);
      hit = m ? { shape: [m.rows, m.cols], data: m.kind === "float32" ? m.data : dequantizeBlockwise(m) } : { shape: [v!.length], data: v! };
      this.#cache.set(name, hit);
    }
    return hit;
  }

  *entries(): MapIterator<[string, WeightTensor]> {
    for (const n of this.#names) yield [n, this.get(n)!];
  }

  *keys(): MapIterator<string> {
    yield* this.#names;
  }

  *values(): MapIterator<WeightTensor> {
    for (const n of this.#names) yield this.get(n)!;
  }

  forEach(callback: (value: WeightTensor, key: string, map: ReadonlyMap<string, WeightTensor>) => void): void {
    for (const n of this.#names) callback(this.get(n)!, n, this);
  }

  [Symbol.iterator](): MapIterator<[string, WeightTensor]> {
    return this.entries();
  }
}

function quantBits(q: WeightQuantization): 4 | 8 | undefined {
  return q === "q8" ? 8 : q === "q4" ? 4 : undefined;
}

/** One GGUF matrix tensor as a decode matrix under the options. */
function decodeMatrix(info: GgufTensorInfo, raw: Uint8Array, options: GgufDecodeOptions): DecodeMatrix {
  const [cols, rows] = info.dims;
  if (info.type === GgmlType.Q8_0) return repackGgufBlocks(raw, rows, cols, "Q8_0");
  if (info.type === GgmlType.Q4_0) return repackGgufBlocks(raw, rows, cols, "Q4_0");
  const data = decodeGgufTensor(info, raw);
  const bits = quantBits(info.type === GgmlType.F32 ? options.floatMatrices ?? "none" : options.halfMatrices ?? "q8");
  return bits ? quantizeBlockwise(data, rows, cols, bits) : { kind: "float32", rows, cols, data };
}

/** Config, tokenizer and decode weights of a parsed GGUF (tensor bytes from `readTensor`). */
export async function ggufToDecodeModel(
  header: GgufHeader,
  readTensor: TensorBytesSource,
  options: GgufDecodeOptions = {},
): Promise<{ config: LlamaConfig; tokenizer: Tokenizer; decodeWeights: DecodeWeights; weights: ModelWeights }> {
  const { config, tokenizer, tied } = await ggufConfigAndTokenizer(header, readTensor);
  const matrices = new Map<string, DecodeMatrix>();
  const vectors = new Map<string, Float32Array>();
  for (const info of header.tensors) {
    const name = canonicalGgufName(info.name);
    if (name === "output" && tied) continue;
    const raw = await readTensor(info);
    if (isMatrixName(name)) {
      if (info.dims.length !== 2) throw new GgufError("BAD_TENSOR_INFO", `tensor ${info.name} has ${info.dims.length} dimensions, expected 2`);
      matrices.set(name, decodeMatrix(info, raw, options));
    } else {
      vectors.set(name, decodeGgufTensor(info, raw));
    }
  }
  const decodeWeights = { matrices, vectors };
  validateDecodeWeights(config, decodeWeights);
  return { config, tokenizer, decodeWeights, weights: new DequantizedWeights(config, decodeWeights) };
}

/** Loads a llama GGUF keeping quantized weights quantized (see the module comment). */
export async function loadGgufForDecode(path: string, options: GgufDecodeOptions = {}): Promise<DecodeLoadedModel> {
  const header = await asGgufError(() => readGgufHeaderFromFile(path), path);
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    for (const info of header.tensors) checkTensorBounds(header, info, size);
    const model = await ggufToDecodeModel(header, async (info) => {
      const bytes = new Uint8Array(info.byteLength);
      await readExactly(handle, bytes, header.dataOffset + info.offset, `${path} tensor ${info.name}`);
      return bytes;
    }, options);
    return { ...model, source: { format: "gguf", sha256: await sha256File(path), path } };
  } finally {
    await handle.close();
  }
}
