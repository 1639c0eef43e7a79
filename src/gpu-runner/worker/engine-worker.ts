/**
 * @module gpu-runner/worker/engine-worker — the entry of an engine worker thread: receives `run`/`cancel`
 * messages (worker/protocol.ts), runs one task at a time with EngineTaskRunner and posts its progress, tokens,
 * checkpoints and outcome. Errors are posted as {name, code, message}; the thread itself survives them.
 */
import { parentPort } from "node:worker_threads";
import { EngineTaskRunner } from "./engine-tasks.ts";
import type { MainToWorker, WorkerToMain } from "./protocol.ts";

if (!parentPort) throw new Error("engine-worker.ts must run in a worker thread");
const port = parentPort;
const send = (message: WorkerToMain) => port.postMessage(message);
const runner = new EngineTaskRunner((modelIds) => send({ type: "models", modelIds }));
const controllers = new Map<number, AbortController>();

port.on("message", (message: MainToWorker) => {
  switch (message.type) {
    case "cancel":
      controllers.get(message.taskId)?.abort(message.reason);
      return;
    case "run": {
      const { taskId, task } = message;
      const controller = new AbortController();
      controllers.set(taskId, controller);
      runner
        .run(
          task,
          (m) => {
            send({ ...m, taskId } as WorkerToMain);
          },
          controller.signal,
        )
        .then(
          (result) => send({ type: "done", taskId, result }),
          (error: unknown) => {
            const e = error instanceof Error ? error : new Error(String(error));
            const code = (e as { code?: unknown }).code;
            send({ type: "failed", taskId, error: { name: e.name, code: typeof code === "string" ? code : null, message: e.message } });
          },
        )
        .finally(() => controllers.delete(taskId));
      return;
    }
    default:
      throw new Error(`unknown message ${JSON.stringify(message satisfies never)}`);
  }
});
