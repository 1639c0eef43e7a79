/** @module api/openai/generation-plan
 *
 * An OpenAI completion / chat completion request → the `generate` command it runs and how its outputs become
 * choices.
 * - `model` names a catalog entry (model-catalog.ts; unknown → 404 `model_not_found`). An adapter decodes its ARM
 *   backbone guided by the adapter, unless the extension `base_model` names another BASE / ARM_BASE model to guide
 *   (vocabularies must match). A base model alone decodes unguided; `base_model` is then refused.
 * - The α batch comes from `preference` / `preferences` (preference-vectors.ts). Each vector is one output; with
 *   `n` the choices are vector-major: choice `v·n + j` is sample `j` of vector `v`.
 * - Sampling: `temperature` (default 0, greedy — PARM's setting, not OpenAI's 1), `top_p` (1), `top_k` (0 = off),
 *   `seed`, `stop` (chat default: the template's turn stop), `beta` (1). With `n` > 1, greedy decoding runs each
 *   vector once and repeats it `n` times; sampling decodes `n` samples per vector (`samplesPerAlpha`: sample j
 *   with seed + j, so a seeded request is reproducible and its samples differ).
 * - `max_completion_tokens` ?? `max_tokens` ?? 16 (completions, as OpenAI) / 128 (chat), a default capped below the
 *   base model's context.
 * - Chat messages become the prompt through a template (contracts/prompt-template.ts, api/services/prompt-templates.ts):
 *   an adapter's is the one its training applied (so it decodes in the context it was trained in; adapters from
 *   before templates: their backbone's), a base model's is its own chat template, else the one named at
 *   registration, else HH. Jinja templates render in the sandbox thread; one that fails on the messages is a 400 on
 *   `messages` (`chat_template_failed`).
 * `paramOf` maps the generation service's input paths back to these request fields for error answers.
 */
import type { TenantServiceDeps } from "../services/deps.ts";
import type { GenerateCommand } from "../services/generations.ts";
import { modelContextLength, type ModelRow } from "../services/models.ts";
import {
  ChatCompletionRequestSchema,
  CompletionRequestSchema,
  parseCompletionRequest,
  type ChatCompletionRequest,
  type CompletionRequest,
} from "./completion-requests.ts";
import { loadModelCatalog, type CatalogEntry, type ModelCatalog } from "./model-catalog.ts";
import { invalidRequest, modelNotFound, type ParamOf } from "./openai-error.ts";
import { resolvePreferenceVectors } from "./preference-vectors.ts";
import { ChatTemplateError, renderChat, type PromptTemplate, type RenderedChat } from "../../contracts/index.ts";
import { adapterPromptTemplate, modelPromptTemplate } from "../services/prompt-templates.ts";

export type CompletionKind = "completion" | "chat";

export interface GenerationPlan {
  kind: CompletionKind;
  /** The requested model's listed id (echoed as `model`). */
  model: string;
  command: GenerateCommand;
  /** α of each output, in output order. */
  vectors: number[][];
  /** Choices per vector. */
  n: number;
  /** Choices each output stands for: `n` with greedy decoding (one run per vector, repeated), else 1 (the command
   *  decodes `n` samples per vector, `samplesPerAlpha`). */
  copies: number;
  stream: boolean;
  includeUsage: boolean;
  paramOf: ParamOf;
}

const DEFAULT_MAX_TOKENS: Record<CompletionKind, number> = { completion: 16, chat: 128 };

type AnyRequest = CompletionRequest | ChatCompletionRequest;

interface Guidance {
  base: ModelRow;
  adapterId: string | null;
  entry: CatalogEntry;
}

function baseEntry(catalog: ModelCatalog, id: string): ModelRow {
  const entry = catalog.find(id);
  if (!entry) throw modelNotFound("base_model", id);
  if (entry.kind === "ADAPTER") throw invalidRequest("base_model", `base_model must name a BASE or ARM_BASE model; ${id} is an adapter`);
  return entry.model;
}

function guidanceOf(catalog: ModelCatalog, request: AnyRequest): Guidance {
  const entry = catalog.find(request.model);
  if (!entry) throw modelNotFound("model", request.model);
  if (entry.kind !== "ADAPTER") {
    if (request.base_model != null) throw invalidRequest("base_model", "base_model is only for an adapter as model (the base it guides)");
    return { base: entry.model, adapterId: null, entry };
  }
  const base = request.base_model != null ? baseEntry(catalog, request.base_model) : catalog.modelEntry(entry.adapter.baseModelId)?.model;
  if (!base) throw invalidRequest("model", `the backbone of adapter ${entry.id} is not available; name a base with base_model`);
  return { base, adapterId: entry.adapter.id, entry };
}

/** The template chat messages go through for this guidance (see the module contract). */
function templateOf(catalog: ModelCatalog, guidance: Guidance): PromptTemplate {
  const { entry } = guidance;
  if (entry.kind === "ADAPTER") return adapterPromptTemplate(entry.adapter, catalog.modelEntry(entry.adapter.baseModelId)?.model ?? null);
  return modelPromptTemplate(guidance.base);
}

async function renderMessages(template: PromptTemplate, request: ChatCompletionRequest): Promise<RenderedChat> {
  try {
    return await renderChat(template, request.messages);
  } catch (error) {
    if (error instanceof ChatTemplateError) throw invalidRequest("messages", `the model's chat template cannot render these messages: ${error.message}`, "chat_template_failed");
    throw error;
  }
}

function completionPrompt(request: CompletionRequest): string {
  const prompt = request.prompt;
  return typeof prompt === "string" ? prompt : prompt[0]!;
}

function maxTokensOf(kind: CompletionKind, request: AnyRequest, base: ModelRow): number {
  const given = request.max_completion_tokens ?? request.max_tokens;
  if (given != null) return given;
  const context = modelContextLength(base);
  return context === null ? DEFAULT_MAX_TOKENS[kind] : Math.max(1, Math.min(DEFAULT_MAX_TOKENS[kind], context - 1));
}

function stopOf(request: AnyRequest, turnStops: readonly string[]): string[] {
  if (request.stop != null) return typeof request.stop === "string" ? [request.stop] : request.stop;
  return [...turnStops];
}

function paramMapper(kind: CompletionKind, request: AnyRequest): ParamOf {
  const params: Record<string, string> = {
    "input.prompt": kind === "chat" ? "messages" : "prompt",
    "input.alphas": request.preferences != null ? "preferences" : "preference",
    "input.beta": "beta",
    "input.maxTokens": request.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens",
    "input.samplesPerAlpha": "n",
    "input.sampling.temperature": "temperature",
    "input.sampling.topP": "top_p",
    "input.sampling.topK": "top_k",
    "input.sampling.seed": "seed",
    "input.sampling.stop": "stop",
    "input.baseModelId": request.base_model != null ? "base_model" : "model",
    "input.adapterId": "model",
  };
  return (field) => params[field] ?? null;
}

/** Validates `body` and plans its generation (see the module contract); throws OpenAiError for a bad request. */
export async function planGeneration(deps: TenantServiceDeps, kind: CompletionKind, body: unknown): Promise<GenerationPlan> {
  const request: AnyRequest = kind === "chat" ? parseCompletionRequest(ChatCompletionRequestSchema, body) : parseCompletionRequest(CompletionRequestSchema, body);
  const temperature = request.temperature ?? 0;
  const n = request.n ?? 1;
  const sampled = temperature > 0;
  const catalog = await loadModelCatalog(deps);
  const guidance = guidanceOf(catalog, request);
  const { base, adapterId, entry } = guidance;
  const vectors = resolvePreferenceVectors(request, entry.kind === "ADAPTER" ? entry.adapter : null, entry.id);
  const chat = kind === "chat" ? await renderMessages(templateOf(catalog, guidance), request as ChatCompletionRequest) : null;
  return {
    kind,
    model: entry.id,
    command: {
      baseModelId: base.id,
      adapterId,
      prompt: chat ? chat.prompt : completionPrompt(request as CompletionRequest),
      alphas: vectors,
      beta: request.beta ?? 1,
      sampling: { temperature, topP: request.top_p ?? 1, topK: request.top_k ?? 0, seed: request.seed ?? null, stop: stopOf(request, chat?.stops ?? []) },
      maxTokens: maxTokensOf(kind, request, base),
      samplesPerAlpha: sampled ? n : 1,
    },
    vectors,
    n,
    copies: sampled ? 1 : n,
    stream: request.stream ?? false,
    includeUsage: request.stream_options?.include_usage ?? false,
    paramOf: paramMapper(kind, request),
  };
}
