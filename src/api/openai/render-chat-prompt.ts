/** @module api/openai/render-chat-prompt
 *
 * Chat messages → one prompt string, until per-model chat templates exist (a later task replaces this file).
 * The format is HH-RLHF's, which the platform's PARM adapters are trained on:
 *
 *     <system text>\n\nHuman: <user text>\n\nAssistant: <assistant text>\n\nHuman: <user text>\n\nAssistant:
 *
 * - `system` / `developer` messages are written as plain paragraphs where they occur (HH-RLHF has no system turn);
 * - `user` → `\n\nHuman: …`, `assistant` → `\n\nAssistant: …`; the prompt always ends with `\n\nAssistant:`, so the
 *   model writes the next assistant turn;
 * - content is a string or an array of `{ type: "text", text }` parts, joined without a separator.
 * `CHAT_TURN_STOPS` are the stop strings that end the assistant's turn (the next `Human:` turn); chat requests use
 * them unless they give `stop`.
 */
import { UnreachableCaseError } from "../services/errors.ts";

export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant";
  content: string | readonly { type: "text"; text: string }[];
}

/** Stop strings ending an assistant turn in the rendered format. */
export const CHAT_TURN_STOPS: readonly string[] = ["\n\nHuman:"];

function textOf(content: ChatMessage["content"]): string {
  return typeof content === "string" ? content : content.map((part) => part.text).join("");
}

function turnOf(message: ChatMessage): string {
  const text = textOf(message.content).trim();
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

/** The HH-RLHF prompt of `messages` (see the module contract). */
export function renderChatPrompt(messages: readonly ChatMessage[]): string {
  return messages.map(turnOf).join("").replace(/^\n\n(?!Human:|Assistant:)/, "") + "\n\nAssistant:";
}
