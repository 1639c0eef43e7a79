/**
 * @module gpu-runner/handlers/evaluate — `evaluate` jobs: sweep the simplex grid (`gridStep`), generate for the
 * first `count` prompts of the dataset split (a prompt longer than `maxPromptTokens`, by default the models'
 * context minus `maxTokens`, keeps its last tokens: the turn being answered), score every response with one
 * evaluator per dimension (an evaluator file trained on the base model, or an ONNX reward model), and stream one
 * `point` event per α. At the end the engine's Pareto report and its plot are stored as
 * `evaluations/<tenant>/<jobId>/report.json` and `…/plot.svg` (artifact events of kind "report"); the `completed`
 * event holds hypervolume with its reference point, MIP, the front's point indices and those two files.
 * Prompt templates: generation starts from each prompt of a bare-prompt dataset (PKU_SAFERLHF, GENERIC) rendered
 * through the payload's `promptTemplate` (the adapter's training template, train-data.ts), so the ARM decodes in the
 * context it was trained in; evaluators score the prompt as the dataset holds it, as they were trained.
 */
import { ChatTemplateError, renderBarePrompts, templateForDatasetFormat } from "../../contracts/index.ts";
import type { EvaluateTaskResult } from "../worker/index.ts";
import { throwIfJobCancelled, untilCancelled } from "./cancel.ts";
import { loadSnapshot, resolveAdapterFiles, resolveModel } from "./inputs.ts";
import { JobFailureError, type JobContext, type JobHandler } from "./types.ts";

/** Folder of an evaluation job's stored report and plot. */
export function evaluationKeyPrefix(tenantId: string, jobId: string): string {
  return `evaluations/${tenantId}/${jobId}`;
}

export const evaluateHandler: JobHandler<"evaluate"> = {
  kind: "evaluate",
  async run(ctx: JobContext<"evaluate">) {
    const { payload } = ctx.envelope;
    const base = await resolveModel(ctx.cache, payload.base, "base model", ctx.signal);
    const armModel = await resolveModel(ctx.cache, payload.adapter.armBase, "ARM backbone", ctx.signal);
    const adapters = await resolveAdapterFiles(ctx.cache, payload.adapter, ctx.signal);
    const evaluators = [];
    for (const [i, ref] of payload.evaluators.entries()) {
      const file = await resolveModel(ctx.cache, ref, `evaluator for ${payload.adapter.dimensions[i]?.name ?? `dimension ${i}`}`, ctx.signal);
      evaluators.push({ ...file, format: ref.format });
    }
    const snapshot = await loadSnapshot(ctx.cache, payload.prompts.dataset, ctx.signal);
    const prompts = [...new Set(snapshot.records.filter((r) => r.split === payload.prompts.split).map((r) => r.prompt))].slice(0, payload.prompts.count);
    if (prompts.length === 0) {
      throw new JobFailureError("INVALID_PAYLOAD", `the dataset has no ${payload.prompts.split} records to take prompts from; choose another split`, false);
    }
    const template = templateForDatasetFormat(payload.prompts.dataset.format, payload.promptTemplate ?? null);
    const generationPrompts =
      template === null
        ? undefined
        : await untilCancelled(ctx.signal, renderBarePrompts(template, prompts), "rendering the prompts").catch((error: unknown) => {
            if (error instanceof ChatTemplateError) throw new JobFailureError("INVALID_PAYLOAD", `${error.message}; register the model with a working chat template, or without one`, false, { cause: error });
            throw error;
          });
    await ctx.start(0);
    const result = (await ctx.pool.run(
      {
        kind: "evaluate",
        base,
        arm: { model: armModel, method: payload.adapter.method, adapters },
        evaluators,
        objectiveNames: payload.adapter.dimensions.map((d) => d.name),
        prompts,
        ...(generationPrompts ? { generationPrompts } : {}),
        gridStep: payload.gridStep,
        referencePoint: payload.referencePoint,
        beta: payload.beta,
        sampling: payload.sampling,
        maxTokens: payload.maxTokens,
        maxPromptTokens: payload.maxPromptTokens,
        runtime: { provider: ctx.device.provider, threads: ctx.device.threads },
      },
      (message) => {
        switch (message.type) {
          case "point":
            ctx.emit({ type: "point", index: message.index, alpha: message.alpha, rewards: message.rewards, promptCount: message.promptCount });
            return;
          case "progress":
            ctx.emit({ type: "progress", ...message.progress, lossPerObjective: [], metrics: {} });
            return;
          default:
            return;
        }
      },
      ctx.signal,
    )) as EvaluateTaskResult;
    throwIfJobCancelled(ctx.signal, "storing the report");
    const prefix = evaluationKeyPrefix(ctx.envelope.tenantId, ctx.envelope.jobId);
    const store = async (name: string, text: string) => {
      const stored = await ctx.artifacts.put(`${prefix}/${name}`, new TextEncoder().encode(text));
      ctx.emit({ type: "artifact", kind: "report", key: stored.key, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
      return { key: stored.key, sha256: stored.sha256, sizeBytes: stored.sizeBytes };
    };
    const reportFile = await store("report.json", result.reportJson);
    const plotFile = await store("plot.svg", result.svg);
    return {
      metrics: { points: result.points, seconds: result.seconds, prompts: prompts.length },
      evaluation: {
        hypervolume: result.hypervolume,
        referencePoint: result.referencePoint,
        mip: result.mip,
        frontIndices: result.frontIndices,
        reportFile,
        plotFile,
      },
    };
  },
};
