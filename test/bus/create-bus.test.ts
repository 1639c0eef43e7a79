/** @module test/bus/create-bus — choosing the bus: NATS_URL, a spawned local nats-server, or in-process. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exampleJobEnvelope } from "../../src/contracts/index.ts";
import { BusArgumentError, BusTransportError, createBus, findNatsServerBinary, readArtifact, startLocalNatsServer, type BusLogger } from "../../src/bus/index.ts";
import { deleteNamespace, natsTestUrl, uniqueNamespace } from "./nats-test-server.ts";

function recordingLog(): BusLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`) };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("NATS_URL wins: JetStream there, nothing spawned", async () => {
  const url = await natsTestUrl();
  const log = recordingLog();
  const namespace = uniqueNamespace();
  const bus = await createBus({ natsUrl: url, dataDir: "/nonexistent", log, namespace });
  try {
    assert.equal(bus.kind, "jetstream");
    assert.ok(log.lines.some((l) => l.includes(`JetStream at ${url} (NATS_URL)`)), log.lines.join("\n"));
  } finally {
    await bus.close();
    await deleteNamespace(url, namespace);
  }
});

test("without NATS_URL and without nats-server: the in-process bus, with a warning", async () => {
  const log = recordingLog();
  const bus = await createBus({ dataDir: "/nonexistent", log, natsServerBinary: null });
  assert.equal(bus.kind, "in-process");
  assert.ok(log.lines.some((l) => l.startsWith("warn job bus: in-process")), log.lines.join("\n"));
  const { duplicate } = await bus.publishJob(exampleJobEnvelope("train"));
  assert.equal(duplicate, false);
  await bus.close();
  assert.equal(await startLocalNatsServer("/nonexistent", log, { binary: null }), null);
  assert.equal(findNatsServerBinary({ NATS_SERVER_BIN: "/nonexistent/nats-server" }), null);
});

test("without NATS_URL and with nats-server: spawns one under <dataDir>/nats; jobs survive a restart; close stops it", async (t) => {
  const binary = findNatsServerBinary();
  assert.ok(binary, "nats-server must be installed for this test (apt-get install nats-server)");
  const dataDir = mkdtempSync(join(tmpdir(), "parm-data-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const log = recordingLog();
  const bus = await createBus({ dataDir, log });
  assert.equal(bus.kind, "jetstream");
  const started = log.lines.find((l) => l.includes("started nats-server"));
  assert.ok(started && started.includes(join(dataDir, "nats")), log.lines.join("\n"));
  assert.ok(log.lines.some((l) => l.includes("local nats-server")));
  const envelope = exampleJobEnvelope("generate");
  await bus.publishJob(envelope);
  await bus.close();

  const again = await createBus({ dataDir, log });
  try {
    const [delivery] = await again.pullJobs("generate", { max: 1, expiresMs: 2000 });
    assert.deepEqual(delivery?.envelope, envelope, "file storage keeps queued jobs across restarts");
    await delivery.ack();
  } finally {
    await again.close();
  }
  const server = await startLocalNatsServer(join(dataDir, "nats2"), log);
  assert.ok(server);
  assert.ok(isAlive(server.pid));
  await server.stop();
  assert.equal(isAlive(server.pid), false);
});

test("mode inprocess (PARM_BUS=inprocess): the in-process bus even with nats-server installed; artifacts under <dataDir>/artifacts", async (t) => {
  assert.ok(findNatsServerBinary(), "nats-server must be installed for this test (apt-get install nats-server)");
  const dataDir = mkdtempSync(join(tmpdir(), "parm-data-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const log = recordingLog();
  const bus = await createBus({ mode: "inprocess", dataDir, log, eventSeqAfter: 9 });
  try {
    assert.equal(bus.kind, "in-process");
    assert.ok(log.lines.some((l) => l.startsWith("info job bus: in-process (PARM_BUS=inprocess)")), log.lines.join("\n"));
    assert.ok(!log.lines.some((l) => l.includes("started nats-server")), "nothing spawned");
    await bus.artifacts.put("models/m.bin", new Uint8Array([1, 2]));
    assert.equal((await bus.publishEvent(crypto.randomUUID(), { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 })).seq, 10);
  } finally {
    await bus.close();
  }
  const again = await createBus({ mode: "inprocess", dataDir, log });
  assert.deepEqual([...(await readArtifact((await again.artifacts.get("models/m.bin"))!))], [1, 2], "artifacts outlive the process");
  await again.close();
  await assert.rejects(createBus({ mode: "inprocess", natsUrl: "nats://127.0.0.1:4222", dataDir, log }), BusArgumentError);
  await assert.rejects(createBus({ mode: "jetstream", dataDir, log, natsServerBinary: null }), BusTransportError);
});
