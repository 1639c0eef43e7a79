/** @module engine/util/loaded-model
 * What every model loader returns, and the one check that loaded weights match their `LlamaConfig`: every
 * canonical tensor present with its expected shape and no extra names.
 */
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { EngineError } from "./errors.ts";

export type ModelFormat = "gguf" | "safetensors";

export interface ModelSource {
  readonly format: ModelFormat;
  /** GGUF: sha256 of the file. HF folder: sha256 over `name\0sha256\n` lines of config.json, tokenizer files and
   *  weight files in name order. */
  readonly sha256: string;
  readonly path: string;
}

export interface LoadedModel {
  readonly config: LlamaConfig;
  readonly weights: ModelWeights;
  readonly tokenizer: Tokenizer;
  readonly source: ModelSource;
}

export type ModelWeightsErrorCode = "MISSING_TENSOR" | "UNEXPECTED_TENSOR" | "SHAPE_MISMATCH" | "INVALID_CONFIG";

export class ModelWeightsError extends EngineError<ModelWeightsErrorCode> {
  static override readonly category = "model-unavailable";
}

/** Canonical name → expected shape for `config` (see model/config.ts). */
export function expectedWeightShapes(config: LlamaConfig): Map<string, number[]> {
  const { vocabSize, dim, nLayers, nHeads, nKvHeads, headDim, ffnDim } = config;
  const shapes = new Map<string, number[]>();
  shapes.set("tok_embeddings", [vocabSize, dim]);
  for (let i = 0; i < nLayers; i++) {
    const p = `layers.${i}.`;
    shapes.set(`${p}attn_norm`, [dim]);
    shapes.set(`${p}wq`, [nHeads * headDim, dim]);
    shapes.set(`${p}wk`, [nKvHeads * headDim, dim]);
    shapes.set(`${p}wv`, [nKvHeads * headDim, dim]);
    if (config.qkvBias) {
      shapes.set(`${p}bq`, [nHeads * headDim]);
      shapes.set(`${p}bk`, [nKvHeads * headDim]);
      shapes.set(`${p}bv`, [nKvHeads * headDim]);
    }
    shapes.set(`${p}wo`, [dim, nHeads * headDim]);
    shapes.set(`${p}ffn_norm`, [dim]);
    shapes.set(`${p}w_gate`, [ffnDim, dim]);
    shapes.set(`${p}w_up`, [ffnDim, dim]);
    shapes.set(`${p}w_down`, [dim, ffnDim]);
  }
  shapes.set("norm", [dim]);
  if (!config.tiedEmbeddings) shapes.set("output", [vocabSize, dim]);
  return shapes;
}

export function validateLlamaConfig(config: LlamaConfig): void {
  const positive = ["vocabSize", "dim", "nLayers", "nHeads", "nKvHeads", "headDim", "ffnDim", "maxSeqLen"] as const;
  for (const key of positive) {
    const value = config[key];
    if (!Number.isInteger(value) || value <= 0) {
      throw new ModelWeightsError("INVALID_CONFIG", `config.${key} must be a positive integer, got ${value}`);
    }
  }
  if (config.nHeads % config.nKvHeads !== 0) {
    throw new ModelWeightsError("INVALID_CONFIG", `config.nHeads (${config.nHeads}) must be a multiple of nKvHeads (${config.nKvHeads})`);
  }
  if (config.headDim % 2 !== 0) throw new ModelWeightsError("INVALID_CONFIG", `config.headDim (${config.headDim}) must be even for RoPE`);
  if (!(config.normEps > 0)) throw new ModelWeightsError("INVALID_CONFIG", `config.normEps must be positive, got ${config.normEps}`);
  if (!(config.ropeTheta > 0)) throw new ModelWeightsError("INVALID_CONFIG", `config.ropeTheta must be positive, got ${config.ropeTheta}`);
  for (const key of ["bosId", "eosId"] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 0 || value >= config.vocabSize) {
      throw new ModelWeightsError("INVALID_CONFIG", `config.${key} (${value}) is outside the vocabulary [0, ${config.vocabSize})`);
    }
  }
}

export function validateModelWeights(config: LlamaConfig, weights: ModelWeights): void {
  validateLlamaConfig(config);
  const expected = expectedWeightShapes(config);
  for (const [name, shape] of expected) {
    const tensor = weights.get(name);
    if (!tensor) throw new ModelWeightsError("MISSING_TENSOR", `tensor ${name} (shape [${shape}]) is missing`);
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new ModelWeightsError("SHAPE_MISMATCH", `tensor ${name} has shape [${tensor.shape}], expected [${shape}]`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== count) {
      throw new ModelWeightsError("SHAPE_MISMATCH", `tensor ${name} holds ${tensor.data.length} values, shape [${shape}] needs ${count}`);
    }
  }
  for (const name of weights.keys()) {
    if (!expected.has(name)) throw new ModelWeightsError("UNEXPECTED_TENSOR", `tensor ${name} is not part of this configuration`);
  }
}
