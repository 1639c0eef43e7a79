/**
 * @module engine/session/gradient-check
 * Central finite-difference checks of gradients that a graph computes (autodiff output) against its own loss:
 * (L(θ+h·e_j) − L(θ−h·e_j)) / 2h for each checked element, for every step h in `steps`; per tensor the step with
 * the lowest relative L2 error is kept (the error follows a V curve in h: truncation vs round-off).
 * Meant for float64 graphs run at graphOptimizationLevel "disabled" or "basic".
 */
import { EngineError, type EngineErrorOptions } from "../util/errors.ts";
import type { EngineSession, HostTensor } from "./session.ts";

export interface GradientCheck {
  /** Feed to perturb (float64). */
  readonly input: string;
  /** Graph output holding d(loss)/d(input). */
  readonly gradientOutput: string;
  /** Graph output whose element sum is the loss. */
  readonly lossOutput: string;
}

export interface GradientCheckOptions {
  /** Step sizes tried per tensor (default 1e-3, 1e-4, 1e-5). */
  readonly steps?: readonly number[];
  /** Check at most this many elements per tensor, chosen at random (default: all). */
  readonly maxElementsPerTensor?: number;
  /** Random source in [0, 1) for element sampling (default Math.random). */
  readonly random?: () => number;
  /** Checks with different loss outputs may be perturbed in the same run: every loss depends only on its own
   *  checks' inputs. Cuts runs for many small independent subgraphs in one session. Default false. */
  readonly independentLosses?: boolean;
}

export interface GradientCheckResult {
  readonly input: string;
  readonly relativeL2: number;
  readonly bestStep: number;
  readonly maxAbsError: number;
  readonly gradientNorm: number;
  readonly elementsChecked: number;
}

class GradientCheckError extends EngineError<"GRADIENT_CHECK_INVALID"> {
  constructor(message: string, options?: EngineErrorOptions) {
    super("GRADIENT_CHECK_INVALID", message, options);
  }
}

function sum(t: HostTensor | undefined, name: string): number {
  if (!t || !(t.data instanceof Float64Array || t.data instanceof Float32Array)) {
    throw new GradientCheckError(`loss output "${name}" is missing or not float`);
  }
  let s = 0;
  for (const v of t.data) s += v;
  return s;
}

function pickElements(length: number, max: number | undefined, random: () => number): number[] {
  const all = Array.from({ length }, (_, i) => i);
  if (max === undefined || max >= length) return all;
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, max).sort((a, b) => a - b);
}

/** Runs the checks; `feeds` arrays are perturbed in place during the run and restored before returning. */
export async function checkGradients(
  session: EngineSession,
  feeds: Readonly<Record<string, HostTensor>>,
  checks: readonly GradientCheck[],
  options: GradientCheckOptions = {},
): Promise<GradientCheckResult[]> {
  const steps = options.steps ?? [1e-3, 1e-4, 1e-5];
  const random = options.random ?? Math.random;
  const base = await session.run(feeds);
  const plan = checks.map((check) => {
    const feed = feeds[check.input];
    if (!feed || !(feed.data instanceof Float64Array)) throw new GradientCheckError(`feed "${check.input}" is missing or not float64`);
    const grad = base[check.gradientOutput];
    if (!grad || grad.data.length !== feed.data.length) {
      throw new GradientCheckError(`gradient output "${check.gradientOutput}" is missing or mis-sized for "${check.input}"`);
    }
    const elements = pickElements(feed.data.length, options.maxElementsPerTensor, random);
    return {
      check,
      data: feed.data,
      analytic: Float64Array.from(elements, (e) => Number(grad.data[e])),
      elements,
      fd: steps.map(() => new Float64Array(elements.length)),
    };
  });
  // Slots: sets of checks perturbed together (one per run unless losses are independent).
  const slots: (typeof plan)[] = [];
  if (options.independentLosses) {
    const perLoss = new Map<string, number>();
    for (const p of plan) {
      const s = perLoss.get(p.check.lossOutput) ?? 0;
      perLoss.set(p.check.lossOutput, s + 1);
      (slots[s] ??= []).push(p);
    }
  } else {
    for (const p of plan) slots.push([p]);
  }
  const lossNames = [...new Set(checks.map((c) => c.lossOutput))];
  for (const slot of slots) {
    const rounds = Math.max(...slot.map((p) => p.elements.length));
    for (let si = 0; si < steps.length; si++) {
      const h = steps[si];
      for (let r = 0; r < rounds; r++) {
        const active = slot.filter((p) => r < p.elements.length);
        const saved = active.map((p) => p.data[p.elements[r]]);
        active.forEach((p, i) => (p.data[p.elements[r]] = saved[i] + h));
        const plus = await session.run(feeds, lossNames);
        active.forEach((p, i) => (p.data[p.elements[r]] = saved[i] - h));
        const minus = await session.run(feeds, lossNames);
        active.forEach((p, i) => {
          p.data[p.elements[r]] = saved[i];
          const name = p.check.lossOutput;
          p.fd[si][r] = (sum(plus[name], name) - sum(minus[name], name)) / (2 * h);
        });
      }
    }
  }
  return plan.map((p) => {
    let best = { relativeL2: Number.POSITIVE_INFINITY, bestStep: steps[0], maxAbsError: Number.POSITIVE_INFINITY };
    let norm = 0;
    for (const a of p.analytic) norm += a * a;
    norm = Math.sqrt(norm);
    steps.forEach((h, si) => {
      let err = 0;
      let fdNorm = 0;
      let maxAbs = 0;
      for (let i = 0; i < p.analytic.length; i++) {
        const d = p.analytic[i] - p.fd[si][i];
        err += d * d;
        fdNorm += p.fd[si][i] * p.fd[si][i];
        maxAbs = Math.max(maxAbs, Math.abs(d));
      }
      const denom = Math.max(Math.sqrt(fdNorm), norm);
      const rel = denom === 0 ? 0 : Math.sqrt(err) / denom;
      if (rel < best.relativeL2) best = { relativeL2: rel, bestStep: h, maxAbsError: maxAbs };
    });
    return { input: p.check.input, ...best, gradientNorm: norm, elementsChecked: p.elements.length };
  });
}
