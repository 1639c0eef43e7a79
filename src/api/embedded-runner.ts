/** @module api/embedded-runner
 *  Single-machine mode: `npm start` runs one CPU runner beside the api as a CHILD PROCESS (`npm run runner`'s entry
 *  point), so the api never imports the runner or onnxruntime. The child gets the api's NATS server URL and data
 *  directory, is restarted after a crash (with a growing delay, at most once per 30 s), and stops with the api.
 *  Without a NATS server (the in-process bus) no runner can connect: the api says so once and runs without one. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import type { Logger } from "./server/index.ts";

const RUNNER_ENTRY = fileURLToPath(new URL("../gpu-runner/main.ts", import.meta.url));
const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export interface EmbeddedRunner {
  stop(): Promise<void>;
}

export function startEmbeddedRunner(options: { natsUrl: string | undefined; dataDir: string; log: Logger }): EmbeddedRunner | null {
  const { natsUrl, dataDir, log } = options;
  if (!natsUrl) {
    log.warn("no NATS server (in-process bus): jobs stay QUEUED until a runner can connect; install nats-server or set NATS_URL");
    return null;
  }
  let child: ChildProcess | null = null;
  let stopping = false;
  let restarts = 0;
  let timer: NodeJS.Timeout | null = null;

  const launch = () => {
    child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", RUNNER_ENTRY], {
      cwd: REPO_ROOT,
      env: { ...process.env, NATS_URL: natsUrl, PARM_DATA_DIR: dataDir, PARM_EXECUTION_PROVIDER: process.env.PARM_EXECUTION_PROVIDER ?? "cpu" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    log.info("embedded runner started", { pid: child.pid ?? null });
    const started = child;
    const killOnExit = () => started.kill("SIGTERM");
    process.once("exit", killOnExit);
    child.once("exit", (code, signal) => {
      process.removeListener("exit", killOnExit);
      child = null;
      if (stopping) return;
      restarts += 1;
      const delayMs = Math.min(30_000, 1_000 * 2 ** Math.min(restarts, 5));
      log.warn("embedded runner exited; restarting", { code, signal, delayMs });
      timer = setTimeout(launch, delayMs);
    });
  };
  launch();

  return {
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
    },
  };
}
