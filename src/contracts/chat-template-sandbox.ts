/**
 * @module contracts/chat-template-sandbox — renders prompts through a {@link PromptTemplate}, the jinja ones in a
 * sandbox thread.
 *
 * A chat template comes from a tenant's model file and is a program: `range(10**9)` alone exhausts a process's
 * memory, and a loop can spin for minutes. So jinja templates are rendered in one child process
 * (chat-template-worker.ts, forked with an IPC channel) with its own heap limit (`maxHeapMb`, 96 MiB by default)
 * and a deadline per request (`timeoutMs` + `perConversationMs` × the conversations in it; 2 s + 2 ms by
 * default). A request past its deadline, or one whose template exhausts the child's heap (V8 then ends the whole
 * process it runs in — which is why this is a process, not a worker thread), fails with {@link ChatTemplateError}
 * TIMEOUT / RESOURCES; the child is killed and replaced, and the process that asked is unharmed. Requests run one
 * at a time in arrival order; the child is started on first use (its loading, bounded by `startTimeoutMs`, is not
 * counted in a deadline) and does not keep the parent alive while idle. Named templates (HH, PKU, PLAIN) render
 * in the caller's thread.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  ChatTemplateError,
  renderNamedChat,
  renderNamedPrompt,
  type ChatMessage,
  type JinjaPromptTemplate,
  type PromptTemplate,
  type RenderedChat,
} from "./prompt-template.ts";

/** A message to the sandbox process. */
export interface SandboxRequest {
  readonly id: number;
  readonly template: JinjaPromptTemplate;
  readonly conversations: readonly (readonly ChatMessage[])[];
}

/** The sandbox process's messages: ready once loaded, then one reply per request. */
export type SandboxReply =
  | { readonly type: "ready" }
  | { readonly type: "reply"; readonly id: number; readonly ok: true; readonly prompts: string[] }
  | { readonly type: "reply"; readonly id: number; readonly ok: false; readonly problem: ChatTemplateError["problem"]; readonly message: string };

export interface ChatTemplateSandboxOptions {
  /** Deadline of a request, plus `perConversationMs` per conversation in it (ms). */
  readonly timeoutMs?: number;
  readonly perConversationMs?: number;
  /** Old-generation heap limit of the sandbox process (MiB). */
  readonly maxHeapMb?: number;
  /** How long a new sandbox process may take to load (ms); not counted in a request's deadline. */
  readonly startTimeoutMs?: number;
  /** The worker entry (tests). */
  readonly workerUrl?: URL;
}

/** The child's entry beside this module: `.ts` when run from source (swc loader), `.js` in a compiled build. */
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./chat-template-worker.ts" : "./chat-template-worker.js", import.meta.url);

interface Pending {
  readonly request: SandboxRequest;
  readonly resolve: (prompts: string[]) => void;
  readonly reject: (error: Error) => void;
}

export class ChatTemplateSandbox {
  readonly #timeoutMs: number;
  readonly #perConversationMs: number;
  readonly #maxHeapMb: number;
  readonly #workerUrl: URL;
  readonly #startTimeoutMs: number;
  #worker: ChildProcess | null = null;
  readonly #ready = new WeakSet<ChildProcess>();
  #current: { readonly pending: Pending; timer: NodeJS.Timeout | undefined; readonly worker: ChildProcess } | null = null;
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: ChatTemplateSandboxOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#perConversationMs = options.perConversationMs ?? 2;
    this.#maxHeapMb = options.maxHeapMb ?? 96;
    this.#workerUrl = options.workerUrl ?? WORKER_URL;
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
  }

  /** Renders each conversation through `template` with the generation prompt (prompt-template.ts). */
  render(template: JinjaPromptTemplate, conversations: readonly (readonly ChatMessage[])[]): Promise<string[]> {
    if (this.#closed) return Promise.reject(new Error("the chat template sandbox is closed"));
    if (conversations.length === 0) return Promise.resolve([]);
    return new Promise<string[]>((resolve, reject) => {
      this.#queue.push({ request: { id: this.#nextId++, template, conversations }, resolve, reject });
      this.#pump();
    });
  }

  /** Ends the child; pending and queued requests fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Error("the chat template sandbox is closed");
    for (const pending of this.#queue.splice(0)) pending.reject(closed);
    if (this.#current) this.#finish(this.#current.worker, { error: closed, discardWorker: true });
    const worker = this.#worker;
    this.#worker = null;
    if (worker) await kill(worker);
  }

  #spawn(): ChildProcess {
    const worker = fork(fileURLToPath(this.#workerUrl), [], {
      execArgv: [...loaderExecArgv(), `--max-old-space-size=${this.#maxHeapMb}`, "--stack-size=2000"],
      stdio: ["ignore", "ignore", "ignore", "ipc"],
      serialization: "advanced",
    });
    idle(worker);
    worker.on("message", (reply: SandboxReply) => {
      if (reply.type === "ready") {
        this.#ready.add(worker);
        if (this.#current?.worker === worker) this.#send(worker);
        return;
      }
      if (this.#current?.worker !== worker || this.#current.pending.request.id !== reply.id) return;
      if (reply.ok) this.#finish(worker, { prompts: reply.prompts });
      else this.#finish(worker, { error: new ChatTemplateError(reply.problem, reply.message) });
    });
    const died = (error: Error | null, code: number | null, signal: NodeJS.Signals | null) => {
      if (this.#worker === worker) this.#worker = null;
      if (this.#current?.worker !== worker) return;
      this.#finish(worker, {
        error: new ChatTemplateError(
          "RESOURCES",
          error
            ? `the chat template sandbox failed: ${error.message}`
            : `the chat template sandbox ended (${signal ?? `exit code ${code}`}); a template that needs more than ${this.#maxHeapMb} MiB of memory ends it`,
          { cause: error ?? undefined },
        ),
        discardWorker: true,
      });
    };
    worker.on("error", (error) => died(error, null, null));
    worker.on("exit", (code, signal) => died(null, code, signal));
    return worker;
  }

  #pump(): void {
    if (this.#current || this.#closed) return;
    const pending = this.#queue.shift();
    if (!pending) return;
    this.#worker ??= this.#spawn();
    const worker = this.#worker;
    busy(worker);
    if (this.#ready.has(worker)) {
      this.#current = { pending, timer: undefined, worker };
      this.#send(worker);
      return;
    }
    const timer = setTimeout(() => {
      this.#finish(worker, { error: new ChatTemplateError("RESOURCES", `the chat template sandbox did not start within ${this.#startTimeoutMs} ms`), discardWorker: true });
    }, this.#startTimeoutMs);
    this.#current = { pending, timer, worker };
  }

  /** Sends the current request to its (ready) child and starts its deadline. */
  #send(worker: ChildProcess): void {
    const current = this.#current!;
    clearTimeout(current.timer);
    const deadline = this.#timeoutMs + this.#perConversationMs * current.pending.request.conversations.length;
    current.timer = setTimeout(() => {
      this.#finish(worker, { error: new ChatTemplateError("TIMEOUT", `the chat template did not render within ${deadline} ms`), discardWorker: true });
    }, deadline);
    worker.send(current.pending.request, (error) => {
      if (error) this.#finish(worker, { error, discardWorker: true });
    });
  }

  #finish(worker: ChildProcess, outcome: { prompts: string[] } | { error: Error; discardWorker?: boolean }): void {
    const current = this.#current;
    if (!current || current.worker !== worker) return;
    this.#current = null;
    clearTimeout(current.timer);
    if ("prompts" in outcome) {
      idle(worker);
      current.pending.resolve(outcome.prompts);
    } else {
      if (outcome.discardWorker) {
        if (this.#worker === worker) this.#worker = null;
        void kill(worker);
      } else {
        idle(worker);
      }
      current.pending.reject(outcome.error);
    }
    this.#pump();
  }
}

/** The parent's loader flags (`--import @swc-node/register/esm-register` when run from source), for the child. */
function loaderExecArgv(): string[] {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (/^--(import|require|loader|experimental-loader)=/.test(arg)) out.push(arg);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(arg) && i + 1 < args.length) out.push(arg, args[++i]);
  }
  return out;
}

/** Lets the parent exit while the child waits. */
function idle(child: ChildProcess): void {
  child.unref();
  (child.channel as { unref?: () => void } | null | undefined)?.unref?.();
}

function busy(child: ChildProcess): void {
  child.ref();
  (child.channel as { ref?: () => void } | null | undefined)?.ref?.();
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.ref();
  child.kill("SIGKILL");
  await exited;
}

let shared: ChatTemplateSandbox | null = null;

/** The process's sandbox (created on first use). */
export function sharedChatTemplateSandbox(): ChatTemplateSandbox {
  shared ??= new ChatTemplateSandbox();
  return shared;
}

/** Renders chat messages through `template`: the prompt and the stop strings ending the assistant's turn. */
export async function renderChat(template: PromptTemplate, messages: readonly ChatMessage[], sandbox: ChatTemplateSandbox = sharedChatTemplateSandbox()): Promise<RenderedChat> {
  if (template.kind === "named") return renderNamedChat(template.name, messages);
  const [prompt] = await sandbox.render(template, [messages]);
  return { prompt, stops: [] };
}

/** Renders bare prompts, each as one user turn with the generation prompt (PLAIN: unchanged). */
export async function renderBarePrompts(template: PromptTemplate, prompts: readonly string[], sandbox: ChatTemplateSandbox = sharedChatTemplateSandbox()): Promise<string[]> {
  if (template.kind === "named") return prompts.map((prompt) => renderNamedPrompt(template.name, prompt));
  return sandbox.render(
    template,
    prompts.map((prompt) => [{ role: "user", content: prompt }]),
  );
}
