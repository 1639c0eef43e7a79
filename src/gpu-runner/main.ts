/**
 * @module gpu-runner/main — `npm run runner`: one runner process. Reads its settings from the environment
 * (runner/config.ts, docs/runners.md), picks the device (CUDA when it loads, else CPU, one log line), starts the
 * runner and stops it gracefully on SIGINT/SIGTERM (stop pulling, hand in-flight jobs back); a second signal exits
 * at once. Logs are JSON lines on stderr.
 */
import { detectDevice } from "./device/index.ts";
import { loadRunnerConfig, startRunner } from "./runner/index.ts";

function line(level: "info" | "warn" | "error", msg: string): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, msg }) + "\n");
}
const log = { info: (m: string) => line("info", m), warn: (m: string) => line("warn", m) };

async function main(): Promise<void> {
  const config = loadRunnerConfig();
  const device = await detectDevice({ preference: config.devicePreference, threads: config.threads, slots: config.slots, log });
  const runner = await startRunner({
    natsUrl: config.natsUrl,
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
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      line("warn", `${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    line("info", `${signal}: stopping (in-flight jobs are handed back)`);
    runner.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        line("error", `stop failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

main().catch((error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "runner failed to start", error: e.message, code: (e as { code?: unknown }).code }) + "\n");
  process.exit(1);
});
