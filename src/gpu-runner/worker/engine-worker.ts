/**
 * @module gpu-runner/worker/engine-worker — the entry of an engine worker thread: receives `run`/`cancel`
 * messages (worker/protocol.ts), runs one task at a time with EngineTaskRunner and posts its progress, tokens,
 * checkpoints and outcome. Errors are posted as {name, code, message, category} (task-error.ts); the thread
 * itself survives them. On `close` it stops its tasks at their next step, awaits them and closes its port, so the
 * thread ends on its own (never terminated inside an onnxruntime call, which aborts the process with
 * "terminate called … Napi::Error").
 */
import { parentPort } from "node:worker_threads";
import { EngineTaskRunner } from "./engine-tasks.ts";
import type { EngineTask, MainToWorker, WorkerToMain } from "./protocol.ts";
import { taskErrorInfo } from "./task-error.ts";

if (!parentPort) throw new Error("engine-worker.ts must run in a worker thread");
const port = parentPort;
const send = (message: WorkerToMain) => port.postMessage(message);
const runner = new EngineTaskRunner((modelIds) => send({ type: "models", modelIds }));
const controllers = new Map<number, AbortController>();
const tasks = new Set<Promise<void>>();

/** Runs one task and posts its outcome; never rejects. */
function runTask(taskId: number, task: EngineTask): Promise<void> {
  const controller = new AbortController();
  controllers.set(taskId, controller);
  return runner
    .run(task, (m) => send({ ...m, taskId } as WorkerToMain), controller.signal)
    .then(
      (result) => send({ type: "done", taskId, result }),
      (error: unknown) => {
        send({ type: "failed", taskId, error: taskErrorInfo(error) });
      },
    )
    .finally(() => controllers.delete(taskId));
}

/** The orderly end of this thread (see the `close` message): no native call is running when the port closes. */
async function close(): Promise<void> {
  for (const controller of controllers.values()) controller.abort("shutdown");
  await Promise.all(tasks);
  runner.clear();
  port.close();
}

port.on("message", (message: MainToWorker) => {
  switch (message.type) {
    case "cancel":
      controllers.get(message.taskId)?.abort(message.reason);
      return;
    case "run": {
      const running = runTask(message.taskId, message.task);
      tasks.add(running);
      void running.finally(() => tasks.delete(running));
      return;
    }
    case "close":
      void close();
      return;
    default:
      throw new Error(`unknown message ${JSON.stringify(message satisfies never)}`);
  }
});
