/**
 * @module engine/decode/guidance-graph
 * Guidance and selection as a small ONNX graph, so a decoding step on a GPU returns k candidate token ids per row
 * instead of V floats per model (issue 15 item 2). The same combination as guidance.ts:
 *
 *   log p̃ = log_softmax(base) + Σ_i w_i · log_softmax(guide_i),  renormalised (− logsumexp),  then TopK
 *
 * with per-row weights w [batch, guides]: PARM w = [1/β] (one guide, the ARM(·|α) row), GenARM w_i = α_i/β, none:
 * zero guides. log_softmax is written as x − (m + log Σ exp(x − m)), m = max x (ReduceMax), because onnxruntime's
 * WebGPU provider has no LogSoftmax kernel and would run it on the CPU.
 *
 *   inputs   base_logits [B, V] float32;  guide_logits.{i} [B, V] float32 (i < guides);  guide_weights [B, guides]
 *   outputs  top_logprobs [B, K] float32 (log p̃ of the K best tokens, descending);  top_ids [B, K] int64
 *
 * Logits must be finite (the decoders' are): a weight of 0 times a −∞ guide entry would be NaN, where guidance.ts
 * skips the guide. Ties go to the lower token id, as guidance.ts's argmax. With K = 1 the ids are greedy decoding.
 */
import { GraphBuilder, type SerializedModel, type Value } from "../onnx/index.ts";
import { EngineError } from "../util/errors.ts";

export const GUIDANCE_GRAPH = {
  baseLogits: "base_logits",
  guideLogits: (i: number) => `guide_logits.${i}`,
  guideWeights: "guide_weights",
  topLogprobs: "top_logprobs",
  topIds: "top_ids",
} as const;

export interface GuidanceGraphOptions {
  readonly batch: number;
  readonly vocab: number;
  /** 0 (unguided), 1 (PARM) or k (GenARM). */
  readonly guides: number;
  /** Candidates per row (1 = greedy). */
  readonly topK: number;
}

export class GuidanceGraphError extends EngineError<"INVALID_GUIDANCE_GRAPH"> {
  static override readonly category = "internal";
}

function logSoftmax(b: GraphBuilder, x: Value): Value {
  const m = b.reduceMax(x, [1], true);
  const shifted = b.sub(x, m);
  return b.sub(shifted, b.log(b.reduceSum(b.exp(shifted), [1], true)));
}

export function buildGuidanceGraph(options: GuidanceGraphOptions): SerializedModel {
  const { batch, vocab, guides, topK } = options;
  const positive = (v: number, what: string, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new GuidanceGraphError("INVALID_GUIDANCE_GRAPH", `${what} must be an integer >= ${min}, got ${v}`);
  };
  positive(batch, "batch", 1);
  positive(vocab, "vocab", 1);
  positive(guides, "guides", 0);
  positive(topK, "topK", 1);
  if (topK > vocab) throw new GuidanceGraphError("INVALID_GUIDANCE_GRAPH", `topK ${topK} exceeds the vocabulary (${vocab})`);
  const b = new GraphBuilder("guidance-select");
  let combined = logSoftmax(b, b.input(GUIDANCE_GRAPH.baseLogits, "float32", [batch, vocab]));
  if (guides > 0) {
    const weights = b.split(b.input(GUIDANCE_GRAPH.guideWeights, "float32", [batch, guides]), 1, Array.from({ length: guides }, () => 1));
    for (let i = 0; i < guides; i++) {
      const guide = logSoftmax(b, b.input(GUIDANCE_GRAPH.guideLogits(i), "float32", [batch, vocab]));
      combined = b.add(combined, b.mul(weights[i], guide));
    }
    combined = logSoftmax(b, combined);
  }
  const [values, ids] = b.topK(combined, topK, 1);
  b.output(values, GUIDANCE_GRAPH.topLogprobs);
  b.output(ids, GUIDANCE_GRAPH.topIds);
  return b.serialize();
}
