/** @module gpu-runner/worker — engine worker threads: the pool, the task protocol, and the in-thread task runner. */
export { createWorkerPool, TaskCancelledError, TaskFailedError, WorkerPoolClosedError, type WorkerPool } from "./pool.ts";
export { EngineTaskRunner } from "./engine-tasks.ts";
export { crashedWorkerInfo, taskErrorInfo } from "./task-error.ts";
export type * from "./protocol.ts";
