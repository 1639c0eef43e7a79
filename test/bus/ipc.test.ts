/**
 * @module test/bus/ipc — the bus contract against the IPC adapter: this process is the client (`connectIpcBus` over a
 * ChildProcess), a child process owns an in-process bus and serves it (`serveBusOverIpc`, test/bus/ipc-host.ts), as
 * the embedded runner and the api do the other way round. Plus what only it has: a lost channel, the session's
 * clean-up when the client goes away, and a channel without binary data.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exampleJobEnvelope } from "../../src/contracts/index.ts";
import {
  BusArgumentError,
  BusTransportError,
  connectIpcBus,
  createInProcessBus,
  ipcEndpoint,
  serveBusOverIpc,
  type JobBus,
  type JobQueueSettings,
} from "../../src/bus/index.ts";
import { closingAlso, runBusContract } from "./contract.ts";

const HOST = fileURLToPath(new URL("./ipc-host.ts", import.meta.url));

function spawnHost(settings: Partial<JobQueueSettings>, artifactsDir?: string, serialization: "advanced" | "json" = "advanced"): ChildProcess {
  return spawn(process.execPath, ["--import", "@swc-node/register/esm-register", HOST], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization,
    env: { ...process.env, PARM_TEST_BUS_SETTINGS: JSON.stringify(settings), ...(artifactsDir ? { PARM_TEST_ARTIFACTS_DIR: artifactsDir } : {}) },
  });
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));

runBusContract("ipc (to an in-process bus in a child process)", async (settings) => {
  const dir = mkdtempSync(join(tmpdir(), "parm-ipc-bus-"));
  const child = spawnHost(settings, join(dir, "artifacts"));
  const bus = await connectIpcBus(ipcEndpoint(child), { helloTimeoutMs: 60_000 });
  assert.equal(bus.kind, "ipc");
  assert.equal(bus.settings.ackWaitMs, settings.ackWaitMs, "the served bus's settings");
  return closingAlso(bus, async () => {
    if (child.connected) child.disconnect();
    await exited(child);
    rmSync(dir, { recursive: true, force: true });
  });
});

test("ipc: a lost channel fails calls with BusTransportError; the served bus keeps the client's job in flight until the ack wait", async () => {
  const child = spawnHost({ ackWaitMs: 1000, maxDeliver: 3 });
  const bus = await connectIpcBus(ipcEndpoint(child), { helloTimeoutMs: 60_000 });
  const envelope = exampleJobEnvelope("train");
  await bus.publishJob(envelope);
  const [delivery] = await bus.pullJobs("train", { max: 1, expiresMs: 2000 });
  assert.equal(delivery.envelope.jobId, envelope.jobId);
  const pulling = bus.pullJobs("generate", { max: 1, expiresMs: 5000 });
  child.kill("SIGKILL");
  await assert.rejects(pulling, BusTransportError);
  await exited(child);
  await assert.rejects(bus.publishJob(exampleJobEnvelope("train")), BusTransportError);
  delivery.working(); // harmless once the channel is gone
  await bus.close();
});

test("ipc: when the client goes away, the server stops its subscriptions and the job it held is redelivered after the ack wait", async () => {
  // Both ends in this process: the server over one end of a real channel, the client over the child's.
  const served = createInProcessBus({ settings: { ackWaitMs: 1000, maxDeliver: 3 } });
  const child = spawn(process.execPath, ["-e", "process.on('message', (m) => process.send(m)); process.on('disconnect', () => process.exit(0));"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  // The child echoes: whatever the client sends comes back to the server's listener on the same ChildProcess and
  // vice versa, so route by message kind.
  const { EventEmitter } = await import("node:events");
  const toServer = new EventEmitter();
  const toClient = new EventEmitter();
  child.on("message", (m: { t?: string }) => (m.t === "call" || m.t === "cast" ? toServer : toClient).emit("message", m));
  child.on("disconnect", () => {
    toServer.emit("disconnect");
    toClient.emit("disconnect");
  });
  const endpoint = (side: InstanceType<typeof EventEmitter>) => ({
    send: (message: unknown, callback: (error: Error | null) => void) => child.send(message as never, callback),
    on: (event: string, listener: (...args: unknown[]) => void) => side.on(event, listener),
    off: (event: string, listener: (...args: unknown[]) => void) => side.off(event, listener),
    get connected() {
      return child.connected;
    },
  });
  const server = serveBusOverIpc(served, endpoint(toServer) as never);
  const bus = await connectIpcBus(endpoint(toClient) as never);
  try {
    const seen: number[] = [];
    await bus.subscribeEvents({}, (d) => {
      seen.push(d.seq);
    });
    const envelope = exampleJobEnvelope("evaluate");
    await bus.publishJob(envelope);
    const [delivery] = await bus.pullJobs("evaluate", { max: 1, expiresMs: 2000 });
    assert.equal(delivery.deliveryCount, 1);
    await served.publishEvent(envelope.jobId, { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 });
    const deadline = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen.length, 1);
    child.disconnect();
    await server.closed;
    await served.publishEvent(envelope.jobId, { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 });
    const [again] = await served.pullJobs("evaluate", { max: 1, expiresMs: 4000 });
    assert.equal(again?.deliveryCount, 2, "redelivered after the ack wait");
    await again.ack();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, 1, "nothing is pushed after the client went away");
  } finally {
    if (child.connected) child.disconnect();
    await bus.close();
    await served.close();
  }
});

test("ipc: a channel without binary data (serialization json) is refused at connect", async () => {
  const child = spawnHost({}, undefined, "json");
  try {
    await assert.rejects(connectIpcBus(ipcEndpoint(child), { helloTimeoutMs: 60_000 }), BusArgumentError);
  } finally {
    child.disconnect();
    await exited(child);
  }
});

test("ipc: a process without an IPC channel has no endpoint", () => {
  assert.throws(() => ipcEndpoint({ on: () => undefined, off: () => undefined }), BusArgumentError);
});
