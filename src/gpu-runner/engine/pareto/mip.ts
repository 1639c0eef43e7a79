/**
 * @module engine/pareto/mip
 * Mean inner product (parm-method.md §5; Zhang et al. 2024c): MIP = (1/|A|) Σ_{α∈A} αᵀ r̄(α), with r̄(α) the mean
 * reward vector of the responses generated under α. Rewards are used as given: no normalisation is applied, so
 * objectives on different scales weigh differently — callers that normalise must record how.
 */
import { checkSimplexVector } from "./grid.ts";
import { checkVectors, ParetoInputError } from "./errors.ts";

/** One sweep entry: a preference vector and the mean reward vector it produced. */
export interface AlphaRewards {
  readonly alpha: readonly number[];
  readonly rewards: readonly number[];
}

/** αᵀ r̄ for one entry. */
export function innerProduct(alpha: readonly number[], rewards: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < alpha.length; i++) sum += alpha[i] * rewards[i];
  return sum;
}

/** MIP over the entries; every α must lie on the simplex and match its reward vector's length. */
export function meanInnerProduct(entries: readonly AlphaRewards[]): number {
  if (entries.length === 0) throw new ParetoInputError("EMPTY_INPUT", "MIP needs at least one (alpha, rewards) entry");
  const k = checkVectors(
    entries.map((e) => e.rewards),
    "rewards",
  );
  let total = 0;
  entries.forEach((entry, i) => {
    checkSimplexVector(entry.alpha, k, `alpha[${i}]`);
    total += innerProduct(entry.alpha, entry.rewards);
  });
  return total / entries.length;
}

/** r̄(α): the component-wise mean of the per-response reward vectors generated under one α. */
export function meanRewardVector(rewards: readonly (readonly number[])[]): number[] {
  if (rewards.length === 0) throw new ParetoInputError("EMPTY_INPUT", "a mean reward vector needs at least one scored response");
  const k = checkVectors(rewards, "rewards");
  const mean = new Array<number>(k).fill(0);
  for (const r of rewards) for (let i = 0; i < k; i++) mean[i] += r[i];
  return mean.map((sum) => sum / rewards.length);
}
