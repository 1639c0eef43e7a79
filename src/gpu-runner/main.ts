/**
 * @module gpu-runner/main — `npm run runner`: one runner process. Reads its settings from the environment
 * (runner/config.ts, docs/runners.md), picks the device (CUDA when it loads, else a hardware WebGPU adapter, else CPU; one log line: device/detect.ts), starts the
 * runner and stops it gracefully on the first SIGINT, SIGTERM or SIGHUP: stop pulling, stop in-flight jobs at their
 * next step (training checkpoints first), hand them back, let the engine workers release their sessions and exit,
 * then exit 0. Later signals are logged and ignored: a terminal's Ctrl-C reaches the embedded runner together with
 * the api, which then sends its own SIGTERM, and exiting in the middle of a native onnxruntime call would abort the
 * process. Logs are JSON lines on stderr.
 *
 * With PARM_BUS=ipc (npm start's embedded runner beside an in-process bus) the bus is the parent's, over the IPC
 * channel; the channel closing (the api is gone) stops the runner the same graceful way.
 */
import { connectIpcBus, ipcEndpoint } from "../bus/index.ts";
import { detectDevice } from "./device/index.ts";
import { loadRunnerConfig, startRunner } from "./runner/index.ts";

function line(level: "info" | "warn" | "error", msg: string): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, msg }) + "\n");
}
const log = { info: (m: string) => line("info", m), warn: (m: string) => line("warn", m) };

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Calls `stop` once, on the first stop signal (also one that arrived while the runner was starting); later signals
 *  are logged and ignored. */
function stopOnFirstSignal(): { ready(stop: () => Promise<void>): void; trigger(reason: string): void } {
  let first: string | null = null;
  let stop: (() => Promise<void>) | null = null;
  const begin = () => {
    line("info", `${first}: stopping (in-flight jobs are handed back)`);
    stop!().then(
      () => process.exit(0),
      (error: unknown) => {
        line("error", `stop failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  const trigger = (reason: string) => {
    if (first !== null) {
      line("info", `${reason}: already stopping; in-flight jobs finish their current step first`);
      return;
    }
    first = reason;
    if (stop) begin();
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => trigger(signal));
  return {
    ready(fn) {
      stop = fn;
      if (first !== null) begin();
    },
    trigger,
  };
}

async function main(): Promise<void> {
  const signals = stopOnFirstSignal();
  const config = loadRunnerConfig();
  const device = await detectDevice({ preference: config.device.preference, allowSoftwareAdapter: config.device.allowSoftwareAdapter, threads: config.threads, slots: config.slots, log });
  let bus;
  if (config.bus === "ipc") {
    const endpoint = ipcEndpoint(process);
    endpoint.on("disconnect", () => signals.trigger("IPC channel closed (the api is gone)"));
    bus = await connectIpcBus(endpoint, { log });
  }
  const runner = await startRunner({
    natsUrl: config.natsUrl,
    bus,
    runnerId: config.runnerId,
    slots: config.slots,
    kinds: config.kinds,
    device,
    cacheDir: config.cacheDir,
    namespace: config.namespace,
    ackWaitMs: config.ackWaitMs,
    maxDeliver: config.maxDeliver,
    heartbeatTtlMs: config.heartbeatTtlMs,
    log,
  });
  signals.ready(() => runner.stop());
}

main().catch((error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "runner failed to start", error: e.message, code: (e as { code?: unknown }).code }) + "\n");
  process.exit(1);
});
