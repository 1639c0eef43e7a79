/** @module engine/train/schedule
 * Learning-rate schedule and gradient accumulation.
 *
 * `cosineWithWarmup` is HF `get_cosine_schedule_with_warmup` (num_cycles 0.5): the factor for optimizer update
 * number `step` (0-based, so the first update uses step 0 and, with warmup, a zero rate) is
 *   step / max(1, warmup)                                      while step < warmup
 *   max(0, ½·(1 + cos(π · 2·cycles · (step − warmup) / max(1, total − warmup))))   afterwards.
 * `linearWithWarmup` is HF `get_linear_schedule_with_warmup`.
 *
 * `GradientAccumulator` averages gradients over `steps` micro-batches (HF divides each micro-batch loss by the
 * accumulation steps, which is the same mean).
 */
import { EngineError } from "../util/errors.ts";

export class ScheduleError extends EngineError<"INVALID_OPTIONS" | "SHAPE_MISMATCH" | "NOT_READY"> {
  static override readonly category = { INVALID_OPTIONS: "invalid-input" } as const;
}

export interface WarmupScheduleOptions {
  readonly warmupSteps: number;
  readonly totalSteps: number;
  /** Number of cosine waves (HF default 0.5: one half-wave down to 0). */
  readonly cycles?: number;
}

function checkSchedule(o: WarmupScheduleOptions): void {
  if (!Number.isInteger(o.warmupSteps) || o.warmupSteps < 0) throw new ScheduleError("INVALID_OPTIONS", `warmupSteps must be an integer ≥ 0, got ${o.warmupSteps}`);
  if (!Number.isInteger(o.totalSteps) || o.totalSteps < 1) throw new ScheduleError("INVALID_OPTIONS", `totalSteps must be an integer ≥ 1, got ${o.totalSteps}`);
}

/** Multiplier of the base learning rate for update `step` (0-based). */
export function cosineWithWarmup(step: number, options: WarmupScheduleOptions): number {
  checkSchedule(options);
  const { warmupSteps, totalSteps } = options;
  const cycles = options.cycles ?? 0.5;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
}

export function linearWithWarmup(step: number, options: WarmupScheduleOptions): number {
  checkSchedule(options);
  const { warmupSteps, totalSteps } = options;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}

/** Optimizer updates for a run: ceil(examples / (microBatch · accumulation)) per epoch, times epochs
 *  (HF: the last, partial accumulation window of an epoch still makes an update). */
export function totalOptimizerSteps(options: { readonly examples: number; readonly microBatchSize: number; readonly accumulationSteps: number; readonly epochs: number }): number {
  const { examples, microBatchSize, accumulationSteps, epochs } = options;
  for (const [k, v] of Object.entries(options)) if (!Number.isInteger(v) || v < 1) throw new ScheduleError("INVALID_OPTIONS", `${k} must be an integer ≥ 1, got ${v}`);
  return Math.ceil(Math.ceil(examples / microBatchSize) / accumulationSteps) * epochs;
}

export class GradientAccumulator {
  readonly steps: number;
  private sums: Map<string, Float64Array> | undefined;
  private count = 0;

  constructor(steps: number) {
    if (!Number.isInteger(steps) || steps < 1) throw new ScheduleError("INVALID_OPTIONS", `accumulation steps must be an integer ≥ 1, got ${steps}`);
    this.steps = steps;
  }

  /** Micro-batches added since the last `take`. */
  get pending(): number {
    return this.count;
  }

  get ready(): boolean {
    return this.count >= this.steps;
  }

  add(grads: ReadonlyMap<string, Float32Array>): void {
    if (!this.sums) {
      this.sums = new Map([...grads].map(([name, g]) => [name, Float64Array.from(g)]));
    } else {
      if (grads.size !== this.sums.size) throw new ScheduleError("SHAPE_MISMATCH", `got ${grads.size} gradients, expected ${this.sums.size}`);
      for (const [name, g] of grads) {
        const sum = this.sums.get(name);
        if (!sum || sum.length !== g.length) throw new ScheduleError("SHAPE_MISMATCH", `gradient ${name} does not match the first micro-batch`);
        for (let i = 0; i < g.length; i++) sum[i] += g[i];
      }
    }
    this.count += 1;
  }

  /** The mean over the micro-batches added (fewer than `steps` at the end of an epoch), and a reset. */
  take(): Map<string, Float32Array> {
    if (!this.sums || this.count === 0) throw new ScheduleError("NOT_READY", "no gradients were accumulated");
    const mean = new Map<string, Float32Array>();
    for (const [name, sum] of this.sums) mean.set(name, Float32Array.from(sum, (s) => s / this.count));
    this.sums = undefined;
    this.count = 0;
    return mean;
  }
}
