/** @module api/openai/completion-responses
 *
 * The response bodies of the completion routes, in OpenAI's shapes, built from a plan (generation-plan.ts) and the
 * Generation: `text_completion` / `chat.completion` objects, their stream chunks (`text_completion` /
 * `chat.completion.chunk`) and `usage`. Ids are `cmpl-<generation uuid>` / `chatcmpl-<generation uuid>`; the
 * extension `generation_id` is the Generation's GraphQL global id, and each choice carries its α as `preference`
 * (null for a base model alone). Choice `v·n + j` is sample `j` of preference vector `v`.
 * `usage.completion_tokens` counts every choice's tokens; `prompt_tokens` is the runner's `metrics.promptTokens` (0 when absent).
 */
import type { GenerationOutput } from "../../contracts/index.ts";
import type { GenerationRow } from "../services/generations.ts";
import { toGlobalId } from "../../schema/common/index.ts";
import type { GenerationResult } from "./generation-follower.ts";
import type { GenerationPlan } from "./generation-plan.ts";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

type FinishReason = GenerationOutput["finishReason"];

/** Choice indexes of output `outputIndex` (choice v·n + j is sample j of vector v). */
export function choiceIndexes(plan: GenerationPlan, outputIndex: number): number[] {
  return Array.from({ length: plan.copies }, (_, j) => outputIndex * plan.copies + j);
}

function preferenceOf(plan: GenerationPlan, outputIndex: number): number[] | null {
  const alpha = plan.vectors[Math.floor(outputIndex / (plan.command.samplesPerAlpha ?? 1))];
  return alpha && alpha.length > 0 ? alpha : null;
}

function envelope(plan: GenerationPlan, generation: GenerationRow, object: string) {
  return {
    id: `${plan.kind === "chat" ? "chatcmpl" : "cmpl"}-${generation.id}`,
    object,
    created: Math.floor(generation.createdAt.getTime() / 1000),
    model: plan.model,
    generation_id: toGlobalId("Generation", generation.id),
  };
}

export function usageOf(plan: GenerationPlan, result: GenerationResult): Usage {
  const completion = result.outputs.reduce((sum, o) => sum + o.tokenCount, 0) * plan.copies;
  return { prompt_tokens: result.promptTokens, completion_tokens: completion, total_tokens: result.promptTokens + completion };
}

function choiceOf(plan: GenerationPlan, index: number, output: GenerationOutput, outputIndex: number) {
  const common = { index, logprobs: null, finish_reason: output.finishReason, preference: preferenceOf(plan, outputIndex) };
  return plan.kind === "chat" ? { ...common, message: { role: "assistant" as const, content: output.text, refusal: null } } : { ...common, text: output.text };
}

/** The non-streamed response. */
export function completionObject(plan: GenerationPlan, generation: GenerationRow, result: GenerationResult) {
  const choices = result.outputs.flatMap((output, v) => choiceIndexes(plan, v).map((index) => choiceOf(plan, index, output, v)));
  return { ...envelope(plan, generation, plan.kind === "chat" ? "chat.completion" : "text_completion"), choices, usage: usageOf(plan, result) };
}

export interface ChunkChoice {
  index: number;
  outputIndex: number;
  /** Text to append (chat: `delta.content`); absent on a first role-only or a final chunk. */
  text?: string;
  /** Chat: announce the assistant role (first chunk of a choice). */
  role?: boolean;
  finishReason?: FinishReason | null;
}

function chunkChoice(plan: GenerationPlan, c: ChunkChoice) {
  const common = { index: c.index, logprobs: null, finish_reason: c.finishReason ?? null, preference: preferenceOf(plan, c.outputIndex) };
  if (plan.kind !== "chat") return { ...common, text: c.text ?? "" };
  const delta = { ...(c.role ? { role: "assistant" as const } : {}), ...(c.text !== undefined ? { content: c.text } : {}) };
  return { ...common, delta };
}

/** One stream chunk; with `include_usage` every chunk has `usage: null` except the last (`choices: []`). */
export function chunkObject(plan: GenerationPlan, generation: GenerationRow, choices: readonly ChunkChoice[], usage?: Usage) {
  return {
    ...envelope(plan, generation, plan.kind === "chat" ? "chat.completion.chunk" : "text_completion"),
    choices: choices.map((c) => chunkChoice(plan, c)),
    ...(plan.includeUsage ? { usage: usage ?? null } : {}),
  };
}
