/**
 * @module gpu-runner/handlers/generate — `generate` jobs: one prompt, one output per α (α-batched in one run), each
 * token streamed as a `token` event; the `completed` event carries every output, tokens/s and the prompt's token count
 * (`metrics.promptTokens`, the OpenAI routes' `usage.prompt_tokens`).
 */
import type { GenerateTaskResult } from "../worker/index.ts";
import { resolveAdapterFiles, resolveModel } from "./inputs.ts";
import type { JobContext, JobHandler } from "./types.ts";

export const generateHandler: JobHandler<"generate"> = {
  kind: "generate",
  async run(ctx: JobContext<"generate">) {
    const { payload } = ctx.envelope;
    const base = await resolveModel(ctx.cache, payload.base, "base model", ctx.signal);
    let arm = null;
    if (payload.arm) {
      const model = await resolveModel(ctx.cache, payload.arm.armBase, "ARM backbone", ctx.signal);
      const adapters = await resolveAdapterFiles(ctx.cache, payload.arm, ctx.signal);
      arm = { model, method: payload.arm.method, adapters };
    }
    await ctx.start(0);
    const result = (await ctx.pool.run(
      {
        kind: "generate",
        base,
        arm,
        prompt: payload.prompt,
        alphas: payload.alphas,
        samplesPerAlpha: payload.samplesPerAlpha,
        beta: payload.beta,
        sampling: payload.sampling,
        stop: payload.sampling.stop,
        maxTokens: payload.maxTokens,
        runtime: { provider: ctx.device.provider, threads: ctx.device.threads },
      },
      (message) => {
        if (message.type === "token") {
          ctx.emit({ type: "token", outputIndex: message.outputIndex, position: message.position, tokenId: message.tokenId, text: message.text });
        }
      },
      ctx.signal,
    )) as GenerateTaskResult;
    return {
      metrics: { tokensPerSecond: result.tokensPerSecond, timeToFirstTokenSeconds: result.timeToFirstTokenMs / 1000, promptTokens: result.promptTokens },
      outputs: result.outputs.map((o) => ({ ...o, alpha: [...o.alpha] })),
    };
  },
};
