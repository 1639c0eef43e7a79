/** @module engine/model/reference-forward
 * A plain TypeScript float64 LLaMA-family forward with run.c semantics, used as the oracle for the ONNX graphs
 * and for golden tests: pre-RMSNorm (`g·x/√(mean(x²)+eps)`), q/k/v projections (+ bias when `qkvBias`), RoPE
 * (interleaved pairs (x[2j], x[2j+1]) or rotate-half pairs (x[j], x[j+d/2]), frequency θ^(−2j/d)), causal
 * grouped-query attention scaled by 1/√headDim, SwiGLU MLP `W_down(silu(W_gate·x) ⊙ W_up·x)`, final norm and
 * the classifier (tied embeddings when `tiedEmbeddings`). Weights stay float32; every sum is float64.
 * It decodes one token at a time with a KV cache, which is exactly a causal forward over the sequence.
 *
 * `projectionDelta` adds a term to a q/k/v/o projection output before bias and RoPE (e.g. a PBLoRA branch
 * `s·B·W(α)·A·x`), so adapter graphs can be checked against it.
 */
import { EngineError } from "../util/errors.ts";
import { validateModelWeights } from "../util/loaded-model.ts";
import type { LlamaConfig, ModelWeights, WeightTensor } from "./config.ts";

export type AdaptedProjection = "wq" | "wk" | "wv" | "wo";

export interface ReferenceForwardOptions {
  /** Extra term for a projection's output given its input (length = that projection's input size). */
  readonly projectionDelta?: (layer: number, projection: AdaptedProjection, input: Float64Array) => Float64Array | undefined;
}

export class ReferenceForwardError extends EngineError<"TOKEN_ID_OUT_OF_RANGE" | "CONTEXT_FULL" | "BAD_DELTA"> {
  static override readonly category = { CONTEXT_FULL: "context-exceeded" } as const;
}

/** y = W·x for row-major W (rows × cols). */
function matVec(w: Float32Array, x: Float64Array, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) sum += w[base + c] * x[c];
    y[r] = sum;
  }
  return y;
}

function rmsNorm(x: Float64Array, g: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = g[i] * x[i] * scale;
  return out;
}

/** Rotates every head of `v` (nHeads × headDim) in place for position `pos`. */
export function applyRope(v: Float64Array, nHeads: number, headDim: number, pos: number, theta: number, layout: LlamaConfig["ropeLayout"]): void {
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    const base = h * headDim;
    for (let j = 0; j < half; j++) {
      const angle = pos * Math.pow(theta, (-2 * j) / headDim);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const i0 = layout === "interleaved" ? base + 2 * j : base + j;
      const i1 = layout === "interleaved" ? base + 2 * j + 1 : base + j + half;
      const a = v[i0];
      const b = v[i1];
      v[i0] = a * cos - b * sin;
      v[i1] = a * sin + b * cos;
    }
  }
}

export class ReferenceForward {
  readonly config: LlamaConfig;
  private readonly weights: ModelWeights;
  private readonly options: ReferenceForwardOptions;
  private readonly keyCache: Float64Array[][] = [];
  private readonly valueCache: Float64Array[][] = [];
  /** Number of tokens consumed so far (the next token's position). */
  position = 0;

  constructor(config: LlamaConfig, weights: ModelWeights, options: ReferenceForwardOptions = {}) {
    validateModelWeights(config, weights);
    this.config = config;
    this.weights = weights;
    this.options = options;
    for (let l = 0; l < config.nLayers; l++) {
      this.keyCache.push([]);
      this.valueCache.push([]);
    }
  }

  private w(name: string): WeightTensor {
    return this.weights.get(name)!;
  }

  private project(layer: number, name: AdaptedProjection, x: Float64Array, rows: number): Float64Array {
    const y = matVec(this.w(`layers.${layer}.${name}`).data, x, rows, x.length);
    const delta = this.options.projectionDelta?.(layer, name, x);
    if (delta) {
      if (delta.length !== rows) throw new ReferenceForwardError("BAD_DELTA", `projectionDelta for layers.${layer}.${name} returned ${delta.length} values, expected ${rows}`);
      for (let i = 0; i < rows; i++) y[i] += delta[i];
    }
    return y;
  }

  /** Consumes one token at the next position and returns the next-token logits (float64, length vocabSize). */
  step(token: number): Float64Array {
    const c = this.config;
    if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
      throw new ReferenceForwardError("TOKEN_ID_OUT_OF_RANGE", `token id ${token} is outside [0, ${c.vocabSize})`);
    }
    if (this.position >= c.maxSeqLen) throw new ReferenceForwardError("CONTEXT_FULL", `position ${this.position} reaches maxSeqLen ${c.maxSeqLen}`);
    const pos = this.position++;
    const { dim, nHeads, nKvHeads, headDim, ffnDim } = c;
    const group = nHeads / nKvHeads;
    const embedding = this.w("tok_embeddings").data;
    const x = new Float64Array(dim);
    for (let i = 0; i < dim; i++) x[i] = embedding[token * dim + i];
    const scale = 1 / Math.sqrt(headDim);
    for (let l = 0; l < c.nLayers; l++) {
      const p = `layers.${l}.`;
      const xb = rmsNorm(x, this.w(`${p}attn_norm`).data, c.normEps);
      const q = this.project(l, "wq", xb, nHeads * headDim);
      const k = this.project(l, "wk", xb, nKvHeads * headDim);
      const v = this.project(l, "wv", xb, nKvHeads * headDim);
      if (c.qkvBias) {
        const bq = this.w(`${p}bq`).data, bk = this.w(`${p}bk`).data, bv = this.w(`${p}bv`).data;
        for (let i = 0; i < q.length; i++) q[i] += bq[i];
        for (let i = 0; i < k.length; i++) k[i] += bk[i];
        for (let i = 0; i < v.length; i++) v[i] += bv[i];
      }
      applyRope(q, nHeads, headDim, pos, c.ropeTheta, c.ropeLayout);
      applyRope(k, nKvHeads, headDim, pos, c.ropeTheta, c.ropeLayout);
      this.keyCache[l].push(k);
      this.valueCache[l].push(v);
      const attended = new Float64Array(nHeads * headDim);
      const scores = new Float64Array(pos + 1);
      for (let h = 0; h < nHeads; h++) {
        const kvBase = Math.floor(h / group) * headDim;
        let max = -Infinity;
        for (let t = 0; t <= pos; t++) {
          const kt = this.keyCache[l][t];
          let s = 0;
          for (let i = 0; i < headDim; i++) s += q[h * headDim + i] * kt[kvBase + i];
          scores[t] = s * scale;
          if (scores[t] > max) max = scores[t];
        }
        let sum = 0;
        for (let t = 0; t <= pos; t++) {
          scores[t] = Math.exp(scores[t] - max);
          sum += scores[t];
        }
        for (let t = 0; t <= pos; t++) {
          const weight = scores[t] / sum;
          const vt = this.valueCache[l][t];
          for (let i = 0; i < headDim; i++) attended[h * headDim + i] += weight * vt[kvBase + i];
        }
      }
      const o = this.project(l, "wo", attended, dim);
      for (let i = 0; i < dim; i++) x[i] += o[i];
      const xf = rmsNorm(x, this.w(`${p}ffn_norm`).data, c.normEps);
      const gate = matVec(this.w(`${p}w_gate`).data, xf, ffnDim, dim);
      const up = matVec(this.w(`${p}w_up`).data, xf, ffnDim, dim);
      for (let i = 0; i < ffnDim; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      const down = matVec(this.w(`${p}w_down`).data, gate, dim, ffnDim);
      for (let i = 0; i < dim; i++) x[i] += down[i];
    }
    const final = rmsNorm(x, this.w("norm").data, c.normEps);
    const classifier = this.w(c.tiedEmbeddings ? "tok_embeddings" : "output").data;
    return matVec(classifier, final, c.vocabSize, dim);
  }
}

export function logSoftmax(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return logits.map((v) => v - lse);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Logits after each token of `ids` (row t predicts ids[t+1]). */
export function referenceLogits(config: LlamaConfig, weights: ModelWeights, ids: readonly number[], options?: ReferenceForwardOptions): Float64Array[] {
  const forward = new ReferenceForward(config, weights, options);
  return ids.map((id) => forward.step(id));
}

/** log p(ids[t+1] | ids[0..t]) for t = 0 … len−2. */
export function referenceNextTokenLogProbs(config: LlamaConfig, weights: ModelWeights, ids: readonly number[], options?: ReferenceForwardOptions): number[] {
  const logits = referenceLogits(config, weights, ids.slice(0, -1), options);
  return logits.map((row, t) => logSoftmax(row)[ids[t + 1]]);
}

/** Greedy decoding: feeds `promptIds`, then appends argmax tokens for `steps` steps; stops early after emitting
 *  any id in `stopIds`. Returns prompt plus generated ids. */
export function referenceGreedy(
  config: LlamaConfig,
  weights: ModelWeights,
  promptIds: readonly number[],
  steps: number,
  options: ReferenceForwardOptions & { readonly stopIds?: readonly number[] } = {},
): number[] {
  const forward = new ReferenceForward(config, weights, options);
  const ids = [...promptIds];
  let logits: Float64Array | undefined;
  for (const id of promptIds) logits = forward.step(id);
  for (let s = 0; s < steps && logits; s++) {
    const next = argmax(logits);
    ids.push(next);
    if (options.stopIds?.includes(next) || forward.position >= config.maxSeqLen) break;
    logits = forward.step(next);
  }
  return ids;
}
