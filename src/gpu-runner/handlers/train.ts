/**
 * @module gpu-runner/handlers/train — `train` jobs (PARM or GenARM ARM).
 *
 * Inputs: the base model and every dataset snapshot through the artifact cache; the prompts of bare-prompt formats
 * (PKU_SAFERLHF, GENERIC) go through the payload's `promptTemplate` (train-data.ts); `maxPairs` keeps each dataset's
 * first N TRAIN pairs (snapshot order) and `maxSteps` caps the optimizer updates of the whole run (the trainer's
 * schedule and the progress totals span the cap). Resumption: the job's latest
 * checkpoint lives in the artifact store under `checkpoints/<jobId>` (replaced every `checkpointEvery` updates and
 * announced by an `artifact` event of kind "checkpoint"); a redelivered job resumes from it, and since the trainer
 * is deterministic for a seed and thread count, it ends with the adapter an uninterrupted run would have produced.
 * Output: PARM → `adapters/<tenant>/<jobId>/adapter.safetensors`; GenARM → one `adapter-<i>.safetensors` per
 * dimension plus `manifest.json` listing them (the artifactKey). Progress events carry step, percent, ETA, loss per
 * objective and tokens/s.
 */
import { ChatTemplateError } from "../../contracts/index.ts";
import { train as engineTrain } from "../engine/index.ts";
import type { TrainTaskResult } from "../worker/index.ts";
import { throwIfJobCancelled, untilCancelled } from "./cancel.ts";
import { ADAPTER_MANIFEST_SUFFIX, loadSnapshot, resolveModel, type AdapterManifest } from "./inputs.ts";
import { templatedSnapshots, trainingPairs, type SnapshotForTraining } from "./train-data.ts";
import { JobFailureError, type JobContext, type JobHandler } from "./types.ts";

export function checkpointKey(jobId: string): string {
  return `checkpoints/${jobId}`;
}

export function adapterKeyPrefix(tenantId: string, jobId: string): string {
  return `adapters/${tenantId}/${jobId}`;
}

export const trainHandler: JobHandler<"train"> = {
  kind: "train",
  async run(ctx: JobContext<"train">) {
    const { jobId, tenantId, payload } = ctx.envelope;
    const model = await resolveModel(ctx.cache, payload.baseModel, "base model", ctx.signal);
    const loaded: SnapshotForTraining[] = [];
    for (const dataset of payload.datasets) loaded.push(await loadSnapshot(ctx.cache, dataset, ctx.signal));
    const snapshots = await untilCancelled(ctx.signal, templatedSnapshots(loaded, payload.promptTemplate), "rendering the prompts").catch((error: unknown) => {
      if (error instanceof ChatTemplateError) throw new JobFailureError("INVALID_PAYLOAD", `${error.message}; register the model with a working chat template, or without one`, false, { cause: error });
      throw error;
    });
    const { train, validation } = trainingPairs(snapshots, payload.dimensions.map((d) => d.id), { maxPairs: payload.maxPairs });
    if (train.length === 0) {
      throw new JobFailureError("INVALID_PAYLOAD", "the datasets hold no TRAIN records labelled for the job's dimensions; upload more records or change the split", false);
    }
    const checkpoint = await untilCancelled(ctx.signal, ctx.artifacts.get(checkpointKey(jobId)), "fetching the checkpoint");
    let resumedFromStep = 0;
    if (checkpoint) {
      try {
        resumedFromStep = engineTrain.deserializeCheckpoint(checkpoint).step;
      } catch (error) {
        ctx.log.warn(`job ${jobId}: ignoring an unreadable checkpoint (${String(error)}); training from step 0`);
      }
    }
    await ctx.start(resumedFromStep);

    let uploads: Promise<void> = Promise.resolve();
    const result = (await ctx.pool.run(
      {
        kind: "train",
        model,
        method: payload.method,
        objectives: payload.dimensions.map((d) => ({ name: d.name, beta: d.betaR })),
        pairs: train,
        validationPairs: validation,
        r1: payload.r1,
        r2: payload.r2,
        loraRank: payload.method === "GENARM" ? payload.r1 : null,
        loraAlpha: payload.loraAlpha,
        loraDropout: payload.loraDropout,
        targets: payload.targets,
        lr: payload.lr,
        epochs: payload.epochs,
        batchPairs: payload.batchSize,
        gradAccum: payload.gradAccum,
        warmupSteps: payload.warmupSteps,
        weightDecay: payload.weightDecay,
        dirichletP: payload.dirichletP,
        alphaPer: payload.alphaPer,
        truncation: payload.truncation,
        seed: payload.seed,
        maxPromptLength: payload.maxPromptLength,
        maxLength: payload.maxLength,
        checkpointEvery: payload.checkpointEvery,
        maxSteps: payload.maxSteps,
        resumeFrom: resumedFromStep > 0 ? checkpoint : null,
        runtime: { provider: ctx.device.provider, threads: ctx.device.threads },
      },
      (message) => {
        switch (message.type) {
          case "progress":
            ctx.emit({ type: "progress", ...message.progress, lossPerObjective: [...message.progress.lossPerObjective], metrics: { ...message.progress.metrics } });
            return;
          case "checkpoint": {
            const bytes = message.bytes;
            const step = message.step;
            uploads = uploads.then(async () => {
              const stored = await ctx.artifacts.put(checkpointKey(jobId), bytes);
              ctx.emit({ type: "artifact", kind: "checkpoint", key: stored.key, sha256: stored.sha256, sizeBytes: stored.sizeBytes, step });
            });
            return;
          }
          case "token":
          case "point":
            return;
          default:
            throw new Error(`unexpected task message ${JSON.stringify(message satisfies never)}`);
        }
      },
      ctx.signal,
    ).finally(() => uploads.catch(() => undefined))) as TrainTaskResult;
    await uploads;
    throwIfJobCancelled(ctx.signal, "storing the adapter");
    const prefix = adapterKeyPrefix(tenantId, jobId);
    let artifactKey: string;
    if (payload.method === "PARM") {
      const stored = await ctx.artifacts.put(`${prefix}/adapter.safetensors`, result.adapters[0].bytes);
      ctx.emit({ type: "artifact", kind: "adapter", key: stored.key, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
      artifactKey = stored.key;
    } else {
      const entries: { key: string; sha256: string; dimensions: string[] }[] = [];
      for (const [i, adapter] of result.adapters.entries()) {
        throwIfJobCancelled(ctx.signal, "storing the adapters");
        const stored = await ctx.artifacts.put(`${prefix}/adapter-${i}.safetensors`, adapter.bytes);
        entries.push({ key: stored.key, sha256: stored.sha256, dimensions: [...adapter.dimensions] });
      }
      const manifest: AdapterManifest = { method: "GENARM", adapters: entries };
      const stored = await ctx.artifacts.put(`${prefix}/${ADAPTER_MANIFEST_SUFFIX}`, new TextEncoder().encode(JSON.stringify(manifest)));
      ctx.emit({ type: "artifact", kind: "adapter", key: stored.key, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
      artifactKey = stored.key;
    }
    return { metrics: { ...result.metrics }, artifactKey };
  },
};
