/** @module test/runner/job-picker — the runner's job picker on the in-process bus and on a real nats-server: it is
 *  woken by the bus's job-ready hints (the idle poll here is a minute, longer than the test's timeout), takes only the
 *  jobs it is asked for, serves every kind, and stops. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createInProcessBus, connectJetStreamBus, type JobBus } from "../../src/bus/index.ts";
import { exampleJobEnvelope } from "../../src/contracts/index.ts";
import { startJobPicker } from "../../src/gpu-runner/runner/job-picker.ts";
import { deleteNamespace, natsTestUrl, uniqueNamespace } from "../bus/nats-test-server.ts";

const silent = { info: () => {}, warn: () => {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const buses: [string, () => Promise<{ bus: JobBus; close: () => Promise<void> }>][] = [
  ["in-process", async () => {
    const bus = createInProcessBus();
    return { bus, close: () => bus.close() };
  }],
  ["jetstream", async () => {
    const url = await natsTestUrl();
    const namespace = uniqueNamespace();
    const bus = await connectJetStreamBus(url, { namespace });
    return { bus, close: async () => {
      await bus.close();
      await deleteNamespace(url, namespace);
    } };
  }],
];

for (const [label, open] of buses) {
  describe(`job picker (${label})`, { timeout: 30_000 }, () => {
    it("an idle picker takes a job published later at once (by the hint), of any of its kinds, in turn", async () => {
      const { bus, close } = await open();
      const picker = await startJobPicker({ bus, kinds: ["train", "generate", "evaluate"], idlePollMs: 60_000, log: silent });
      try {
        const waiting = picker.next();
        await sleep(200); // the picker has pulled every kind, found nothing and sleeps
        const generate = exampleJobEnvelope("generate");
        await bus.publishJob(generate);
        const first = await waiting;
        assert.equal(first?.envelope.jobId, generate.jobId);
        await first!.ack();

        const waitingAgain = picker.next();
        await sleep(200);
        const evaluate = exampleJobEnvelope("evaluate");
        await bus.publishJob(evaluate);
        const second = await waitingAgain;
        assert.equal(second?.envelope.jobId, evaluate.jobId);
        await second!.ack();
      } finally {
        await picker.stop();
        await close();
      }
    });

    it("takes one job per call, leaving the rest queued for other runners; kinds take turns", async () => {
      const { bus, close } = await open();
      const picker = await startJobPicker({ bus, kinds: ["train", "generate"], idlePollMs: 60_000, log: silent });
      try {
        const jobs = [exampleJobEnvelope("train"), exampleJobEnvelope("train"), exampleJobEnvelope("generate")];
        for (const job of jobs) await bus.publishJob(job);
        const a = await picker.next();
        assert.equal(a?.envelope.kind, "train");
        assert.deepEqual(await bus.queueDepth("train"), { pending: 1, inFlight: 1 }, "the second train job stays queued");
        const b = await picker.next();
        assert.equal(b?.envelope.kind, "generate", "after a train job, generate comes first");
        const c = await picker.next();
        assert.equal(c?.envelope.jobId, jobs[1]!.jobId);
        for (const d of [a, b, c]) await d!.ack();
      } finally {
        await picker.stop();
        await close();
      }
    });

    it("stop() ends a waiting next() with null", async () => {
      const { bus, close } = await open();
      const picker = await startJobPicker({ bus, kinds: ["train"], idlePollMs: 60_000, log: silent });
      try {
        const waiting = picker.next();
        await sleep(100);
        await picker.stop();
        assert.equal(await waiting, null);
        assert.equal(await picker.next(), null);
      } finally {
        await close();
      }
    });
  });
}
