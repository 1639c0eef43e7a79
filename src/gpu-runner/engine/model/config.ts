/**
 * @module engine/model/config
 * The one description of a LLaMA-family decoder shared by loaders (GGUF, HF), graph builders and tokenizers.
 *
 * Canonical weight names (row-major, (out, in) for projections, Float32Array data):
 *   tok_embeddings            [vocabSize, dim]
 *   layers.{i}.attn_norm      [dim]
 *   layers.{i}.wq             [nHeads*headDim, dim]     layers.{i}.bq [nHeads*headDim]   (only when qkvBias)
 *   layers.{i}.wk             [nKvHeads*headDim, dim]   layers.{i}.bk [nKvHeads*headDim] (only when qkvBias)
 *   layers.{i}.wv             [nKvHeads*headDim, dim]   layers.{i}.bv [nKvHeads*headDim] (only when qkvBias)
 *   layers.{i}.wo             [dim, nHeads*headDim]
 *   layers.{i}.ffn_norm       [dim]
 *   layers.{i}.w_gate         [ffnDim, dim]
 *   layers.{i}.w_up           [ffnDim, dim]
 *   layers.{i}.w_down         [dim, ffnDim]
 *   norm                      [dim]
 *   output                    [vocabSize, dim]          (absent when tiedEmbeddings)
 */

/** RoPE pairing: "interleaved" rotates (x[2j], x[2j+1]) (GGUF / Meta checkpoints, llama2.c);
 *  "rotate-half" rotates (x[j], x[j+d/2]) (HF checkpoints). */
export type RopeLayout = "interleaved" | "rotate-half";

export interface LlamaConfig {
  readonly vocabSize: number;
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly ffnDim: number;
  readonly normEps: number;
  readonly ropeTheta: number;
  readonly ropeLayout: RopeLayout;
  readonly maxSeqLen: number;
  readonly tiedEmbeddings: boolean;
  readonly qkvBias: boolean;
  readonly bosId: number;
  readonly eosId: number;
}

export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type ModelWeights = ReadonlyMap<string, WeightTensor>;
