/**
 * @module engine/model/arm-graph-reference
 * A plain-TypeScript float64 reference of the decoder, the adapter (through its dense ΔW(α)) and the ARM loss,
 * written independently of the graph code (direct RoPE pair formulas, per-head loops, no shared helpers except
 * `denseAdapterDelta`). Slow; for tests on tiny models only.
 */
import type { LlamaConfig, ModelWeights } from "./config.ts";
import { ADAPTER_TARGETS, denseAdapterDelta, type AdapterSpec, type AdapterTarget } from "./pblora.ts";

export interface ReferenceAdapter {
  readonly spec: AdapterSpec;
  readonly tensors: ReadonlyMap<string, ArrayLike<number>>;
}

const WEIGHT_OF: Record<AdapterTarget, string> = { q: "wq", k: "wk", v: "wv", o: "wo", gate: "w_gate", up: "w_up", down: "w_down" };

function matVec(w: ArrayLike<number>, rows: number, cols: number, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[c];
    y[r] = s;
  }
  return y;
}

function rms(x: Float64Array, g: ArrayLike<number>, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return Float64Array.from(x, (v, i) => v * inv * g[i]);
}

function rope(config: LlamaConfig, vec: Float64Array, heads: number, pos: number): void {
  const hd = config.headDim;
  const half = hd / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      const angle = pos * Math.pow(config.ropeTheta, (-2 * j) / hd);
      const [ia, ib] = config.ropeLayout === "interleaved" ? [h * hd + 2 * j, h * hd + 2 * j + 1] : [h * hd + j, h * hd + j + half];
      const a = vec[ia];
      const c = vec[ib];
      vec[ia] = a * Math.cos(angle) - c * Math.sin(angle);
      vec[ib] = c * Math.cos(angle) + a * Math.sin(angle);
    }
  }
}

/** Logits [T][vocab] of one row of token ids, with an optional adapter at preference `alpha`. */
export function referenceLogits(
  config: LlamaConfig,
  weights: ModelWeights,
  ids: readonly number[],
  adapter?: ReferenceAdapter,
  alpha?: readonly number[],
): Float64Array[] {
  const w = (name: string): ArrayLike<number> => {
    const t = weights.get(name);
    if (!t) throw new Error(`reference: weight ${name} missing`);
    return t.data;
  };
  const { dim, nHeads, nKvHeads, headDim: hd, ffnDim, vocabSize } = config;
  const group = nHeads / nKvHeads;
  // Effective weights W0 + ΔW(α) per layer.
  const eff = (layer: number, target: AdapterTarget): ArrayLike<number> => {
    const base = w(`layers.${layer}.${WEIGHT_OF[target]}`);
    if (!adapter || !adapter.spec.targets.includes(target)) return base;
    const delta = denseAdapterDelta(config, adapter.spec, adapter.tensors, layer, target, alpha);
    return Float64Array.from(base, (v, i) => v + delta[i]);
  };
  const T = ids.length;
  let xs: Float64Array[] = ids.map((id) => Float64Array.from({ length: dim }, (_, c) => w("tok_embeddings")[id * dim + c]));
  for (let l = 0; l < config.nLayers; l++) {
    const W: Partial<Record<AdapterTarget, ArrayLike<number>>> = {};
    for (const t of ADAPTER_TARGETS) W[t] = eff(l, t);
    const qs: Float64Array[] = [];
    const ks: Float64Array[] = [];
    const vs: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const xn = rms(xs[t], w(`layers.${l}.attn_norm`), config.normEps);
      const q = matVec(W.q!, nHeads * hd, dim, xn);
      const k = matVec(W.k!, nKvHeads * hd, dim, xn);
      const v = matVec(W.v!, nKvHeads * hd, dim, xn);
      if (config.qkvBias) {
        const [bq, bk, bv] = [w(`layers.${l}.bq`), w(`layers.${l}.bk`), w(`layers.${l}.bv`)];
        q.forEach((_, i) => (q[i] += bq[i]));
        k.forEach((_, i) => (k[i] += bk[i]));
        v.forEach((_, i) => (v[i] += bv[i]));
      }
      rope(config, q, nHeads, t);
      rope(config, k, nKvHeads, t);
      qs.push(q);
      ks.push(k);
      vs.push(v);
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const att = new Float64Array(nHeads * hd);
      for (let h = 0; h < nHeads; h++) {
        const kvh = Math.floor(h / group);
        const scores = new Float64Array(t + 1);
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += qs[t][h * hd + i] * ks[s][kvh * hd + i];
          scores[s] = dot / Math.sqrt(hd);
          max = Math.max(max, scores[s]);
        }
        let z = 0;
        for (let s = 0; s <= t; s++) z += (scores[s] = Math.exp(scores[s] - max));
        for (let s = 0; s <= t; s++) for (let i = 0; i < hd; i++) att[h * hd + i] += (scores[s] / z) * vs[s][kvh * hd + i];
      }
      const o = matVec(W.o!, dim, nHeads * hd, att);
      const x1 = Float64Array.from(xs[t], (v, i) => v + o[i]);
      const xf = rms(x1, w(`layers.${l}.ffn_norm`), config.normEps);
      const gate = matVec(W.gate!, ffnDim, dim, xf);
      const up = matVec(W.up!, ffnDim, dim, xf);
      const act = Float64Array.from(gate, (g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matVec(W.down!, dim, ffnDim, act);
      next.push(Float64Array.from(x1, (v, i) => v + down[i]));
    }
    xs = next;
  }
  const head = w(config.tiedEmbeddings ? "tok_embeddings" : "output");
  return xs.map((x) => matVec(head, vocabSize, dim, rms(x, w("norm"), config.normEps)));
}

export function logSoftmax(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let z = 0;
  for (const v of logits) z += Math.exp(v - max);
  const lse = max + Math.log(z);
  return Float64Array.from(logits, (v) => v - lse);
}

/** TRL-style summed response log-prob: labels aligned with ids, −100 ignored, token t predicted at t−1. */
export function referenceSequenceLogprob(
  config: LlamaConfig,
  weights: ModelWeights,
  ids: readonly number[],
  labels: readonly number[],
  adapter?: ReferenceAdapter,
  alpha?: readonly number[],
): number {
  const logits = referenceLogits(config, weights, ids, adapter, alpha);
  let total = 0;
  for (let t = 1; t < ids.length; t++) if (labels[t] !== -100) total += logSoftmax(logits[t - 1])[labels[t]];
  return total;
}

export interface ReferencePair {
  readonly first: { readonly ids: readonly number[]; readonly labels: readonly number[] };
  readonly second: { readonly ids: readonly number[]; readonly labels: readonly number[] };
  /** Per objective: +1 when `first` is preferred, −1 when `second` is. */
  readonly sign: readonly number[];
  /** Per objective: whether the pair counts for that objective. */
  readonly counts: readonly boolean[];
}

/** PARM loss Σ_i α_i ℓ_i with ℓ_i = mean over objective i's pairs of −log σ(β_i·(l_w − l_l)). */
export function referenceArmLoss(
  config: LlamaConfig,
  weights: ModelWeights,
  adapter: ReferenceAdapter,
  pairs: readonly ReferencePair[],
  alpha: readonly number[],
  beta: readonly number[],
): { total: number; perObjective: number[]; margins: number[] } {
  const margins = pairs.map(
    (p) =>
      referenceSequenceLogprob(config, weights, p.first.ids, p.first.labels, adapter, alpha) -
      referenceSequenceLogprob(config, weights, p.second.ids, p.second.labels, adapter, alpha),
  );
  const perObjective = beta.map((b, i) => {
    let s = 0;
    let n = 0;
    pairs.forEach((p, j) => {
      if (!p.counts[i]) return;
      const z = b * p.sign[i] * margins[j];
      s += Math.log1p(Math.exp(-Math.abs(z))) + Math.max(-z, 0); // −log σ(z)
      n++;
    });
    return n > 0 ? s / n : 0;
  });
  return { total: perObjective.reduce((acc, l, i) => acc + alpha[i] * l, 0), perObjective, margins };
}

/** A random model for `config` (uniform weights scaled by 1/√fan_in, norms near 1) drawn from `random`. */
export function randomTinyWeights(config: LlamaConfig, random: () => number): Map<string, { shape: number[]; data: Float32Array }> {
  const { dim, vocabSize, ffnDim } = config;
  const q = config.nHeads * config.headDim;
  const kv = config.nKvHeads * config.headDim;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, shape: number[], scale: number, offset = 0) =>
    out.set(name, { shape, data: Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => offset + (2 * random() - 1) * scale) });
  put("tok_embeddings", [vocabSize, dim], 1);
  for (let i = 0; i < config.nLayers; i++) {
    const p = `layers.${i}.`;
    put(`${p}attn_norm`, [dim], 0.2, 1);
    put(`${p}wq`, [q, dim], 1 / Math.sqrt(dim));
    put(`${p}wk`, [kv, dim], 1 / Math.sqrt(dim));
    put(`${p}wv`, [kv, dim], 1 / Math.sqrt(dim));
    if (config.qkvBias) {
      put(`${p}bq`, [q], 0.2);
      put(`${p}bk`, [kv], 0.2);
      put(`${p}bv`, [kv], 0.2);
    }
    put(`${p}wo`, [dim, q], 1 / Math.sqrt(q));
    put(`${p}ffn_norm`, [dim], 0.2, 1);
    put(`${p}w_gate`, [ffnDim, dim], 1 / Math.sqrt(dim));
    put(`${p}w_up`, [ffnDim, dim], 1 / Math.sqrt(dim));
    put(`${p}w_down`, [dim, ffnDim], 1 / Math.sqrt(ffnDim));
  }
  put("norm", [dim], 0.2, 1);
  if (!config.tiedEmbeddings) put("output", [vocabSize, dim], 1 / Math.sqrt(dim));
  return out;
}

/** A tiny LLaMA config for tests; override any field. */
export function tinyConfig(overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    vocabSize: 37,
    dim: 16,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 4,
    ffnDim: 24,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeLayout: "interleaved",
    maxSeqLen: 64,
    tiedEmbeddings: true,
    qkvBias: false,
    bosId: 1,
    eosId: 2,
    ...overrides,
  };
}
