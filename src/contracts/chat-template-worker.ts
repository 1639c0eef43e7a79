/**
 * @module contracts/chat-template-worker — the sandbox process of chat-template-sandbox.ts (forked with an IPC
 * channel and a small heap): renders conversations through a jinja chat template, one request at a time, and
 * answers each with the prompts or the first failure. It exits when its parent goes away.
 */
import { ChatTemplateError, renderJinjaChatUnsandboxed } from "./prompt-template.ts";
import type { SandboxReply, SandboxRequest } from "./chat-template-sandbox.ts";

if (typeof process.send !== "function") throw new Error("chat-template-worker runs as a forked child with an IPC channel");
const send = (reply: SandboxReply) => process.send!(reply);

process.on("message", (request: SandboxRequest) => {
  let reply: SandboxReply;
  try {
    reply = { type: "reply", id: request.id, ok: true, prompts: request.conversations.map((messages) => renderJinjaChatUnsandboxed(request.template, messages)) };
  } catch (error) {
    const problem = error instanceof ChatTemplateError ? error.problem : "RENDER";
    reply = { type: "reply", id: request.id, ok: false, problem, message: error instanceof Error ? error.message : String(error) };
  }
  send(reply);
});
process.on("disconnect", () => process.exit(0));
send({ type: "ready" });
