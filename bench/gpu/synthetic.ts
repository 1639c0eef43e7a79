/**
 * @module bench/gpu/synthetic — the device check's synthetic models: TinyLlama-1.1B's shape (d 2048, 22 layers,
 * 32 query / 4 KV heads of 64, FFN 5632, V 32000, untied head) and a small one for trying the scripts on a CPU,
 * with weights filled by a bounded pseudo-random pattern (throughput does not depend on the values).
 */
import type { LlamaConfig, ModelWeights } from "../../src/gpu-runner/engine/model/config.ts";

export const SHAPES: Readonly<Record<string, LlamaConfig>> = {
  tinyllama: { vocabSize: 32000, dim: 2048, nLayers: 22, nHeads: 32, nKvHeads: 4, headDim: 64, ffnDim: 5632, normEps: 1e-5, ropeTheta: 10000, ropeLayout: "interleaved", maxSeqLen: 2048, tiedEmbeddings: false, qkvBias: false, bosId: 1, eosId: 2 },
  small: { vocabSize: 8000, dim: 256, nLayers: 4, nHeads: 8, nKvHeads: 4, headDim: 32, ffnDim: 768, normEps: 1e-5, ropeTheta: 10000, ropeLayout: "interleaved", maxSeqLen: 512, tiedEmbeddings: false, qkvBias: false, bosId: 1, eosId: 2 },
};

export function shapeConfig(name: string): LlamaConfig {
  const config = SHAPES[name];
  if (!config) throw new Error(`--shape must be one of ${Object.keys(SHAPES).join(", ")}, got ${JSON.stringify(name)}`);
  return config;
}

/** Weights named and shaped as model/config.ts expects, values in ±scale (norm gains around 1). */
export function syntheticWeights(config: LlamaConfig): ModelWeights {
  const { dim, vocabSize, ffnDim } = config;
  const q = config.nHeads * config.headDim;
  const kv = config.nKvHeads * config.headDim;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  let seed = 0x9e3779b9;
  const put = (name: string, shape: number[], scale: number, offset = 0) => {
    const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
    for (let i = 0; i < data.length; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) | 0;
      data[i] = offset + scale * ((seed >>> 8) / 8388608 - 1);
    }
    out.set(name, { shape, data });
  };
  put("tok_embeddings", [vocabSize, dim], 1);
  for (let i = 0; i < config.nLayers; i++) {
    const p = `layers.${i}.`;
    put(`${p}attn_norm`, [dim], 0.2, 1);
    put(`${p}wq`, [q, dim], 1 / Math.sqrt(dim));
    put(`${p}wk`, [kv, dim], 1 / Math.sqrt(dim));
    put(`${p}wv`, [kv, dim], 1 / Math.sqrt(dim));
    put(`${p}wo`, [dim, q], 1 / Math.sqrt(q));
    put(`${p}ffn_norm`, [dim], 0.2, 1);
    put(`${p}w_gate`, [ffnDim, dim], 1 / Math.sqrt(dim));
    put(`${p}w_up`, [ffnDim, dim], 1 / Math.sqrt(dim));
    put(`${p}w_down`, [dim, ffnDim], 1 / Math.sqrt(ffnDim));
  }
  put("norm", [dim], 0.2, 1);
  if (!config.tiedEmbeddings) put("output", [vocabSize, dim], 1 / Math.sqrt(dim));
  return out as ModelWeights;
}
