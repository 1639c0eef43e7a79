/**
 * @module test/bus/contract — one behavioural contract for every JobBus implementation: jobs, events, dead letters,
 * and the facets (cancellation requests, runner heartbeats, artifacts). Each test gets a fresh, isolated bus from the
 * factory (ack wait 1 s, max 3 deliveries, heartbeat TTL 1 s) and closes it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
  ContractValidationError,
  InvalidSubjectTokenError,
  exampleJobEnvelope,
  type JobEvent,
  type JobKind,
  type RunnerHeartbeat,
} from "../../src/contracts/index.ts";
import {
  BusArgumentError,
  BusClosedError,
  readArtifact,
  type DeadLetter,
  type EventDelivery,
  type JobBus,
  type JobQueueSettings,
  type RunnerHeartbeatChange,
} from "../../src/bus/index.ts";

export const CONTRACT_SETTINGS: Partial<JobQueueSettings> = { ackWaitMs: 1000, maxDeliver: 3, heartbeatTtlMs: 1000 };

const heartbeat = (runnerId: string, freeSlots = 1): RunnerHeartbeat & { deviceName: string } => ({
  runnerId,
  version: "0.1.0",
  hostname: "host",
  device: "cpu",
  deviceName: "test-cpu",
  kinds: ["train", "generate"],
  totalSlots: 1,
  freeSlots,
  loadedModels: [],
  runningJobIds: [],
  at: new Date().toISOString(),
});

async function* slowChunks(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) {
    await sleep(1);
    yield chunk;
  }
}

export type BusFactory = (settings: Partial<JobQueueSettings>) => Promise<JobBus>;

/** `bus`, whose `close()` also runs `cleanup` afterwards (the bus may be a class instance: its methods stay bound). */
export function closingAlso(bus: JobBus, cleanup: () => Promise<void> | void): JobBus {
  return new Proxy(bus, {
    get(target, property) {
      if (property === "close") {
        return async () => {
          await target.close();
          await cleanup();
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const progress = (step: number): JobEvent => ({
  type: "progress",
  step,
  totalSteps: 10,
  percent: step * 10,
  etaSeconds: null,
  lossPerObjective: [0.7, 0.6],
  tokensPerSecond: 100,
});

export function runBusContract(label: string, factory: BusFactory): void {
  const withBus = (name: string, body: (bus: JobBus) => Promise<void>) =>
    test(`${label}: ${name}`, async () => {
      const bus = await factory(CONTRACT_SETTINGS);
      try {
        await body(bus);
      } finally {
        await bus.close();
      }
    });

  withBus("publishJob validates, numbers jobs and collapses duplicates by job id", async (bus) => {
    const first = exampleJobEnvelope("train");
    const second = exampleJobEnvelope("generate", { tenantId: first.tenantId });
    const a = await bus.publishJob(first);
    const b = await bus.publishJob(second);
    assert.equal(a.duplicate, false);
    assert.ok(b.seq > a.seq);
    assert.deepEqual(await bus.publishJob({ ...first }), { seq: a.seq, duplicate: true });
    assert.deepEqual(await bus.queueDepth("train"), { pending: 1, inFlight: 0 });
    await assert.rejects(bus.publishJob({ ...exampleJobEnvelope("train"), payload: { method: "PARM" } } as never), ContractValidationError);
    await assert.rejects(bus.publishJob({ ...exampleJobEnvelope("train"), tenantId: "a.b" }), ContractValidationError);
  });

  withBus("pullJobs delivers jobs of its kind in publish order, each to one consumer", async (bus) => {
    const trains = [exampleJobEnvelope("train"), exampleJobEnvelope("train"), exampleJobEnvelope("train")];
    const evaluate = exampleJobEnvelope("evaluate");
    for (const envelope of [trains[0], evaluate, trains[1], trains[2]]) await bus.publishJob(envelope);

    const firstTwo = await bus.pullJobs("train", { max: 2, expiresMs: 2000 });
    assert.deepEqual(firstTwo.map((d) => d.envelope), trains.slice(0, 2));
    assert.deepEqual(firstTwo.map((d) => d.deliveryCount), [1, 1]);
    assert.match(firstTwo[0].subject, new RegExp(`(^|\\.)jobs\\.train\\.${trains[0].tenantId}$`));
    assert.deepEqual(await bus.queueDepth("train"), { pending: 1, inFlight: 2 });

    const rest = await bus.pullJobs("train", { max: 1, expiresMs: 2000 });
    assert.deepEqual(rest.map((d) => d.envelope.jobId), [trains[2].jobId]);
    const held = [...firstTwo, ...rest];
    const keepAlive = setInterval(() => held.forEach((d) => d.working()), 250);
    try {
      assert.deepEqual(await bus.pullJobs("train", { max: 5, expiresMs: 1000 }), [], "in-flight jobs are not handed out again");
    } finally {
      clearInterval(keepAlive);
    }
    const evaluations = await bus.pullJobs("evaluate", { max: 1, expiresMs: 2000 });
    assert.deepEqual(evaluations.map((d) => d.envelope), [evaluate]);

    for (const d of [...firstTwo, ...rest, ...evaluations]) await d.ack();
    await firstTwo[0].ack(); // repeating an ack is a no-op
    assert.deepEqual(await bus.queueDepth("train"), { pending: 0, inFlight: 0 });
    assert.deepEqual(await bus.pullJobs("train", { max: 1, expiresMs: 1000 }), []);
  });

  withBus("a waiting pull receives a job published while it waits", async (bus) => {
    const envelope = exampleJobEnvelope("train-evaluator");
    const pulling = bus.pullJobs("train-evaluator", { max: 1, expiresMs: 5000 });
    await sleep(100);
    const started = Date.now();
    await bus.publishJob(envelope);
    const [delivery] = await pulling;
    assert.equal(delivery.envelope.jobId, envelope.jobId);
    assert.ok(Date.now() - started < 2500, "returned once max jobs arrived");
    await delivery.ack();
  });

  withBus("a no-wait pull (expiresMs 0) answers at once: the ready jobs, or none", async (bus) => {
    let started = Date.now();
    assert.deepEqual(await bus.pullJobs("generate", { max: 1, expiresMs: 0 }), []);
    assert.ok(Date.now() - started < 500, `an empty no-wait pull took ${Date.now() - started} ms`);
    const first = exampleJobEnvelope("generate");
    const second = exampleJobEnvelope("generate");
    await bus.publishJob(first);
    await bus.publishJob(second);
    started = Date.now();
    const [delivery, ...more] = await bus.pullJobs("generate", { max: 1, expiresMs: 0 });
    assert.equal(delivery.envelope.jobId, first.jobId);
    assert.equal(delivery.deliveryCount, 1);
    assert.deepEqual(more, []);
    const rest = await bus.pullJobs("generate", { max: 5, expiresMs: 0 });
    assert.deepEqual(rest.map((d) => d.envelope.jobId), [second.jobId], "a no-wait pull returns fewer than max when fewer are ready");
    assert.ok(Date.now() - started < 1000, `two no-wait pulls with jobs took ${Date.now() - started} ms`);
    delivery.nak();
    const again = await waitFor("the nak'd job", async () => (await bus.pullJobs("generate", { max: 1, expiresMs: 0 }))[0]);
    assert.equal(again.envelope.jobId, first.jobId);
    assert.equal(again.deliveryCount, 2);
    for (const d of [again, ...rest]) await d.ack();
    assert.deepEqual(await bus.queueDepth("generate"), { pending: 0, inFlight: 0 });
    await assert.rejects(bus.pullJobs("generate", { max: 1, expiresMs: 500 }), BusArgumentError, "0 or >= 1000");
  });

  withBus("watchJobs hints at a published job of a watched kind only, until stopped", async (bus) => {
    const hints: JobKind[] = [];
    const watch = await bus.watchJobs(["generate", "evaluate"], (kind) => hints.push(kind));
    await bus.publishJob(exampleJobEnvelope("train"));
    const generate = exampleJobEnvelope("generate");
    const published = Date.now();
    await bus.publishJob(generate);
    await waitFor("a generate hint", () => (hints.includes("generate") ? true : undefined), 2000);
    assert.ok(Date.now() - published < 500, `the hint came ${Date.now() - published} ms after the publish`);
    assert.ok(!hints.includes("train"), "no hint for an unwatched kind");
    const [delivery] = await bus.pullJobs("generate", { max: 1, expiresMs: 0 });
    assert.equal(delivery.envelope.jobId, generate.jobId, "the hinted job is ready to a no-wait pull");
    await delivery.ack();
    await watch.stop();
    const count = hints.length;
    await bus.publishJob(exampleJobEnvelope("evaluate"));
    await sleep(300);
    assert.equal(hints.length, count, "no hint after stop");
    await assert.rejects(bus.watchJobs(["nope" as JobKind], () => {}), BusArgumentError);
  });

  withBus("nak redelivers (at once or after a delay); term drops without redelivery", async (bus) => {
    const envelope = exampleJobEnvelope("generate");
    await bus.publishJob(envelope);
    const [first] = await bus.pullJobs("generate", { max: 1, expiresMs: 2000 });
    first.nak();
    const [second] = await bus.pullJobs("generate", { max: 1, expiresMs: 2000 });
    assert.equal(second.envelope.jobId, envelope.jobId);
    assert.equal(second.deliveryCount, 2);
    assert.equal(second.seq, first.seq);

    const naked = Date.now();
    second.nak(1200);
    const [third] = await bus.pullJobs("generate", { max: 1, expiresMs: 4000 });
    assert.ok(Date.now() - naked >= 1000, `delayed nak came back after ${Date.now() - naked} ms`);
    assert.equal(third.deliveryCount, 3);
    third.term();
    assert.deepEqual(await bus.pullJobs("generate", { max: 1, expiresMs: 1500 }), []);
    assert.deepEqual(await bus.queueDepth("generate"), { pending: 0, inFlight: 0 });
  });

  withBus("an unacked job is redelivered after the ack wait; working() holds it", async (bus) => {
    const envelope = exampleJobEnvelope("train");
    await bus.publishJob(envelope);
    const [held] = await bus.pullJobs("train", { max: 1, expiresMs: 2000 });
    const keepAlive = setInterval(() => held.working(), 250);
    try {
      assert.deepEqual(await bus.pullJobs("train", { max: 1, expiresMs: 2000 }), [], "working() prevents redelivery past the 1 s ack wait");
    } finally {
      clearInterval(keepAlive);
    }
    const [again] = await bus.pullJobs("train", { max: 1, expiresMs: 4000 });
    assert.equal(again.envelope.jobId, envelope.jobId);
    assert.equal(again.deliveryCount, 2);
    await again.ack();
  });

  withBus("after maxDeliver deliveries the job is dead-lettered and leaves the queue", async (bus) => {
    const letters: DeadLetter[] = [];
    const unregister = bus.onDeadLetter((letter) => {
      letters.push(letter);
    });
    const envelope = exampleJobEnvelope("evaluate");
    await bus.publishJob(envelope);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [delivery] = await bus.pullJobs("evaluate", { max: 1, expiresMs: 2000 });
      assert.equal(delivery.deliveryCount, attempt);
      delivery.nak();
    }
    // JetStream notices the exhausted job when it next tries to deliver: pull once more.
    assert.deepEqual(await bus.pullJobs("evaluate", { max: 1, expiresMs: 1000 }), []);
    const [letter] = await waitFor("the dead letter", () => (letters.length > 0 ? letters : undefined));
    assert.deepEqual(letter.envelope, envelope);
    assert.equal(letter.deliveries, 3);
    assert.deepEqual(await bus.queueDepth("evaluate"), { pending: 0, inFlight: 0 });
    unregister();
  });

  withBus("events: stored events replay in order, then live ones follow; afterSeq and job filters apply", async (bus) => {
    const jobA = crypto.randomUUID();
    const jobB = crypto.randomUUID();
    const seqA1 = (await bus.publishEvent(jobA, { type: "started", runnerId: "r1", attempt: 1, device: "cpu", resumedFromStep: 0 })).seq;
    const seqB1 = (await bus.publishEvent(jobB, progress(1))).seq;
    const seqA2 = (await bus.publishEvent(jobA, progress(2))).seq;
    assert.ok(seqA1 < seqB1 && seqB1 < seqA2);

    const seenA: EventDelivery[] = [];
    const subA = await bus.subscribeEvents({ jobId: jobA }, (d) => {
      seenA.push(d);
    });
    const seenAll: EventDelivery[] = [];
    const subAll = await bus.subscribeEvents({ afterSeq: seqA1 }, async (d) => {
      await sleep(5); // a slow handler still sees events one at a time, in order
      seenAll.push(d);
    });
    await waitFor("replay", () => (seenA.length === 2 ? true : undefined));
    assert.deepEqual(seenA.map((d) => [d.seq, d.jobId, d.event.type]), [[seqA1, jobA, "started"], [seqA2, jobA, "progress"]]);
    assert.ok(seenA[0].time instanceof Date);

    const token: JobEvent = { type: "token", outputIndex: 0, position: 0, tokenId: 5, text: "Hi" };
    const seqA3 = (await bus.publishEvent(jobA, token)).seq;
    await waitFor("live event", () => (seenA.length === 3 && seenAll.length === 3 ? true : undefined));
    assert.deepEqual(seenA[2].event, token);
    assert.deepEqual(seenAll.map((d) => d.seq), [seqB1, seqA2, seqA3]);
    await subA.stop();
    await subAll.stop();
    await bus.publishEvent(jobA, progress(3));
    await sleep(100);
    assert.equal(seenA.length, 3, "no delivery after stop()");

    assert.deepEqual((await bus.readEvents(jobA)).map((d) => d.event.type), ["started", "progress", "token", "progress"]);
    assert.deepEqual((await bus.readEvents(jobA, seqA2)).map((d) => d.seq).slice(0, 1), [seqA3]);
    assert.deepEqual(await bus.readEvents(crypto.randomUUID()), []);
    assert.deepEqual(await bus.readEvents(jobB, seqB1), []);
  });

  withBus("events: a subscription made before any event exists receives the live ones", async (bus) => {
    const jobId = crypto.randomUUID();
    const seen: number[] = [];
    const sub = await bus.subscribeEvents({}, (d) => {
      seen.push(d.seq);
    });
    await sleep(50);
    const first = (await bus.publishEvent(jobId, progress(1))).seq;
    await waitFor("the first live event", () => (seen.length === 1 ? true : undefined));
    const second = (await bus.publishEvent(jobId, progress(2))).seq;
    await waitFor("the second live event", () => (seen.length === 2 ? true : undefined));
    assert.deepEqual(seen, [first, second]);
    await sub.stop();
  });

  withBus("bad events, ids and pull options are typed errors", async (bus) => {
    await assert.rejects(bus.publishEvent(crypto.randomUUID(), { type: "progress", step: -1 } as never), ContractValidationError);
    await assert.rejects(bus.publishEvent("bad.id", progress(1)), InvalidSubjectTokenError);
    await assert.rejects(bus.pullJobs("train" as JobKind, { max: 0, expiresMs: 1000 }), BusArgumentError);
    await assert.rejects(bus.pullJobs("train", { max: 1, expiresMs: 10 }), BusArgumentError);
    await assert.rejects(bus.readEvents(crypto.randomUUID(), -1), BusArgumentError);
  });

  withBus("cancels: a request is stored; a watch replays stored requests, then follows new ones until stopped", async (bus) => {
    const early = crypto.randomUUID();
    const late = crypto.randomUUID();
    assert.equal(await bus.cancels.isRequested(early), false);
    await bus.cancels.request(early);
    await bus.cancels.request(early); // repeating is harmless
    assert.equal(await bus.cancels.isRequested(early), true);
    const seen: string[] = [];
    const watch = await bus.cancels.watch((jobId) => {
      seen.push(jobId);
    });
    await waitFor("the stored request", () => (seen.includes(early) ? true : undefined));
    await bus.cancels.request(late);
    await waitFor("the new request", () => (seen.includes(late) ? true : undefined));
    assert.equal(await bus.cancels.isRequested(late), true);
    await watch.stop();
    const count = seen.length;
    await bus.cancels.request(crypto.randomUUID());
    await sleep(150);
    assert.equal(seen.length, count, "no call after stop()");
    await assert.rejects(bus.cancels.request("a.b"), BusArgumentError);
    await assert.rejects(bus.cancels.isRequested(""), BusArgumentError);
  });

  withBus("runners: heartbeats are listed by runner id, replaced, removed, and expire after the TTL; a watch sees writes and removals", async (bus) => {
    const changes: RunnerHeartbeatChange[] = [];
    const watch = await bus.runners.watch((change) => {
      changes.push(change);
    });
    await bus.runners.put("runner-b", heartbeat("runner-b"));
    await bus.runners.put("runner-a", heartbeat("runner-a"));
    await bus.runners.put("runner-a", heartbeat("runner-a", 0));
    const listed = await bus.runners.list();
    assert.deepEqual(listed.map((e) => e.runnerId), ["runner-a", "runner-b"]);
    assert.equal((listed[0].heartbeat as RunnerHeartbeat).freeSlots, 0, "the last write wins");
    assert.equal((listed[0].heartbeat as { deviceName: string }).deviceName, "test-cpu", "fields beyond the contract's are kept");
    await bus.runners.delete("runner-b");
    await bus.runners.delete("runner-never");
    assert.deepEqual((await bus.runners.list()).map((e) => e.runnerId), ["runner-a"]);
    await waitFor("the watch to see 3 writes and a removal", () =>
      changes.filter((c) => c.heartbeat !== null).length >= 3 && changes.some((c) => c.runnerId === "runner-b" && c.heartbeat === null) ? true : undefined,
    );
    assert.deepEqual(changes.filter((c) => c.heartbeat !== null).map((c) => c.runnerId), ["runner-b", "runner-a", "runner-a"]);
    await watch.stop();
    await waitFor("the heartbeat to expire", async () => ((await bus.runners.list()).length === 0 ? true : undefined), 10_000);
    await assert.rejects(bus.runners.put("bad id", heartbeat("bad id")), BusArgumentError);
  });

  withBus("artifacts: bytes or streams in, streams out; replace, info, list by prefix, delete", async (bus) => {
    const small = new TextEncoder().encode("weights");
    const stored = await bus.artifacts.put("models/t1/a.bin", small);
    assert.deepEqual(stored, { key: "models/t1/a.bin", sha256: createHash("sha256").update(small).digest("hex"), sizeBytes: small.byteLength });
    assert.deepEqual(await readArtifact((await bus.artifacts.get("models/t1/a.bin"))!), small);

    // 3.5 MiB in uneven chunks: comes back whole, in chunks of at most 1 MiB.
    const big = randomBytes(3.5 * 1024 * 1024);
    const pieces = [big.subarray(0, 100), big.subarray(100, 1_500_000), big.subarray(1_500_000)];
    const streamed = await bus.artifacts.put("checkpoints/job-1", slowChunks(pieces));
    assert.equal(streamed.sizeBytes, big.byteLength);
    assert.equal(streamed.sha256, createHash("sha256").update(big).digest("hex"));
    const chunks: Uint8Array[] = [];
    for await (const chunk of (await bus.artifacts.get("checkpoints/job-1"))!) chunks.push(chunk);
    assert.ok(chunks.length >= 2 && chunks.every((c) => c.byteLength <= 1024 * 1024), `chunk sizes ${chunks.map((c) => c.byteLength)}`);
    assert.ok(Buffer.concat(chunks).equals(big));

    // Breaking off a read is fine; a replacement is seen whole.
    for await (const _chunk of (await bus.artifacts.get("checkpoints/job-1"))!) break;
    await bus.artifacts.put("checkpoints/job-1", new Uint8Array([7, 8, 9]));
    assert.deepEqual([...(await readArtifact((await bus.artifacts.get("checkpoints/job-1"))!))], [7, 8, 9]);
    const info = await bus.artifacts.info("checkpoints/job-1");
    assert.equal(info?.key, "checkpoints/job-1");
    assert.equal(info?.sizeBytes, 3);
    assert.ok(info!.modified instanceof Date && Math.abs(Date.now() - info!.modified.getTime()) < 60_000);

    await bus.artifacts.put("models/t1/b/c.bin", new Uint8Array(0));
    await bus.artifacts.put("models/t2/d.bin", new Uint8Array([1]));
    assert.deepEqual((await bus.artifacts.list("models/t1/")).map((i) => [i.key, i.sizeBytes]), [["models/t1/a.bin", small.byteLength], ["models/t1/b/c.bin", 0]]);
    assert.deepEqual((await bus.artifacts.list()).map((i) => i.key), ["checkpoints/job-1", "models/t1/a.bin", "models/t1/b/c.bin", "models/t2/d.bin"]);
    assert.deepEqual(await readArtifact((await bus.artifacts.get("models/t1/b/c.bin"))!), new Uint8Array(0));

    assert.equal(await bus.artifacts.delete("models/t1/a.bin"), true);
    assert.equal(await bus.artifacts.delete("models/t1/a.bin"), false);
    assert.equal(await bus.artifacts.get("models/t1/a.bin"), null);
    assert.equal(await bus.artifacts.info("models/none.bin"), null);
    assert.deepEqual((await bus.artifacts.list("models/t1/")).map((i) => i.key), ["models/t1/b/c.bin"]);
    await assert.rejects(bus.artifacts.put("/abs", small), BusArgumentError);
    await assert.rejects(bus.artifacts.get("a//b"), BusArgumentError);
  });

  test(`${label}: a closed bus refuses work`, async () => {
    const bus = await factory(CONTRACT_SETTINGS);
    await bus.close();
    await assert.rejects(bus.publishJob(exampleJobEnvelope("train")), BusClosedError);
    await assert.rejects(bus.pullJobs("train", { max: 1, expiresMs: 1000 }), BusClosedError);
    await assert.rejects(bus.cancels.request(crypto.randomUUID()), BusClosedError);
    await assert.rejects(bus.runners.list(), BusClosedError);
    await assert.rejects(bus.artifacts.get("models/a.bin"), BusClosedError);
    await bus.close(); // idempotent
  });
}
