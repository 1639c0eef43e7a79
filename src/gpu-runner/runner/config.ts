/**
 * @module gpu-runner/runner/config — the runner's settings from the environment (docs/runners.md):
 * NATS_URL (required unless PARM_BUS=ipc), PARM_BUS (unset or "jetstream": NATS_URL; "ipc": the bus of the parent
 * process over the IPC channel, as npm start's embedded runner with the in-process bus), PARM_RUNNER_ID, PARM_RUNNER_SLOTS (1), PARM_RUNNER_THREADS (cores / slots),
 * PARM_EXECUTION_PROVIDER (auto | cpu | webgpu | cuda) and PARM_WEBGPU_ALLOW_SOFTWARE (device/settings.ts), PARM_RUNNER_KINDS (comma list, default all), PARM_RUNNER_CACHE_DIR
 * (default <PARM_DATA_DIR or .parm>/runner-cache), PARM_BUS_NAMESPACE (""), PARM_ACK_WAIT_MS (30000),
 * PARM_MAX_DELIVER (5), PARM_HEARTBEAT_TTL_MS (30000).
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { JOB_KINDS, JobKindSchema, RUNNER_HEARTBEAT_TTL_MS, type JobKind } from "../../contracts/index.ts";
import { deviceSettingsFromEnv, DeviceSettingsError, type DeviceSettings } from "../device/index.ts";

export class RunnerConfigError extends Error {
  override readonly name = "RunnerConfigError";
  readonly code = "RUNNER_CONFIG_INVALID" as const;
}

export interface RunnerConfig {
  /** How the runner reaches the bus: JetStream at `natsUrl`, or the parent process's bus over IPC. */
  readonly bus: "jetstream" | "ipc";
  /** Set when `bus` is "jetstream". */
  readonly natsUrl: string | undefined;
  readonly runnerId: string;
  readonly slots: number;
  readonly threads: number | undefined;
  readonly device: DeviceSettings;
  readonly kinds: readonly JobKind[];
  readonly cacheDir: string;
  readonly namespace: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly heartbeatTtlMs: number;
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new RunnerConfigError(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

export function defaultRunnerId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 40) || "runner";
  return `${host}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

export function loadRunnerConfig(env: NodeJS.ProcessEnv = process.env): RunnerConfig {
  const bus = env.PARM_BUS || "jetstream";
  if (bus !== "jetstream" && bus !== "ipc" && bus !== "auto") {
    throw new RunnerConfigError(
      `PARM_BUS must be jetstream or ipc for a runner, got ${JSON.stringify(bus)} (the api's in-process bus is reached over IPC by npm start's embedded runner)`,
    );
  }
  const natsUrl = bus === "ipc" ? undefined : env.NATS_URL;
  if (bus !== "ipc" && !natsUrl) throw new RunnerConfigError("NATS_URL is not set; point it at the NATS server (with JetStream) the api uses");
  const runnerId = env.PARM_RUNNER_ID || defaultRunnerId();
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(runnerId)) throw new RunnerConfigError(`PARM_RUNNER_ID must contain only letters, digits, "-" and "_", got ${JSON.stringify(runnerId)}`);
  let device: DeviceSettings;
  try {
    device = deviceSettingsFromEnv(env);
  } catch (error) {
    if (error instanceof DeviceSettingsError) throw new RunnerConfigError(error.message, { cause: error });
    throw error;
  }
  const kinds = env.PARM_RUNNER_KINDS
    ? env.PARM_RUNNER_KINDS.split(",").map((k) => {
        const parsed = JobKindSchema.safeParse(k.trim());
        if (!parsed.success) throw new RunnerConfigError(`PARM_RUNNER_KINDS lists ${JSON.stringify(k)}; job kinds are ${JOB_KINDS.join(", ")}`);
        return parsed.data;
      })
    : [...JOB_KINDS];
  const threadsRaw = env.PARM_RUNNER_THREADS;
  return {
    bus: bus === "ipc" ? "ipc" : "jetstream",
    natsUrl,
    runnerId,
    slots: intVar(env, "PARM_RUNNER_SLOTS", 1, 1),
    threads: threadsRaw ? intVar(env, "PARM_RUNNER_THREADS", 1, 1) : undefined,
    device,
    kinds,
    cacheDir: env.PARM_RUNNER_CACHE_DIR || join(env.PARM_DATA_DIR || ".parm", "runner-cache"),
    namespace: env.PARM_BUS_NAMESPACE ?? "",
    ackWaitMs: intVar(env, "PARM_ACK_WAIT_MS", 30_000, 1000),
    maxDeliver: intVar(env, "PARM_MAX_DELIVER", 5, 1),
    heartbeatTtlMs: intVar(env, "PARM_HEARTBEAT_TTL_MS", RUNNER_HEARTBEAT_TTL_MS, 1000),
  };
}
