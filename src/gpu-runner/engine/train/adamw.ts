/** @module engine/train/adamw
 * AdamW (Loshchilov & Hutter) over named Float32Array parameters, with PyTorch `torch.optim.AdamW` semantics:
 *   θ ← θ·(1 − lr·λ)                      (decoupled weight decay, applied first)
 *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²
 *   θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
 * Defaults as torch: lr 1e-3, β = (0.9, 0.999), ε = 1e-8, λ = 0.01. Per-element arithmetic is float64, moments
 * are stored as float32 (as torch's fp32 state). Parameters are updated in place. A step validates every
 * gradient (presence, length, finiteness) before touching any parameter.
 */
import { EngineError } from "../util/errors.ts";

export type OptimizerErrorCode = "MISSING_GRADIENT" | "UNKNOWN_GRADIENT" | "SHAPE_MISMATCH" | "NON_FINITE_GRADIENT" | "INVALID_OPTIONS" | "INVALID_STATE";

export class OptimizerError extends EngineError<OptimizerErrorCode> {
  static override readonly category = { INVALID_OPTIONS: "invalid-input" } as const;
}

export interface AdamWOptions {
  readonly lr?: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  readonly weightDecay?: number;
}

export interface AdamWState {
  readonly step: number;
  readonly options: Required<AdamWOptions>;
  /** name → first and second moments. */
  readonly moments: ReadonlyMap<string, { readonly m: Float32Array; readonly v: Float32Array }>;
}

export class AdamW {
  readonly params: ReadonlyMap<string, Float32Array>;
  private options: Required<AdamWOptions>;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private steps = 0;

  constructor(params: Iterable<readonly [string, Float32Array]>, options: AdamWOptions = {}) {
    this.params = new Map(params);
    if (this.params.size === 0) throw new OptimizerError("INVALID_OPTIONS", "AdamW needs at least one parameter");
    this.options = AdamW.checkOptions({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, ...options });
    for (const [name, p] of this.params) {
      this.m.set(name, new Float32Array(p.length));
      this.v.set(name, new Float32Array(p.length));
    }
  }

  private static checkOptions(o: Required<AdamWOptions>): Required<AdamWOptions> {
    const [b1, b2] = o.betas;
    if (!(o.lr >= 0)) throw new OptimizerError("INVALID_OPTIONS", `lr must be ≥ 0, got ${o.lr}`);
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new OptimizerError("INVALID_OPTIONS", `betas must lie in [0, 1), got [${o.betas}]`);
    if (!(o.eps > 0)) throw new OptimizerError("INVALID_OPTIONS", `eps must be > 0, got ${o.eps}`);
    if (!(o.weightDecay >= 0)) throw new OptimizerError("INVALID_OPTIONS", `weightDecay must be ≥ 0, got ${o.weightDecay}`);
    return { ...o, betas: [b1, b2] };
  }

  get stepCount(): number {
    return this.steps;
  }

  get lr(): number {
    return this.options.lr;
  }

  /** One update. `lr` overrides the base rate for this step (e.g. from a schedule). */
  step(grads: ReadonlyMap<string, Float32Array>, lr: number = this.options.lr): void {
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) throw new OptimizerError("MISSING_GRADIENT", `no gradient for parameter ${name}`);
      if (g.length !== p.length) throw new OptimizerError("SHAPE_MISMATCH", `gradient ${name} has ${g.length} values, the parameter ${p.length}`);
      for (let i = 0; i < g.length; i++) {
        if (!Number.isFinite(g[i])) throw new OptimizerError("NON_FINITE_GRADIENT", `gradient ${name}[${i}] is ${g[i]}`);
      }
    }
    for (const name of grads.keys()) if (!this.params.has(name)) throw new OptimizerError("UNKNOWN_GRADIENT", `gradient ${name} matches no parameter`);
    if (!(lr >= 0)) throw new OptimizerError("INVALID_OPTIONS", `lr must be ≥ 0, got ${lr}`);
    this.steps += 1;
    const { eps, weightDecay } = this.options;
    const [b1, b2] = this.options.betas;
    const bc1 = 1 - Math.pow(b1, this.steps);
    const sqrtBc2 = Math.sqrt(1 - Math.pow(b2, this.steps));
    const stepSize = lr / bc1;
    const decay = 1 - lr * weightDecay;
    for (const [name, p] of this.params) {
      const g = grads.get(name)!;
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
      }
    }
  }

  /** A deep copy of step count, options and moments. */
  exportState(): AdamWState {
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const name of this.params.keys()) moments.set(name, { m: this.m.get(name)!.slice(), v: this.v.get(name)!.slice() });
    return { step: this.steps, options: { ...this.options }, moments };
  }

  importState(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new OptimizerError("INVALID_STATE", `step must be a non-negative integer, got ${state.step}`);
    for (const [name, p] of this.params) {
      const moment = state.moments.get(name);
      if (!moment) throw new OptimizerError("INVALID_STATE", `optimizer state has no moments for ${name}`);
      if (moment.m.length !== p.length || moment.v.length !== p.length) throw new OptimizerError("INVALID_STATE", `moments of ${name} do not match its ${p.length} values`);
    }
    for (const name of state.moments.keys()) if (!this.params.has(name)) throw new OptimizerError("INVALID_STATE", `optimizer state has moments for unknown parameter ${name}`);
    this.options = AdamW.checkOptions({ ...state.options });
    this.steps = state.step;
    for (const [name, moment] of state.moments) {
      this.m.set(name, moment.m.slice());
      this.v.set(name, moment.v.slice());
    }
  }
}

/** Scales gradients in place so their global L2 norm is at most `maxNorm` (torch `clip_grad_norm_`, HF Trainer
 *  default 1.0). Returns the norm before clipping. */
export function clipGradNorm(grads: ReadonlyMap<string, Float32Array>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new OptimizerError("INVALID_OPTIONS", `maxNorm must be > 0, got ${maxNorm}`);
  let sumSquares = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sumSquares += g[i] * g[i];
  const norm = Math.sqrt(sumSquares);
  const coefficient = maxNorm / (norm + 1e-6);
  if (coefficient < 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= coefficient;
  return norm;
}
