/**
 * @module gpu-runner/worker/task-error — what crosses the thread boundary when a task fails: the error's name,
 * code, message and engine category (engine/util/errors.ts). An EngineError carries its own category; anything
 * else (onnxruntime, the JavaScript runtime, a crashed thread) gets one from its message, and a thread killed for
 * exceeding its heap (ERR_WORKER_OUT_OF_MEMORY) is "resource".
 */
import { categoryOfCause, EngineError, type EngineErrorCategory } from "../engine/index.ts";
import type { TaskErrorInfo } from "./protocol.ts";

/** The serialisable description of `error` as thrown inside a task. */
export function taskErrorInfo(error: unknown): TaskErrorInfo {
  const e = error instanceof Error ? error : new Error(String(error));
  const code = (e as { code?: unknown }).code;
  return { name: e.name, code: typeof code === "string" ? code : null, message: e.message, category: categoryOf(e) };
}

/** A worker thread that died under a task (its `error` event). */
export function crashedWorkerInfo(error: Error): TaskErrorInfo {
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name || "WorkerCrash",
    code: typeof code === "string" ? code : "WORKER_CRASHED",
    message: `engine worker crashed: ${error.message}`,
    category: categoryOf(error),
  };
}

function categoryOf(error: Error): EngineErrorCategory {
  if (error instanceof EngineError) return error.category;
  if ((error as { code?: unknown }).code === "ERR_WORKER_OUT_OF_MEMORY") return "resource";
  return categoryOfCause(error);
}
