/**
 * @module engine/model/pblora
 * PBLoRA (parm-method.md §1) and plain LoRA adapters on the linear layers of a LLaMA-family decoder.
 *
 * PBLoRA on W0 ∈ R^{m×n}: h = W0·x + s·B·blockdiag(W1, Σ_i α_i·W2_i)·A·x with
 *   A ∈ R^{(r1+r2)×n}, B ∈ R^{m×(r1+r2)}, W1 ∈ R^{r1×r1}, W2 ∈ R^{k×r2²} (row i = W2_i row-major), s = loraAlpha/r2.
 * Plain LoRA (GenARM): h = W0·x + s·B·A·x with A ∈ R^{r×n}, B ∈ R^{m×r}, s = loraAlpha/r.
 * The graph computes x→A→middle→B in low rank, never a dense ΔW. α is a graph input [batch, k]: each batch row
 * carries its own preference vector.
 *
 * Tensor names: `layers.{i}.{target}.pblora_{A,B,W1,W2}` and `layers.{i}.{target}.lora_{A,B}`.
 * Init as in PEFT: A, W1, W2 Kaiming-uniform(a=√5), i.e. U(−1/√fan_in, 1/√fan_in) with fan_in = shape[1]; B zeros.
 */
import { GraphShapeError, type GraphBuilder, type RandomSource, type Value } from "../onnx/index.ts";
import { TRAINING_RECIPES } from "../../../contracts/training-recipe.ts";
import { EngineError, type EngineErrorOptions } from "../util/errors.ts";
import type { LlamaConfig } from "./config.ts";

export type AdapterTarget = "q" | "k" | "v" | "o" | "gate" | "up" | "down";
export const ADAPTER_TARGETS: readonly AdapterTarget[] = ["q", "k", "v", "o", "gate", "up", "down"];

export interface PbloraSpec {
  readonly mode: "pblora";
  /** Rank of the preference-agnostic block W1 (may be 0). */
  readonly r1: number;
  /** Rank of the preference-aware block W2(α) (≥ 1). */
  readonly r2: number;
  /** Number of objectives k (length of α). */
  readonly numObjectives: number;
  readonly loraAlpha: number;
  /** Adapted projections; PARM uses q, k, v. */
  readonly targets: readonly AdapterTarget[];
}

export interface LoraSpec {
  readonly mode: "lora";
  readonly rank: number;
  readonly loraAlpha: number;
  readonly targets: readonly AdapterTarget[];
}

export type AdapterSpec = PbloraSpec | LoraSpec;

export class AdapterSpecError extends EngineError<"ADAPTER_SPEC_INVALID"> {
  static override readonly category = "invalid-input";
  constructor(message: string, options?: EngineErrorOptions) {
    super("ADAPTER_SPEC_INVALID", message, options);
  }
}

/** Defaults: PARM's reference recipe (contracts/training-recipe.ts: r1 = r2 = 4, loraAlpha 8), targets q, k, v. */
export function pbloraSpec(options: Partial<Omit<PbloraSpec, "mode">> & { numObjectives: number }): PbloraSpec {
  const spec: PbloraSpec = {
    mode: "pblora",
    r1: options.r1 ?? TRAINING_RECIPES.PARM.r1,
    r2: options.r2 ?? TRAINING_RECIPES.PARM.r2,
    numObjectives: options.numObjectives,
    loraAlpha: options.loraAlpha ?? TRAINING_RECIPES.PARM.loraAlpha,
    targets: options.targets ?? ["q", "k", "v"],
  };
  validateAdapterSpec(spec);
  return spec;
}

export function validateAdapterSpec(spec: AdapterSpec): void {
  const int = (v: number, min: number, what: string) => {
    if (!Number.isInteger(v) || v < min) throw new AdapterSpecError(`${what} must be an integer ≥ ${min}, got ${v}`);
  };
  switch (spec.mode) {
    case "pblora":
      int(spec.r1, 0, "r1");
      int(spec.r2, 1, "r2");
      int(spec.numObjectives, 1, "numObjectives");
      break;
    case "lora":
      int(spec.rank, 1, "rank");
      break;
    default:
      throw new AdapterSpecError(`unknown adapter mode ${JSON.stringify((spec as { mode: unknown }).mode)}`);
  }
  if (!(spec.loraAlpha > 0)) throw new AdapterSpecError(`loraAlpha must be positive, got ${spec.loraAlpha}`);
  if (spec.targets.length === 0) throw new AdapterSpecError("targets must not be empty");
  for (const t of spec.targets) if (!ADAPTER_TARGETS.includes(t)) throw new AdapterSpecError(`unknown adapter target "${t}"`);
  if (new Set(spec.targets).size !== spec.targets.length) throw new AdapterSpecError("targets repeat");
}

/** The scalar s multiplying the adapter branch. */
export function adapterScale(spec: AdapterSpec): number {
  return spec.mode === "pblora" ? spec.loraAlpha / spec.r2 : spec.loraAlpha / spec.rank;
}

/** Number of objectives α has (1 for plain LoRA, which takes no α). */
export function adapterObjectives(spec: AdapterSpec): number {
  return spec.mode === "pblora" ? spec.numObjectives : 1;
}

/** (in, out) of the projection an adapter target wraps. */
export function targetDims(config: LlamaConfig, target: AdapterTarget): { readonly inDim: number; readonly outDim: number } {
  const q = config.nHeads * config.headDim;
  const kv = config.nKvHeads * config.headDim;
  switch (target) {
    case "q":
      return { inDim: config.dim, outDim: q };
    case "k":
    case "v":
      return { inDim: config.dim, outDim: kv };
    case "o":
      return { inDim: q, outDim: config.dim };
    case "gate":
    case "up":
      return { inDim: config.dim, outDim: config.ffnDim };
    case "down":
      return { inDim: config.ffnDim, outDim: config.dim };
    default:
      throw new AdapterSpecError(`unknown adapter target "${String(target satisfies never)}"`);
  }
}

export function adapterTensorName(layer: number, target: AdapterTarget, part: string): string {
  return `layers.${layer}.${target}.${part}`;
}

/** Every adapter tensor's name and shape, in a stable order (layer, target, part). */
export function adapterTensorShapes(config: LlamaConfig, spec: AdapterSpec): Map<string, readonly number[]> {
  validateAdapterSpec(spec);
  const shapes = new Map<string, readonly number[]>();
  for (let layer = 0; layer < config.nLayers; layer++) {
    for (const target of ADAPTER_TARGETS) {
      if (!spec.targets.includes(target)) continue;
      const { inDim, outDim } = targetDims(config, target);
      const name = (part: string) => adapterTensorName(layer, target, part);
      if (spec.mode === "pblora") {
        const r = spec.r1 + spec.r2;
        shapes.set(name("pblora_A"), [r, inDim]);
        shapes.set(name("pblora_B"), [outDim, r]);
        if (spec.r1 > 0) shapes.set(name("pblora_W1"), [spec.r1, spec.r1]);
        shapes.set(name("pblora_W2"), [spec.numObjectives, spec.r2 * spec.r2]);
      } else {
        shapes.set(name("lora_A"), [spec.rank, inDim]);
        shapes.set(name("lora_B"), [outDim, spec.rank]);
      }
    }
  }
  return shapes;
}

/** Fresh adapter tensors: Kaiming-uniform(a=√5) A / W1 / W2 and zero B, drawn from `random` in name order. */
export function initAdapterTensors(config: LlamaConfig, spec: AdapterSpec, random: RandomSource): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of adapterTensorShapes(config, spec)) {
    const data = new Float32Array(shape[0] * shape[1]);
    if (!name.endsWith("_B")) {
      const bound = 1 / Math.sqrt(shape[1]);
      for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * bound;
    }
    out.set(name, data);
  }
  return out;
}

/** Graph values of one layer-target's adapter tensors (whatever their placement: inputs or initializers). */
export type AdapterValues = ReadonlyMap<string, Value>;

/** Graph input name of the adapter-input dropout mask of one layer-target (train graphs built with dropout). */
export function dropoutMaskName(layer: number, target: AdapterTarget): string {
  return `dropout_mask.layers.${layer}.${target}`;
}

/**
 * The adapter branch s·B·middle·A·dropout(x) for input x [batch, ..., inDim]; returns [batch, ..., outDim].
 * `alpha` [batch, k] is required for PBLoRA and ignored by plain LoRA. `dropoutMask` (x's shape, entries 0 or
 * 1/(1−p)) is PEFT's adapter-input dropout with the mask given: dropout(x) = x ⊙ mask (training graphs only).
 */
export function buildAdapterDelta(
  b: GraphBuilder,
  spec: AdapterSpec,
  values: AdapterValues,
  layer: number,
  target: AdapterTarget,
  input: Value,
  alpha: Value | undefined,
  dropoutMask?: Value,
): Value {
  const x = dropoutMask ? b.mul(input, dropoutMask) : input;
  const get = (part: string): Value => {
    const name = adapterTensorName(layer, target, part);
    const v = values.get(name);
    if (!v) throw new AdapterSpecError(`adapter tensor "${name}" is missing`);
    if (v.dtype !== x.dtype) throw new GraphShapeError(`adapter tensor "${name}" is ${v.dtype}, activations are ${x.dtype}`);
    return v;
  };
  const scale = b.scalar(adapterScale(spec), x.dtype === "float64" ? "float64" : "float32");
  switch (spec.mode) {
    case "lora": {
      const u = b.matMul(x, b.transpose(get("lora_A")));
      return b.matMul(b.mul(u, scale), b.transpose(get("lora_B")));
    }
    case "pblora": {
      if (!alpha) throw new AdapterSpecError("PBLoRA needs an α input");
      if (x.shape.length === 2) {
        const rows = buildAdapterDelta(b, spec, values, layer, target, b.unsqueeze(x, [1]), alpha);
        return b.squeeze(rows, [1]);
      }
      const batch = x.shape[0];
      if (alpha.shape.length !== 2 || alpha.shape[0] !== batch || alpha.shape[1] !== spec.numObjectives) {
        throw new GraphShapeError(`α must be [${batch}, ${spec.numObjectives}], got [${alpha.shape.join(",")}]`);
      }
      const { r1, r2 } = spec;
      const u = b.matMul(x, b.transpose(get("pblora_A")));
      const [u1, u2] = r1 > 0 ? b.split(u, -1, [r1, r2]) : [undefined, u];
      // W2(α)_b = reshape(α_b · W2, r2×r2); u2 · W2(α)_bᵀ per batch row.
      const w2Alpha = b.reshape(b.matMul(alpha, get("pblora_W2")), [batch, r2, r2]);
      const lead = x.shape.length - 2;
      const w2Batched = lead > 1 ? b.reshape(w2Alpha, [batch, ...new Array<number>(lead - 1).fill(1), r2, r2]) : w2Alpha;
      const v2 = b.matMul(u2, b.transposeLast2(w2Batched));
      const v = u1 ? b.concat([b.matMul(u1, b.transpose(get("pblora_W1"))), v2], -1) : v2;
      return b.matMul(b.mul(v, scale), b.transpose(get("pblora_B")));
    }
    default:
      throw new AdapterSpecError(`unknown adapter mode ${JSON.stringify((spec as { mode: unknown }).mode)}`);
  }
}

/**
 * The dense ΔW(α) = s·B·blockdiag(W1, Σ α_i W2_i)·A ∈ R^{m×n} of one layer-target, computed in TypeScript
 * (float64) for tests, merging and inspection. Never used by the graphs.
 */
export function denseAdapterDelta(
  config: LlamaConfig,
  spec: AdapterSpec,
  tensors: ReadonlyMap<string, ArrayLike<number>>,
  layer: number,
  target: AdapterTarget,
  alpha?: readonly number[],
): Float64Array {
  const { inDim: n, outDim: m } = targetDims(config, target);
  const t = (part: string): ArrayLike<number> => {
    const v = tensors.get(adapterTensorName(layer, target, part));
    if (!v) throw new AdapterSpecError(`adapter tensor "${adapterTensorName(layer, target, part)}" is missing`);
    return v;
  };
  let r: number;
  let middle: Float64Array;
  let A: ArrayLike<number>;
  let B: ArrayLike<number>;
  if (spec.mode === "pblora") {
    if (!alpha || alpha.length !== spec.numObjectives) throw new AdapterSpecError(`α must have ${spec.numObjectives} entries`);
    const { r1, r2 } = spec;
    r = r1 + r2;
    middle = new Float64Array(r * r);
    if (r1 > 0) {
      const w1 = t("pblora_W1");
      for (let i = 0; i < r1; i++) for (let j = 0; j < r1; j++) middle[i * r + j] = w1[i * r1 + j];
    }
    const w2 = t("pblora_W2");
    for (let i = 0; i < r2; i++) {
      for (let j = 0; j < r2; j++) {
        let s = 0;
        for (let o = 0; o < spec.numObjectives; o++) s += alpha[o] * w2[o * r2 * r2 + i * r2 + j];
        middle[(r1 + i) * r + r1 + j] = s;
      }
    }
    A = t("pblora_A");
    B = t("pblora_B");
  } else {
    r = spec.rank;
    middle = new Float64Array(r * r);
    for (let i = 0; i < r; i++) middle[i * r + i] = 1;
    A = t("lora_A");
    B = t("lora_B");
  }
  const s = adapterScale(spec);
  const mA = new Float64Array(r * n); // middle · A
  for (let i = 0; i < r; i++) for (let k = 0; k < r; k++) {
    const c = middle[i * r + k];
    if (c !== 0) for (let j = 0; j < n; j++) mA[i * n + j] += c * A[k * n + j];
  }
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let k = 0; k < r; k++) {
    const c = s * B[i * r + k];
    if (c !== 0) for (let j = 0; j < n; j++) out[i * n + j] += c * mA[k * n + j];
  }
  return out;
}
