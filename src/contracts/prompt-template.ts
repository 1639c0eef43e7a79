/**
 * @module contracts/prompt-template — how chat messages and bare dataset prompts become the text a model decodes
 * from, shared by the api (the OpenAI chat route) and the runner (training), so an ARM decodes in the context it
 * was trained in.
 *
 * A {@link PromptTemplate} is either a model's own chat template (`jinja`: HF `tokenizer_config.json`
 * `chat_template` or GGUF `tokenizer.chat_template`, read at registration) or one of the named formats:
 * - `HH` — HH-RLHF's: `<system>\n\nHuman: <user>\n\nAssistant: <assistant>\n\nHuman: <user>\n\nAssistant:`
 *   (system / developer text as plain paragraphs where they occur; texts trimmed). Turn stop `\n\nHuman:`.
 * - `PKU` — the format PARM's reference code trains PKU-SafeRLHF with (safe-rlhf's):
 *   `BEGINNING OF CONVERSATION: USER: <user> ASSISTANT:`; turns `USER: … ASSISTANT: …` separated by one space,
 *   system text right after `BEGINNING OF CONVERSATION:`. Turn stop `USER:`.
 * - `PLAIN` — the texts as given, joined by a blank line (`\n\n`); no stop. A bare prompt stays exactly as it is.
 * Which applies to a model: its own chat template, else the one named at registration, else `HH`
 * (api/services/prompt-templates.ts). Jinja templates come from tenants' model files: they are rendered only in a
 * sandbox child process (chat-template-sandbox.ts), never in a server or runner process; this module renders named
 * ones and holds the pure jinja renderer the sandbox runs.
 *
 * Training (runner): prompts of formats that carry bare prompts (PKU_SAFERLHF, GENERIC) are rendered as one user
 * turn with the generation prompt; HH_RLHF prompts already carry `\n\nHuman: … \n\nAssistant:` and stay as they
 * are ({@link templateForDatasetFormat}). A response joins a rendered prompt with one space when the prompt ends in
 * a non-space character and the response starts with one (`ASSISTANT:` + `Sure` → `ASSISTANT: Sure`), as HH-RLHF's
 * responses do; PLAIN joins nothing.
 *
 * Jinja rendering: `messages` (`{ role, content }`, content a string; `developer` is passed as `system`),
 * `add_generation_prompt: true`, `bos_token` / `eos_token` (the model's, or ""); a rendered prompt that starts with
 * `bos_token` loses that one leading copy, since the runner's engine prepends the BOS id to every prompt. A
 * template's end-of-turn marker is usually the EOS token, which ends decoding by itself: jinja templates add no stop
 * string.
 */
import { Template } from "@huggingface/jinja";
import { z } from "zod";
import type { DatasetFormat } from "./datasets/types.ts";
import { UnreachableCaseError } from "./errors.ts";

export const PROMPT_TEMPLATE_NAMES = ["HH", "PKU", "PLAIN"] as const;
export type PromptTemplateName = (typeof PROMPT_TEMPLATE_NAMES)[number];
export const PromptTemplateNameSchema = z.enum(PROMPT_TEMPLATE_NAMES);

/** Longest chat template stored and rendered (characters); a longer one in a model file is not used. */
export const MAX_CHAT_TEMPLATE_CHARS = 64 * 1024;
/** Longest BOS / EOS token string passed to a template. */
export const MAX_SPECIAL_TOKEN_CHARS = 256;
/** Longest prompt a jinja template may render (characters); beyond it rendering fails. */
export const MAX_RENDERED_PROMPT_CHARS = 4 * 1024 * 1024;

export const JinjaPromptTemplateSchema = z.object({
  kind: z.literal("jinja"),
  /** The chat template source. */
  template: z.string().min(1).max(MAX_CHAT_TEMPLATE_CHARS),
  bosToken: z.string().max(MAX_SPECIAL_TOKEN_CHARS).nullable(),
  eosToken: z.string().max(MAX_SPECIAL_TOKEN_CHARS).nullable(),
});
export type JinjaPromptTemplate = z.infer<typeof JinjaPromptTemplateSchema>;

export const PromptTemplateSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("named"), name: PromptTemplateNameSchema }),
  JinjaPromptTemplateSchema,
]);
export type PromptTemplate = z.infer<typeof PromptTemplateSchema>;

/** The template of a model without a chat template of its own or a named one. */
export const DEFAULT_PROMPT_TEMPLATE: PromptTemplate = { kind: "named", name: "HH" };

export function namedPromptTemplate(name: PromptTemplateName): PromptTemplate {
  return { kind: "named", name };
}

export type ChatRole = "system" | "developer" | "user" | "assistant";

/** One chat message; content is text, or text parts joined without a separator. */
export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string | readonly { readonly type: "text"; readonly text: string }[];
}

/** A rendered chat: the prompt and the stop strings that end the assistant's turn. */
export interface RenderedChat {
  readonly prompt: string;
  readonly stops: readonly string[];
}

/** A chat template that cannot be parsed or rendered; `message` is the template's own error where it raised one. */
export class ChatTemplateError extends Error {
  override readonly name = "ChatTemplateError";
  readonly code = "CHAT_TEMPLATE_FAILED" as const;
  constructor(
    readonly problem: "PARSE" | "RENDER" | "TOO_LONG" | "TIMEOUT" | "RESOURCES",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The text of a message's content. */
export function messageText(content: ChatMessage["content"]): string {
  return typeof content === "string" ? content : content.map((part) => part.text).join("");
}

/** Stop strings that end an assistant turn in each named format. */
export const NAMED_TEMPLATE_STOPS: Readonly<Record<PromptTemplateName, readonly string[]>> = {
  HH: ["\n\nHuman:"],
  PKU: ["USER:"],
  PLAIN: [],
};

function hhTurn(message: ChatMessage): string {
  const text = messageText(message.content).trim();
  switch (message.role) {
    case "system":
    case "developer":
      return `\n\n${text}`;
    case "user":
      return `\n\nHuman: ${text}`;
    case "assistant":
      return `\n\nAssistant: ${text}`;
    default:
      throw new UnreachableCaseError(message.role);
  }
}

function pkuTurn(message: ChatMessage): string {
  const text = messageText(message.content).trim();
  switch (message.role) {
    case "system":
    case "developer":
      return ` ${text}`;
    case "user":
      return ` USER: ${text}`;
    case "assistant":
      return ` ASSISTANT: ${text}`;
    default:
      throw new UnreachableCaseError(message.role);
  }
}

/** Renders `messages` in a named format, ending with the open assistant turn (see the module contract). */
export function renderNamedChat(name: PromptTemplateName, messages: readonly ChatMessage[]): RenderedChat {
  switch (name) {
    case "HH":
      return { prompt: messages.map(hhTurn).join("").replace(/^\n\n(?!Human:|Assistant:)/, "") + "\n\nAssistant:", stops: NAMED_TEMPLATE_STOPS.HH };
    case "PKU":
      return { prompt: `BEGINNING OF CONVERSATION:${messages.map(pkuTurn).join("")} ASSISTANT:`, stops: NAMED_TEMPLATE_STOPS.PKU };
    case "PLAIN":
      return { prompt: messages.map((m) => messageText(m.content)).join("\n\n"), stops: NAMED_TEMPLATE_STOPS.PLAIN };
    default:
      throw new UnreachableCaseError(name);
  }
}

/** A bare prompt (one user turn) in a named format; PLAIN leaves it exactly as it is. */
export function renderNamedPrompt(name: PromptTemplateName, prompt: string): string {
  return name === "PLAIN" ? prompt : renderNamedChat(name, [{ role: "user", content: prompt }]).prompt;
}

/**
 * The template a runner applies to the prompts of a dataset format: null (prompts as they are) for HH_RLHF, whose
 * prompts carry their turns, and when the job names no template (payloads from before templates existed).
 */
export function templateForDatasetFormat(format: DatasetFormat, template: PromptTemplate | null): PromptTemplate | null {
  if (template === null) return null;
  switch (format) {
    case "HH_RLHF":
      return null;
    case "PKU_SAFERLHF":
    case "GENERIC":
      return template;
    default:
      throw new UnreachableCaseError(format);
  }
}

/** A response as it follows `renderedPrompt` in training (see the module contract). */
export function joinResponse(template: PromptTemplate, renderedPrompt: string, response: string): string {
  if (template.kind === "named" && template.name === "PLAIN") return response;
  if (renderedPrompt === "" || response === "" || /\s$/u.test(renderedPrompt) || /^\s/u.test(response)) return response;
  return ` ${response}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Jinja (run by the sandbox process; call it directly only on templates that are known to be harmless)

const compiled = new Map<string, Template>();
const MAX_COMPILED = 16;

/** Parses a chat template (cached); throws ChatTemplateError PARSE. Parsing is linear in the template's size. */
export function compileChatTemplate(source: string): Template {
  const cached = compiled.get(source);
  if (cached) {
    compiled.delete(source);
    compiled.set(source, cached);
    return cached;
  }
  if (source.length > MAX_CHAT_TEMPLATE_CHARS) throw new ChatTemplateError("TOO_LONG", `the chat template has ${source.length} characters; at most ${MAX_CHAT_TEMPLATE_CHARS} are used`);
  let template: Template;
  try {
    template = new Template(source);
  } catch (error) {
    throw new ChatTemplateError("PARSE", `the chat template does not parse: ${(error as Error).message}`, { cause: error });
  }
  compiled.set(source, template);
  if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  return template;
}

/** The jinja `messages` of a conversation: content as text, `developer` as `system`. */
function jinjaMessages(messages: readonly ChatMessage[]) {
  return messages.map((m) => ({ role: m.role === "developer" ? "system" : m.role, content: messageText(m.content) }));
}

/** Renders a conversation through a jinja chat template in this thread (see the module contract). */
export function renderJinjaChatUnsandboxed(template: JinjaPromptTemplate, messages: readonly ChatMessage[]): string {
  const compiledTemplate = compileChatTemplate(template.template);
  let rendered: string;
  try {
    rendered = compiledTemplate.render({
      messages: jinjaMessages(messages),
      add_generation_prompt: true,
      bos_token: template.bosToken ?? "",
      eos_token: template.eosToken ?? "",
    });
  } catch (error) {
    throw new ChatTemplateError("RENDER", `the chat template failed: ${(error as Error).message}`, { cause: error });
  }
  if (rendered.length > MAX_RENDERED_PROMPT_CHARS) throw new ChatTemplateError("TOO_LONG", `the chat template rendered ${rendered.length} characters; at most ${MAX_RENDERED_PROMPT_CHARS}`);
  const bos = template.bosToken ?? "";
  return bos !== "" && rendered.startsWith(bos) ? rendered.slice(bos.length) : rendered;
}
