/**
 * @module bench/decode-tinyllama
 * Decoding a TinyLlama-1.1B-shaped model (d 2048, 22 layers, 32 query / 4 KV heads of 64, FFN 5632, V 32000,
 * untied head) on the fast path with its weights kept quantized (`--quant q8 | q4`, MatMulNBits blocks of 32):
 *   - step time and tokens/s at batch 1 with 64, 512 and 2048 cached positions (cost against length);
 *   - the memory roofline: weight bytes read per token ÷ this machine's copy bandwidth (a STREAM-like copy of
 *     256 MiB measured in the same run) against the measured step time;
 *   - resident memory: weights held, RSS after the session is built, peak RSS of the process (one model per
 *     process: run the bench once per `--quant`).
 * Weights are random quantized blocks built directly (throughput does not depend on the values; the GGUF loader
 * is tested in engine/model/gguf-quantized.test.ts). The cache before each measured position is filled through
 * the decoder's own cache API (zero keys/values), so no 2048-token prefill of a 1.1B model is needed on 2 cores.
 */
import { FastDecoder, FastKvCache } from "../src/gpu-runner/engine/decode/index.ts";
import { decodeWeightBytes, LLM_IO, QUANT_BLOCK, type BlockQuantized, type DecodeMatrix, type DecodeWeights, type LlamaConfig } from "../src/gpu-runner/engine/model/index.ts";
import { mulberry32 } from "../src/gpu-runner/engine/onnx/index.ts";
import type { HostTensor } from "../src/gpu-runner/engine/onnx/index.ts";

export const TINYLLAMA_SHAPE: LlamaConfig = {
  vocabSize: 32000, dim: 2048, nLayers: 22, nHeads: 32, nKvHeads: 4, headDim: 64, ffnDim: 5632, normEps: 1e-5,
  ropeTheta: 10000, ropeLayout: "interleaved", maxSeqLen: 2048 + 64, tiedEmbeddings: false, qkvBias: false, bosId: 1, eosId: 2,
};

/** Random blocks whose values are uniform with standard deviation ≈ 1/√cols (activations stay bounded). */
function randomBlocks(rows: number, cols: number, bits: 4 | 8, random: () => number): BlockQuantized {
  const nb = Math.ceil(cols / QUANT_BLOCK);
  const blob = (QUANT_BLOCK * bits) / 8;
  const packed = new Uint8Array(rows * nb * blob);
  for (let i = 0; i < packed.length; i += 4) {
    const r = (random() * 2 ** 32) >>> 0;
    packed[i] = r & 0xff;
    packed[i + 1] = (r >>> 8) & 0xff;
    packed[i + 2] = (r >>> 16) & 0xff;
    packed[i + 3] = r >>> 24;
  }
  const scale = Math.sqrt(3 / cols) / (bits === 8 ? 128 : 8);
  return { kind: "nbits", bits, rows, cols, blockSize: QUANT_BLOCK, packed, packedShape: [rows, nb, blob], scales: new Float32Array(rows * nb).fill(scale) };
}

export function tinyLlamaWeights(config: LlamaConfig, bits: 4 | 8): DecodeWeights {
  const random = mulberry32(7);
  const { dim, ffnDim, vocabSize } = config;
  const q = config.nHeads * config.headDim;
  const kv = config.nKvHeads * config.headDim;
  const matrices = new Map<string, DecodeMatrix>();
  const vectors = new Map<string, Float32Array>();
  matrices.set("tok_embeddings", randomBlocks(vocabSize, dim, bits, random));
  matrices.set("output", randomBlocks(vocabSize, dim, bits, random));
  vectors.set("norm", new Float32Array(dim).fill(1));
  for (let l = 0; l < config.nLayers; l++) {
    const p = `layers.${l}.`;
    vectors.set(`${p}attn_norm`, new Float32Array(dim).fill(1));
    vectors.set(`${p}ffn_norm`, new Float32Array(dim).fill(1));
    matrices.set(`${p}wq`, randomBlocks(q, dim, bits, random));
    matrices.set(`${p}wk`, randomBlocks(kv, dim, bits, random));
    matrices.set(`${p}wv`, randomBlocks(kv, dim, bits, random));
    matrices.set(`${p}wo`, randomBlocks(dim, q, bits, random));
    matrices.set(`${p}w_gate`, randomBlocks(ffnDim, dim, bits, random));
    matrices.set(`${p}w_up`, randomBlocks(ffnDim, dim, bits, random));
    matrices.set(`${p}w_down`, randomBlocks(dim, ffnDim, bits, random));
  }
  return { matrices, vectors };
}

/** Copy bandwidth in bytes/s: best of 5 copies of a 256 MiB buffer (read + write counted, as STREAM's Copy). */
function copyBandwidth(): number {
  const n = (256 * 2 ** 20) / 8;
  const src = new Float64Array(n).fill(1);
  const dst = new Float64Array(n);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t);
  }
  return (2 * src.byteLength) / (best / 1000);
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const MiB = 2 ** 20;

export async function tinyLlamaBench(options: { tokens: number; threads: number; quant: "q8" | "q4" }): Promise<void> {
  const config = TINYLLAMA_SHAPE;
  const bits = options.quant === "q4" ? 4 : 8;
  const weights = tinyLlamaWeights(config, bits);
  const weightBytes = decodeWeightBytes(weights);
  const embedding = weights.matrices.get("tok_embeddings") as BlockQuantized;
  const readPerToken = weightBytes - embedding.packed.byteLength - embedding.scales.byteLength;
  const bandwidth = copyBandwidth();
  console.log(`TinyLlama-1.1B shape, weights ${options.quant} (MatMulNBits ${bits}-bit, block 32): ${(weightBytes / MiB).toFixed(0)} MiB held, ${(readPerToken / MiB).toFixed(0)} MiB read per token; ${options.threads} thread(s)`);
  console.log(`copy bandwidth (256 MiB, best of 5): ${(bandwidth / 1e9).toFixed(2)} GB/s → roofline ${((readPerToken / bandwidth) * 1000).toFixed(1)} ms per token`);
  const decoder = new FastDecoder({ config, decodeWeights: weights }, undefined, { threads: options.threads });
  const built = performance.now();
  await decoder.warm();
  const rssBuilt = process.memoryUsage().rss;
  (globalThis as { gc?: () => void }).gc?.();
  console.log(`session built in ${((performance.now() - built) / 1000).toFixed(1)} s; RSS ${(rssBuilt / MiB).toFixed(0)} MiB, after GC ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB (JS heap + array buffers ${((process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers) / MiB).toFixed(0)} MiB)`);
  const kvDim = config.nKvHeads * config.headDim;
  for (const position of [64, 512, 2048]) {
    const cache = new FastKvCache(config, 1, 32);
    cache.reserve(position + options.tokens, 32);
    const zeros: Record<string, HostTensor> = {};
    for (let l = 0; l < config.nLayers; l++) {
      zeros[LLM_IO.newKey(l)] = { dtype: "float32", shape: [1, position, kvDim], data: new Float32Array(position * kvDim) };
      zeros[LLM_IO.newValue(l)] = { dtype: "float32", shape: [1, position, kvDim], data: new Float32Array(position * kvDim) };
    }
    cache.write(zeros, position, [position]);
    const steps: number[] = [];
    await decoder.step(cache, [3]); // untimed
    for (let s = 0; s < options.tokens; s++) {
      const t = performance.now();
      await decoder.step(cache, [3 + s]);
      steps.push(performance.now() - t);
    }
    const ms = median(steps);
    console.log(`position ${String(position).padStart(4)}: step ${ms.toFixed(1)} ms = ${(1000 / ms).toFixed(2)} tok/s; roofline ÷ step ${((readPerToken / bandwidth) * 1000 / ms * 100).toFixed(0)} %; KV cache ${(cache.bytes / MiB).toFixed(0)} MiB`);
  }
  await decoder.release();
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}
