/**
 * @module gpu-runner/handlers/train-evaluator — `train-evaluator` jobs: a scalar reward model for one dimension,
 * trained on the dataset label `labelName` (TRAIN records; VALIDATION held out). Output:
 * `evaluators/<tenant>/<jobId>/evaluator.safetensors` (artifact kind "evaluator"; the api registers it as an
 * EVALUATOR model). Evaluator training has no checkpoints: a redelivered job starts over.
 */
import type { PreferencePair } from "../engine/index.ts";
import type { TrainEvaluatorTaskResult } from "../worker/index.ts";
import { loadSnapshot, resolveModel } from "./inputs.ts";
import { JobFailureError, type JobContext, type JobHandler } from "./types.ts";

export const trainEvaluatorHandler: JobHandler<"train-evaluator"> = {
  kind: "train-evaluator",
  async run(ctx: JobContext<"train-evaluator">) {
    const { jobId, tenantId, payload } = ctx.envelope;
    const model = await resolveModel(ctx.cache, payload.baseModel, "base model");
    const snapshot = await loadSnapshot(ctx.cache, payload.dataset);
    const pairs: PreferencePair[] = [];
    const validationPairs: PreferencePair[] = [];
    for (const record of snapshot.records) {
      const preferred = record.preferences[payload.labelName];
      if (preferred !== 0 && preferred !== 1) continue;
      const pair: PreferencePair = { prompt: record.prompt, responses: [record.response0, record.response1], preferred: [preferred] };
      if (record.split === "TRAIN") pairs.push(pair);
      else if (record.split === "VALIDATION") validationPairs.push(pair);
    }
    if (pairs.length === 0) {
      throw new JobFailureError("INVALID_PAYLOAD", `the dataset has no TRAIN records with label "${payload.labelName}"; pick another label or dataset`, false);
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
        runtime: { provider: ctx.device.provider, threads: ctx.device.threads },
      },
      (message) => {
        if (message.type === "progress") {
          ctx.emit({ type: "progress", ...message.progress, lossPerObjective: [...message.progress.lossPerObjective], metrics: { ...message.progress.metrics } });
        }
      },
      ctx.signal,
    )) as TrainEvaluatorTaskResult;
    const stored = await ctx.artifacts.put(`evaluators/${tenantId}/${jobId}/evaluator.safetensors`, result.bytes);
    ctx.emit({ type: "artifact", kind: "evaluator", key: stored.key, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
    return { metrics: { ...result.metrics }, artifactKey: stored.key };
  },
};
