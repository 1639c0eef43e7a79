/**
 * @module gpu-runner/handlers/train-evaluator — `train-evaluator` jobs: a scalar reward model for one dimension,
 * trained on the dataset label `labelName` over the records of `payload.trainSplit` (default VALIDATION, disjoint
 * from the ARM's TRAIN split) with `payload.heldOutSplit` (default TEST) held out for accuracy; the score head reads
 * the last token or the mean over the response tokens (`payload.pooling`, recorded in the evaluator file). Output:
 * `evaluators/<tenant>/<jobId>/evaluator.safetensors` (artifact kind "evaluator"; the api registers it as an
 * EVALUATOR model). Evaluator training has no checkpoints: a redelivered job starts over.
 */
import type { DatasetSplit, PreferenceRecord } from "../../contracts/index.ts";
import type { PreferencePair } from "../engine/index.ts";
import type { TrainEvaluatorTaskResult } from "../worker/index.ts";
import { throwIfJobCancelled } from "./cancel.ts";
import { loadSnapshot, resolveModel } from "./inputs.ts";
import { JobFailureError, type JobContext, type JobHandler } from "./types.ts";

export interface EvaluatorPairs {
  readonly train: PreferencePair[];
  readonly heldOut: PreferencePair[];
}

/**
 * Single-label pairs for `labelName` from the records of `trainSplit` and of `heldOutSplit`; records of the third
 * split and records without a 0/1 value for the label are left out.
 */
export function evaluatorPairs(records: readonly PreferenceRecord[], labelName: string, trainSplit: DatasetSplit, heldOutSplit: DatasetSplit): EvaluatorPairs {
  const train: PreferencePair[] = [];
  const heldOut: PreferencePair[] = [];
  for (const record of records) {
    const preferred = record.preferences[labelName];
    if (preferred !== 0 && preferred !== 1) continue;
    const pair: PreferencePair = { prompt: record.prompt, responses: [record.response0, record.response1], preferred: [preferred] };
    if (record.split === trainSplit) train.push(pair);
    else if (record.split === heldOutSplit) heldOut.push(pair);
  }
  return { train, heldOut };
}

export const trainEvaluatorHandler: JobHandler<"train-evaluator"> = {
  kind: "train-evaluator",
  async run(ctx: JobContext<"train-evaluator">) {
    const { jobId, tenantId, payload } = ctx.envelope;
    const model = await resolveModel(ctx.cache, payload.baseModel, "base model", ctx.signal);
    const snapshot = await loadSnapshot(ctx.cache, payload.dataset, ctx.signal);
    const { train: pairs, heldOut: validationPairs } = evaluatorPairs(snapshot.records, payload.labelName, payload.trainSplit, payload.heldOutSplit);
    if (pairs.length === 0) {
      const split = payload.trainSplit;
      throw new JobFailureError(
        "INVALID_PAYLOAD",
        `the dataset has no ${split} records with label "${payload.labelName}"; register it with a larger ${split.toLowerCase()} share (splitRatios) or choose another trainSplit`,
        false,
      );
    }
    await ctx.start(0);
    const result = (await ctx.pool.run(
      {
        kind: "train-evaluator",
        model,
        dimension: payload.dimension.name,
        pairs,
        validationPairs,
        lr: payload.lr,
        epochs: payload.epochs,
        batchPairs: payload.batchSize,
        seed: payload.seed,
        maxLength: payload.maxLength,
        pooling: payload.pooling,
        runtime: { provider: ctx.device.provider, threads: ctx.device.threads },
      },
      (message) => {
        if (message.type === "progress") {
          ctx.emit({ type: "progress", ...message.progress, lossPerObjective: [...message.progress.lossPerObjective], metrics: { ...message.progress.metrics } });
        }
      },
      ctx.signal,
    )) as TrainEvaluatorTaskResult;
    throwIfJobCancelled(ctx.signal, "storing the evaluator");
    const stored = await ctx.artifacts.put(`evaluators/${tenantId}/${jobId}/evaluator.safetensors`, result.bytes);
    ctx.emit({ type: "artifact", kind: "evaluator", key: stored.key, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
    return { metrics: { ...result.metrics }, artifactKey: stored.key };
  },
};
