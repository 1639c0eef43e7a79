/**
 * @module gpu-runner/worker/pool — a fixed pool of engine worker threads, one task per worker at a time. `run`
 * resolves with the task's result or rejects with a {@link TaskFailedError} carrying the engine's error name and
 * code; intermediate messages go to `onMessage` in order. Aborting `signal` sends the worker a `cancel` message: the
 * engine stops at its next check (micro-batch, token, point, scoring batch), releases the task's sessions and the
 * task rejects with code CANCELLED; the worker then takes the next task. A signal aborted before `run` starts the
 * task rejects at once with {@link TaskCancelledError} (no worker is asked). The slot is freed only when the worker
 * has answered, so a worker never holds two tasks. A worker that crashes fails its task and is replaced. `close`
 * ends the workers in order: each stops its task at the next step, releases its sessions and exits by itself; a
 * worker is terminated only when it has not exited within `closeTimeoutMs` (terminating a thread inside an
 * onnxruntime call aborts the whole process).
 */
import { Worker } from "node:worker_threads";
import type { EngineTask, EngineTaskResult, MainToWorker, TaskErrorInfo, TaskMessage, WorkerToMain } from "./protocol.ts";
import { crashedWorkerInfo } from "./task-error.ts";

export class TaskFailedError extends Error {
  override readonly name = "TaskFailedError";
  readonly code = "ENGINE_TASK_FAILED" as const;
  constructor(readonly info: TaskErrorInfo) {
    super(info.message);
  }
}

/** `run` was given a signal that had already aborted: the task was not started (no worker was asked). */
export class TaskCancelledError extends TaskFailedError {
  constructor(reason: unknown) {
    super({ name: "TaskCancelledError", code: "CANCELLED", message: `task cancelled before it started${typeof reason === "string" ? ` (${reason})` : ""}`, category: "cancelled" });
  }
}

export class WorkerPoolClosedError extends Error {
  override readonly name = "WorkerPoolClosedError";
  readonly code = "WORKER_POOL_CLOSED" as const;
  constructor() {
    super("the engine worker pool is closed");
  }
}

interface Slot {
  worker: Worker;
  busy: boolean;
  models: readonly string[];
}

interface Running {
  resolve(result: EngineTaskResult): void;
  reject(error: Error): void;
  onMessage(message: TaskMessage): void;
  slot: Slot;
}

export interface WorkerPool {
  readonly size: number;
  run(task: EngineTask, onMessage: (message: TaskMessage) => void, signal?: AbortSignal): Promise<EngineTaskResult>;
  /** Model ids loaded in any worker. */
  loadedModels(): string[];
  close(): Promise<void>;
}

/** The worker entry beside this module: `.ts` when run from source (swc loader), `.js` in a compiled build. */
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./engine-worker.ts" : "./engine-worker.js", import.meta.url);

/**
 * Asks a worker to end itself (the `close` message: its task stops at the next step and releases its sessions) and
 * resolves when the thread has exited. Only a worker that has not exited after `timeoutMs` is terminated.
 */
async function closeWorker(worker: Worker, timeoutMs: number): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  worker.postMessage({ type: "close" } satisfies MainToWorker);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome === "late") await worker.terminate();
}

export function createWorkerPool(size: number, workerUrl: URL = WORKER_URL, closeTimeoutMs = 120_000): WorkerPool {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`worker pool size must be an integer >= 1, got ${size}`);
  let closed = false;
  let closing: Promise<void> | undefined;
  let nextTaskId = 1;
  const running = new Map<number, Running>();
  const waiters: ((slot: Slot | null) => void)[] = [];
  const slots: Slot[] = [];

  const spawn = (): Slot => {
    const slot: Slot = { worker: new Worker(workerUrl), busy: false, models: [] };
    slot.worker.on("message", (message: WorkerToMain) => {
      if (message.type === "models") {
        slot.models = message.modelIds;
        return;
      }
      const task = running.get(message.taskId);
      if (!task) return;
      switch (message.type) {
        case "progress":
        case "token":
        case "checkpoint":
        case "point":
          try {
            task.onMessage(message);
          } catch {
            // a listener's failure must not kill the task
          }
          return;
        case "done":
          running.delete(message.taskId);
          task.resolve(message.result);
          return;
        case "failed":
          running.delete(message.taskId);
          task.reject(new TaskFailedError(message.error));
          return;
        default:
          throw new Error(`unknown worker message ${JSON.stringify(message satisfies never)}`);
      }
    });
    const crash = (error: Error) => {
      for (const [id, task] of running) {
        if (task.slot !== slot) continue;
        running.delete(id);
        task.reject(new TaskFailedError(crashedWorkerInfo(error)));
      }
      const index = slots.indexOf(slot);
      if (index >= 0 && !closed) {
        const replacement = spawn();
        slots[index] = replacement;
        release(replacement);
      }
    };
    slot.worker.on("error", crash);
    slot.worker.on("exit", (code) => {
      if (!closed && slots.includes(slot)) crash(new Error(`worker exited with code ${code}`));
    });
    return slot;
  };

  const release = (slot: Slot) => {
    slot.busy = false;
    if (closed) return;
    const next = waiters.shift();
    if (next) {
      slot.busy = true;
      next(slot);
    }
  };

  /** A free slot, or null once the pool closes. */
  const acquire = (): Promise<Slot | null> => {
    const free = slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve) => waiters.push(resolve));
  };

  for (let i = 0; i < size; i++) slots.push(spawn());

  return {
    size,
    async run(task, onMessage, signal) {
      if (closed) throw new WorkerPoolClosedError();
      const slot = await acquire();
      if (slot === null) throw new WorkerPoolClosedError();
      const taskId = nextTaskId++;
      const onAbort = () => slot.worker.postMessage({ type: "cancel", taskId, ...(typeof signal?.reason === "string" ? { reason: signal.reason } : {}) } satisfies MainToWorker);
      try {
        if (signal?.aborted) throw new TaskCancelledError(signal.reason);
        return await new Promise<EngineTaskResult>((resolve, reject) => {
          running.set(taskId, { resolve, reject, onMessage, slot });
          signal?.addEventListener("abort", onAbort, { once: true });
          slot.worker.postMessage({ type: "run", taskId, task } satisfies MainToWorker);
        });
      } finally {
        signal?.removeEventListener("abort", onAbort);
        if (slots.includes(slot)) release(slot);
      }
    },
    loadedModels() {
      return [...new Set(slots.flatMap((s) => s.models))];
    },
    close() {
      closing ??= (async () => {
        closed = true;
        for (const waiter of waiters.splice(0)) waiter(null);
        await Promise.all(slots.map((s) => closeWorker(s.worker, closeTimeoutMs)));
        for (const task of running.values()) task.reject(new WorkerPoolClosedError());
        running.clear();
      })();
      return closing;
    },
  };
}
