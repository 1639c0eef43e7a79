/**
 * @module test/runner/harness — runner test plumbing: a JetStream bus in a fresh namespace (the api's view),
 * the artifact store of that namespace, runners started in-process or as child processes (`npm run runner`'s
 * entry), and waiting for a job's events.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { connectJetStreamBus, type EventDelivery, type JobBus } from "../../src/bus/index.ts";
import type { JobEvent } from "../../src/contracts/index.ts";
import { busArtifactStore, type ArtifactStore } from "../../src/gpu-runner/artifacts/index.ts";
import { runnerNatsNames, startRunner, type Runner, type RunnerOptions } from "../../src/gpu-runner/runner/index.ts";
import { deleteNamespace, natsTestUrl, uniqueNamespace } from "../bus/nats-test-server.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface Harness {
  readonly url: string;
  readonly namespace: string;
  readonly bus: JobBus;
  readonly artifacts: ArtifactStore;
  readonly runnersKv: KV;
  readonly cancelsKv: KV;
  readonly cacheRoot: string;
  startRunner(overrides?: Partial<RunnerOptions>): Promise<Runner>;
  spawnRunner(env?: Record<string, string>): ChildProcess & { logs: () => string };
  close(): Promise<void>;
}

export const TEST_SETTINGS = { ackWaitMs: 2000, maxDeliver: 3 } as const;

export async function openHarness(options: { url?: string; settings?: { ackWaitMs: number; maxDeliver: number } } = {}): Promise<Harness> {
  const url = options.url ?? (await natsTestUrl());
  const settings = options.settings ?? TEST_SETTINGS;
  const namespace = uniqueNamespace();
  const names = runnerNatsNames(namespace);
  const bus = await connectJetStreamBus(url, { namespace, settings: { ...settings, heartbeatTtlMs: 3000 } });
  const artifacts = busArtifactStore(bus.artifacts);
  // The tests read and write the KV buckets directly too (the names and values docs/runners.md documents).
  const nc: NatsConnection = await connect({ servers: url, maxReconnectAttempts: -1 });
  const kvm = new Kvm(nc);
  const runnersKv = await kvm.create(names.runnersBucket, { ttl: 3000, history: 1 });
  const cancelsKv = await kvm.create(names.cancelsBucket, { ttl: 24 * 3600 * 1000, history: 1 });
  const cacheRoot = mkdtempSync(join(tmpdir(), "parm-runner-test-"));
  const runners: Runner[] = [];
  const children: ChildProcess[] = [];
  let counter = 0;
  return {
    url,
    namespace,
    bus,
    artifacts,
    runnersKv,
    cancelsKv,
    cacheRoot,
    async startRunner(overrides = {}) {
      const runner = await startRunner({
        natsUrl: url,
        namespace,
        runnerId: `test-runner-${++counter}`,
        slots: 1,
        kinds: ["train", "generate", "evaluate", "train-evaluator"],
        device: { provider: "cpu", name: "test-cpu", adapterClass: null, threads: 1, fallbackReason: null },
        cacheDir: join(cacheRoot, `r${counter}`),
        ackWaitMs: settings.ackWaitMs,
        maxDeliver: settings.maxDeliver,
        heartbeatTtlMs: 3000,
        idlePollMs: 1000,
        ...overrides,
      });
      runners.push(runner);
      return runner;
    },
    spawnRunner(env = {}) {
      const id = ++counter;
      const child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", "src/gpu-runner/main.ts"], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          NATS_URL: url,
          PARM_BUS_NAMESPACE: namespace,
          PARM_RUNNER_ID: `child-runner-${id}`,
          PARM_RUNNER_THREADS: "1",
          PARM_EXECUTION_PROVIDER: "cpu",
          PARM_RUNNER_CACHE_DIR: join(cacheRoot, `c${id}`),
          PARM_ACK_WAIT_MS: String(settings.ackWaitMs),
          PARM_MAX_DELIVER: String(settings.maxDeliver),
          PARM_HEARTBEAT_TTL_MS: "3000",
          ...env,
        },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let logs = "";
      child.stderr?.on("data", (chunk: Buffer) => {
        logs += chunk.toString("utf8");
      });
      children.push(child);
      return Object.assign(child, { logs: () => logs });
    },
    async close() {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await Promise.all(runners.map((r) => r.stop().catch(() => undefined)));
      await bus.close();
      await nc.close();
      await deleteNamespace(url, namespace).catch(() => undefined);
      const cleanup = await connect({ servers: url });
      try {
        const jsm = await (await import("@nats-io/jetstream")).jetstreamManager(cleanup);
        for (const stream of [`KV_${names.runnersBucket}`, `KV_${names.cancelsBucket}`, `OBJ_${names.artifactsStore}`]) await jsm.streams.delete(stream).catch(() => false);
      } finally {
        await cleanup.close();
      }
      rmSync(cacheRoot, { recursive: true, force: true });
    },
  };
}

/** Waits until `predicate` holds for the job's stored events; returns them. */
export async function waitForEvents(bus: JobBus, jobId: string, predicate: (events: JobEvent[]) => boolean, timeoutMs = 60_000): Promise<EventDelivery[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await bus.readEvents(jobId);
    if (predicate(events.map((e) => e.event))) return events;
    if (Date.now() > deadline) throw new Error(`timed out waiting for events of job ${jobId}; have: ${events.map((e) => e.event.type).join(", ")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const isTerminal = (events: JobEvent[]) => events.some((e) => e.type === "completed" || e.type === "failed");

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A private nats-server with JetStream on a fixed port and store, restartable (for outage tests). */
export interface RestartableNats {
  readonly url: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

export async function startRestartableNats(): Promise<RestartableNats> {
  const { findNatsServerBinary } = await import("../../src/bus/index.ts");
  const binary = findNatsServerBinary();
  if (!binary) throw new Error("this test needs an installed nats-server (apt-get install nats-server)");
  const { createServer, connect: tcp } = await import("node:net");
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const storeDir = mkdtempSync(join(tmpdir(), "parm-nats-restart-"));
  let child: ChildProcess | null = null;
  const open = () => new Promise<boolean>((resolve) => {
    const socket = tcp(port, "127.0.0.1", () => {
      socket.end();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
  const server: RestartableNats = {
    url: `nats://127.0.0.1:${port}`,
    async start() {
      child = spawn(binary, ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
      const deadline = Date.now() + 10_000;
      while (!(await open())) {
        if (Date.now() > deadline) throw new Error("nats-server did not start");
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = "SIGTERM") {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill(signal);
      await exited;
    },
  };
  await server.start();
  return server;
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
