/** @module test/bus/jetstream — the bus contract on a real nats-server, plus JetStream-specific checks. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { EVENTS_STREAM, JOBS_DLQ_STREAM, JOBS_STREAM, JOB_KINDS, exampleJobEnvelope, jobConsumerName, type JobEvent } from "../../src/contracts/index.ts";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BusTransportError, connectJetStreamBus, findNatsServerBinary, type JobBus } from "../../src/bus/index.ts";
import { closingAlso, runBusContract } from "./contract.ts";
import { deleteNamespace, natsTestUrl, uniqueNamespace } from "./nats-test-server.ts";

runBusContract("jetstream", async (settings) => {
  const url = await natsTestUrl();
  const namespace = uniqueNamespace();
  const bus = await connectJetStreamBus(url, { namespace, settings });
  return closingAlso(bus, () => deleteNamespace(url, namespace));
});

test("jetstream: a published job sits on JOBS under jobs.train.<tenant> with Nats-Msg-Id = job id", async () => {
  const url = await natsTestUrl();
  const bus = await connectJetStreamBus(url);
  const nc = await connect({ servers: url });
  try {
    const envelope = exampleJobEnvelope("train");
    const { seq, duplicate } = await bus.publishJob(envelope);
    assert.equal(duplicate, false);
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage(JOBS_STREAM, { seq });
    assert.ok(stored, "message is on the stream");
    assert.equal(stored.subject, `jobs.train.${envelope.tenantId}`);
    assert.equal(stored.header.get("Nats-Msg-Id"), envelope.jobId);
    assert.deepEqual(stored.json(), envelope);

    const info = await jsm.streams.info(JOBS_STREAM);
    assert.equal(info.config.retention, RetentionPolicy.Workqueue);
    assert.deepEqual(info.config.subjects, ["jobs.>"]);
    assert.ok(info.config.duplicate_window > 0);
    assert.equal((await jsm.streams.info(EVENTS_STREAM)).config.retention, RetentionPolicy.Limits);
    assert.deepEqual((await jsm.streams.info(JOBS_DLQ_STREAM)).config.subjects, ["dlq.jobs.>"]);
    for (const kind of JOB_KINDS) {
      const consumer = await jsm.consumers.info(JOBS_STREAM, jobConsumerName(kind));
      assert.equal(consumer.config.filter_subject, `jobs.${kind}.>`);
      assert.equal(consumer.config.ack_policy, "explicit");
      assert.equal(consumer.config.max_deliver, 5);
      assert.equal(consumer.config.ack_wait, 30_000_000_000);
    }
    // Leave the shared stream as found.
    await jsm.streams.deleteMessage(JOBS_STREAM, seq);
  } finally {
    await nc.close();
    await bus.close();
  }
});

test("jetstream: setup is idempotent and updates consumer tunables; wrong retention is refused", async () => {
  const url = await natsTestUrl();
  const namespace = uniqueNamespace();
  const nc = await connect({ servers: url });
  try {
    const first = await connectJetStreamBus(url, { namespace });
    const envelope = exampleJobEnvelope("generate");
    await first.publishJob(envelope);
    await first.close();
    const second = await connectJetStreamBus(url, { namespace, settings: { ackWaitMs: 5000, maxDeliver: 2 } });
    const jsm = await jetstreamManager(nc);
    const consumer = await jsm.consumers.info(`${namespace}_JOBS`, "jobs-generate");
    assert.equal(consumer.config.ack_wait, 5_000_000_000);
    assert.equal(consumer.config.max_deliver, 2);
    assert.deepEqual((await second.queueDepth("generate")).pending, 1, "reconnecting keeps queued jobs");
    const [delivery] = await second.pullJobs("generate", { max: 1, expiresMs: 2000 });
    assert.equal(delivery.envelope.jobId, envelope.jobId);
    await delivery.ack();
    await second.close();

    const other = uniqueNamespace();
    await jsm.streams.add({ name: `${other}_EVENTS`, subjects: [`${other}.events.job.>`], retention: RetentionPolicy.Workqueue });
    await assert.rejects(connectJetStreamBus(url, { namespace: other }), (e: unknown) => e instanceof BusTransportError && /retention/.test(e.message));
    await deleteNamespace(url, other);
  } finally {
    await nc.close();
    await deleteNamespace(url, namespace);
  }
});

test("jetstream: an unreachable server is a BusTransportError naming the url", async () => {
  await assert.rejects(
    connectJetStreamBus("nats://127.0.0.1:1"),
    (e: unknown) => e instanceof BusTransportError && e.message.includes("nats://127.0.0.1:1"),
  );
});

test("jetstream: a dead-lettered job is copied to JOBS_DLQ (dlq.jobs.<kind>.<tenant>) and deleted from JOBS", async () => {
  const url = await natsTestUrl();
  const namespace = uniqueNamespace();
  const bus = await connectJetStreamBus(url, { namespace, settings: { maxDeliver: 1 } });
  const nc = await connect({ servers: url });
  try {
    const letters: string[] = [];
    bus.onDeadLetter((letter) => {
      letters.push(letter.envelope.jobId);
    });
    const envelope = exampleJobEnvelope("evaluate");
    const { seq } = await bus.publishJob(envelope);
    const [delivery] = await bus.pullJobs("evaluate", { max: 1, expiresMs: 2000 });
    delivery.nak();
    assert.deepEqual(await bus.pullJobs("evaluate", { max: 1, expiresMs: 1000 }), []);
    const deadline = Date.now() + 5000;
    while (letters.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(letters, [envelope.jobId]);
    const jsm = await jetstreamManager(nc);
    const copy = await jsm.streams.getMessage(`${namespace}_JOBS_DLQ`, { last_by_subj: `${namespace}.dlq.jobs.evaluate.${envelope.tenantId}` });
    assert.ok(copy);
    assert.deepEqual(copy.json(), envelope);
    assert.equal(copy.header.get("Nats-Msg-Id"), envelope.jobId);
    assert.equal((await jsm.streams.info(`${namespace}_JOBS`)).state.messages, 0);
    assert.equal(await jsm.streams.getMessage(`${namespace}_JOBS`, { seq }), null);
  } finally {
    await nc.close();
    await bus.close();
    await deleteNamespace(url, namespace);
  }
});

test("jetstream: runners.list answers while heartbeats expire under it (listed from the stream's subjects, not a key consumer)", async () => {
  const url = await natsTestUrl();
  const namespace = uniqueNamespace();
  const bus = await connectJetStreamBus(url, { namespace, settings: { heartbeatTtlMs: 1000 } });
  const beat = (runnerId: string) => ({
    runnerId, version: "0.1.0", hostname: "h", device: "cpu" as const, kinds: ["generate" as const], totalSlots: 1, freeSlots: 1,
    loadedModels: [], runningJobIds: [], at: new Date().toISOString(),
  });
  try {
    const written: string[] = [];
    const until = Date.now() + 3500;
    for (let i = 0; Date.now() < until; i++) {
      const id = `r-${i}`;
      await bus.runners.put(id, beat(id));
      written.push(id);
      let timer: NodeJS.Timeout | undefined;
      const listed = await Promise.race([
        bus.runners.list(),
        new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 3000))),
      ]);
      clearTimeout(timer);
      assert.notEqual(listed, "timeout", `list ${i} did not answer within 3 s`);
      const ids = (listed as { runnerId: string }[]).map((e) => e.runnerId);
      assert.ok(ids.includes(id), `the heartbeat just written (${id}) is listed`);
      assert.ok(ids.every((r) => written.includes(r)));
      assert.deepEqual(ids, [...ids].sort(), "sorted by runner id");
      await new Promise((r) => setTimeout(r, 40));
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await bus.runners.list(), [], "expired heartbeats are gone");
  } finally {
    await bus.close();
    await deleteNamespace(url, namespace);
  }
});

test("jetstream: an event subscription resumes within seconds after nats-server restarts", { timeout: 60_000 }, async () => {
  const binary = findNatsServerBinary();
  assert.ok(binary, "nats-server is installed");
  const dir = mkdtempSync(join(tmpdir(), "parm-restart-"));
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const start = async () => {
    const child = spawn(binary!, ["-js", "-sd", join(dir, "store"), "-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const socket = tcpConnect(port, "127.0.0.1", () => (socket.end(), resolve(true))).on("error", () => resolve(false));
      });
      if (up) return child;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("nats-server did not start");
  };
  let server = await start();
  const bus = await connectJetStreamBus(`nats://127.0.0.1:${port}`);
  const seen: number[] = [];
  const subscription = await bus.subscribeEvents({}, (d) => void seen.push(d.seq));
  try {
    const jobId = crypto.randomUUID();
    const progress: JobEvent = { type: "progress", step: 1, totalSteps: 2, percent: 50, etaSeconds: null, lossPerObjective: [], tokensPerSecond: 0 };
    await bus.publishEvent(jobId, progress);
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 20));
    await new Promise<void>((resolve) => (server.once("exit", () => resolve()), server.kill("SIGTERM")));
    server = await start();
    let published: { seq: number } | null = null;
    while (!published) published = await bus.publishEvent(jobId, progress).catch(() => null); // the client reconnects meanwhile
    const after = Date.now();
    while (!seen.includes(published.seq)) {
      assert.ok(Date.now() - after < 15_000, "the event published after the restart arrived within 15 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await subscription.stop();
    await bus.close();
    server.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
});
