/** @module api/openai/completion-requests
 *
 * The request bodies of `POST /v1/completions` and `POST /v1/chat/completions` (zod), and `parseCompletionRequest`,
 * which validates a body and answers the first problem as a 400 whose `param` is the field's path
 * (`messages[1].role`, `preference.helpful`).
 *
 * Accepted OpenAI fields: `model`, `prompt` (a string, or an array holding one string) / `messages` (roles `system`,
 * `developer`, `user`, `assistant`; text content), `max_tokens`, `max_completion_tokens`, `temperature`, `top_p`,
 * `seed`, `stop`, `n`, `stream`, `stream_options.include_usage`, `user` (ignored). Extensions: `preference`,
 * `preferences`, `beta`, `base_model`, `top_k`. Unknown fields are ignored; fields of OpenAI features the platform
 * does not have (`logprobs`, `echo`, `suffix`, `best_of` > 1, `logit_bias`, tools, non-text `response_format`,
 * non-zero penalties) are refused when set, rather than silently ignored. Value ranges the generation service checks
 * (temperature, top_p, seed, stop, β, max_tokens against the model) are checked there.
 */
import { z } from "zod";
import { invalidRequest } from "./openai-error.ts";

/** One preference vector: dimension name → weight, or the weights in the adapter's α order. */
export const PreferenceSchema = z.union([z.record(z.string(), z.number()), z.array(z.number())], {
  error: "must be an object of dimension name → weight or an array of weights in the adapter's dimension order",
});
export type PreferenceInput = z.infer<typeof PreferenceSchema>;

const StopSchema = z.union([z.string(), z.array(z.string()).max(16)], { error: "must be a string or an array of at most 16 strings" });

const commonFields = {
  model: z.string().min(1, { error: "is required" }),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  top_k: z.number().int().min(0).nullish(),
  seed: z.number().int().nullish(),
  stop: StopSchema.nullish(),
  n: z.number().int().min(1).max(16).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  preference: PreferenceSchema.nullish(),
  preferences: z.array(PreferenceSchema).min(1).max(256).nullish(),
  beta: z.number().nullish(),
  base_model: z.string().min(1).nullish(),
};

export const CompletionRequestSchema = z.object({
  ...commonFields,
  prompt: z.union([z.string(), z.array(z.string()).length(1)], { error: "must be a string (or an array holding one string)" }),
});
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

const TextPartSchema = z.object({ type: z.literal("text", { error: "only text content parts are supported" }), text: z.string() });

export const ChatMessageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant"], { error: "must be system, developer, user or assistant (tools are not supported)" }),
  content: z.union([z.string(), z.array(TextPartSchema)], { error: "must be a string or an array of text parts" }),
  name: z.string().nullish(),
});

export const ChatCompletionRequestSchema = z.object({
  ...commonFields,
  messages: z.array(ChatMessageSchema).min(1, { error: "must hold at least one message" }),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

/** Fields of features the platform lacks, and whether a value leaves them off. */
const UNSUPPORTED: readonly [field: string, off: (value: unknown) => boolean][] = [
  ["logprobs", (v) => v === false || v === 0],
  ["top_logprobs", (v) => v === 0],
  ["echo", (v) => v === false],
  ["suffix", (v) => v === ""],
  ["best_of", (v) => v === 1],
  ["logit_bias", (v) => typeof v === "object" && v !== null && Object.keys(v).length === 0],
  ["frequency_penalty", (v) => v === 0],
  ["presence_penalty", (v) => v === 0],
  ["tools", (v) => Array.isArray(v) && v.length === 0],
  ["functions", (v) => Array.isArray(v) && v.length === 0],
  ["tool_choice", (v) => v === "none"],
  ["response_format", (v) => (v as { type?: unknown } | null)?.type === "text"],
];

function refuseUnsupported(body: Record<string, unknown>): void {
  for (const [field, off] of UNSUPPORTED) {
    const value = body[field];
    if (value !== undefined && value !== null && !off(value)) throw invalidRequest(field, `${field} is not supported by this server`);
  }
}

/** `a.b[2].c` of a zod issue path. */
function pathOf(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`)).join("");
}

/** Validates `body` against `schema`; throws a 400 OpenAiError naming the first bad field. */
export function parseCompletionRequest<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalidRequest(null, "the request body must be a JSON object");
  refuseUnsupported(body as Record<string, unknown>);
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = pathOf(issue.path) || null;
  throw invalidRequest(param, param ? `${param}: ${issue.message}` : issue.message);
}
