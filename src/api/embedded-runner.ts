/** @module api/embedded-runner
 *  Single-machine mode: `npm start` runs one CPU runner beside the api as a CHILD PROCESS (`npm run runner`'s entry
 *  point), so the api never imports the runner or onnxruntime. It reaches the api's bus:
 *  - JetStream (NATS_URL or a local nats-server): the child connects to the same server (NATS_URL);
 *  - the in-process bus: the child gets an IPC channel (`serialization: "advanced"`, PARM_BUS=ipc) and its bus is a
 *    client of the api's (bus/ipc-bus.ts), served here (`serveBusOverIpc`) for as long as the child lives.
 *  The child gets the api's data directory, is restarted after a crash (with a growing delay, at most once per 30 s),
 *  and stops with the api (SIGTERM; it stops gracefully, handing its jobs back, before the bus closes). */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { ipcEndpoint, serveBusOverIpc, type IpcBusServer, type JobBus } from "../bus/index.ts";
import type { Logger } from "./server/index.ts";

const RUNNER_ENTRY = fileURLToPath(new URL("../gpu-runner/main.ts", import.meta.url));
const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export interface EmbeddedRunner {
  /** The running child's pid (null between a crash and its restart). */
  pid(): number | null;
  stop(): Promise<void>;
}

export interface EmbeddedRunnerOptions {
  readonly bus: JobBus;
  readonly dataDir: string;
  readonly log: Logger;
  /** Extra environment for the child (tests: threads, runner id, device). */
  readonly env?: Record<string, string>;
}

/** The child's environment for `bus`: NATS_URL for JetStream, PARM_BUS=ipc for the in-process bus. */
function busEnvironment(bus: JobBus): Record<string, string> {
  if (bus.kind === "jetstream" && bus.url) return { PARM_BUS: "jetstream", NATS_URL: bus.url };
  if (bus.kind === "in-process") return { PARM_BUS: "ipc" };
  throw new Error(`the embedded runner cannot reach a ${bus.kind} bus`);
}

export function startEmbeddedRunner(options: EmbeddedRunnerOptions): EmbeddedRunner {
  const { bus, dataDir, log } = options;
  const viaIpc = bus.kind === "in-process";
  const busEnv = busEnvironment(bus);
  let child: ChildProcess | null = null;
  let server: IpcBusServer | null = null;
  let stopping = false;
  let restarts = 0;
  let timer: NodeJS.Timeout | null = null;

  const launch = () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PARM_DATA_DIR: dataDir,
      PARM_EXECUTION_PROVIDER: process.env.PARM_EXECUTION_PROVIDER ?? "cpu",
      ...busEnv,
      ...options.env,
    };
    if (viaIpc) delete env.NATS_URL;
    child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", RUNNER_ENTRY], {
      cwd: REPO_ROOT,
      env,
      stdio: viaIpc ? ["ignore", "inherit", "inherit", "ipc"] : ["ignore", "inherit", "inherit"],
      ...(viaIpc ? { serialization: "advanced" as const } : {}),
    });
    const started = child;
    const served = viaIpc ? serveBusOverIpc(bus, ipcEndpoint(started), { log: { info: (m) => log.info(m), warn: (m) => log.warn(m) } }) : null;
    server = served;
    log.info("embedded runner started", { pid: started.pid ?? null, bus: viaIpc ? "in-process over IPC" : "JetStream" });
    const killOnExit = () => started.kill("SIGTERM");
    process.once("exit", killOnExit);
    started.once("exit", (code, signal) => {
      process.removeListener("exit", killOnExit);
      void served?.close();
      if (child === started) {
        child = null;
        server = null;
      }
      if (stopping) return;
      restarts += 1;
      const delayMs = Math.min(30_000, 1_000 * 2 ** Math.min(restarts, 5));
      log.warn("embedded runner exited; restarting", { code, signal, delayMs });
      timer = setTimeout(launch, delayMs);
    });
  };
  launch();

  return {
    pid: () => child?.pid ?? null,
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      const running = child as ChildProcess | null;
      if (!running) return;
      const exited = new Promise<void>((r) => running.once("exit", () => r()));
      running.kill("SIGTERM");
      const killTimer = setTimeout(() => running.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killTimer);
      await (server as IpcBusServer | null)?.close();
    },
  };
}
