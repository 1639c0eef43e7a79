/** @module api/services/prompt-templates
 *
 * Which prompt template (contracts/prompt-template.ts) a model's and an adapter's prompts go through, and the check
 * of a model's own chat template at registration.
 *
 * - A model's template: its own chat template (`config.chatTemplate`, read from the file at registration) when it
 *   has one, else the one named at registration (`promptTemplate`: HH, PKU or PLAIN), else HH.
 * - An adapter's: the template its training job applied (`trainingConfig.promptTemplate`, the payload's), so it
 *   decodes in the context it was trained in; adapters trained before templates existed use their backbone's.
 * - At registration a found chat template is rendered once in the sandbox (a one-message conversation). One that
 *   is longer than MAX_CHAT_TEMPLATE_CHARS, does not parse or fails that render is not stored: `config` keeps
 *   `chatTemplateProblem` saying why, and the model's prompts use its named template (or HH). BOS / EOS strings
 *   longer than MAX_SPECIAL_TOKEN_CHARS are dropped.
 */
import {
  ChatTemplateError,
  DEFAULT_PROMPT_TEMPLATE,
  MAX_CHAT_TEMPLATE_CHARS,
  MAX_SPECIAL_TOKEN_CHARS,
  namedPromptTemplate,
  PromptTemplateSchema,
  renderChat,
  type ChatTemplateSandbox,
  type JinjaPromptTemplate,
  type PromptTemplate,
  type PromptTemplateName,
} from "../../contracts/index.ts";

/** The facts of a model row that decide its template. */
export interface TemplatedModel {
  config: unknown;
  promptTemplate: PromptTemplateName | null;
}

type Config = Record<string, string | number | boolean>;

function configOf(config: unknown): Record<string, unknown> {
  return typeof config === "object" && config !== null && !Array.isArray(config) ? (config as Record<string, unknown>) : {};
}

/** The model's own chat template from its config, or null. */
export function ownChatTemplate(config: unknown): JinjaPromptTemplate | null {
  const c = configOf(config);
  if (typeof c.chatTemplate !== "string" || c.chatTemplate === "" || c.chatTemplate.length > MAX_CHAT_TEMPLATE_CHARS) return null;
  const token = (value: unknown) => (typeof value === "string" && value.length <= MAX_SPECIAL_TOKEN_CHARS ? value : null);
  return { kind: "jinja", template: c.chatTemplate, bosToken: token(c.bosToken), eosToken: token(c.eosToken) };
}

/** The template a model's prompts go through (see the module contract). */
export function modelPromptTemplate(model: TemplatedModel): PromptTemplate {
  return ownChatTemplate(model.config) ?? (model.promptTemplate ? namedPromptTemplate(model.promptTemplate) : DEFAULT_PROMPT_TEMPLATE);
}

/** The template an adapter decodes with: its training job's, else its backbone's (null: unknown → HH). */
export function adapterPromptTemplate(adapter: { trainingConfig: unknown }, backbone: TemplatedModel | null): PromptTemplate {
  const trained = PromptTemplateSchema.safeParse(configOf(adapter.trainingConfig).promptTemplate);
  if (trained.success) return trained.data;
  return backbone ? modelPromptTemplate(backbone) : DEFAULT_PROMPT_TEMPLATE;
}

function withoutChatTemplate(config: Config, problem: string): Config {
  const { chatTemplate: _t, bosToken: _b, eosToken: _e, ...rest } = config;
  return { ...rest, chatTemplateProblem: problem.slice(0, 500) };
}

/** The inspected config with its chat template checked (see the module contract). */
export async function checkChatTemplateConfig(config: Config, sandbox?: ChatTemplateSandbox): Promise<Config> {
  if (typeof config.chatTemplate !== "string") return config;
  if (config.chatTemplate.length > MAX_CHAT_TEMPLATE_CHARS) {
    return withoutChatTemplate(config, `the chat template has ${config.chatTemplate.length} characters; at most ${MAX_CHAT_TEMPLATE_CHARS} are used`);
  }
  const checked: Config = { ...config };
  for (const key of ["bosToken", "eosToken"] as const) {
    if (typeof checked[key] === "string" && (checked[key] as string).length > MAX_SPECIAL_TOKEN_CHARS) delete checked[key];
  }
  try {
    await renderChat(ownChatTemplate(checked)!, [{ role: "user", content: "Hello" }], sandbox);
  } catch (error) {
    if (error instanceof ChatTemplateError) return withoutChatTemplate(checked, error.message);
    throw error;
  }
  return checked;
}
