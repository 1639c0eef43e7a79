/** @module engine/train/trainer.test
 * The training loop on a tiny random LLaMA (V=37, d=16, 2 layers) with a character tokenizer: determinism
 * (same seed → bit-identical adapter, resume from a mid-run checkpoint → identical final adapter, across an
 * epoch boundary and gradient accumulation), PARM learning an α-dependent preference (two objectives that
 * disagree), GenARM training one LoRA ARM per objective, maxSteps (exact update count, schedule and progress over
 * the cap, resume, GenARM shares), progress/history bookkeeping, cancellation (micro-batches and held-out
 * evaluations), and typed errors for bad options.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../onnx/index.ts";
import { randomTinyWeights, tinyConfig } from "../model/arm-graph-reference.ts";
import type { ModelWeights } from "../model/config.ts";
import { importAdapter } from "./adapter-file.ts";
import { deserializeCheckpoint } from "./checkpoint.ts";
import type { PairTokenizer, PreferencePair } from "./pairs.ts";
import { cosineWithWarmup } from "./schedule.ts";
import { exportTrainedArm, trainArm, TrainerError, type TrainArmOptions, type TrainProgress } from "./trainer.ts";
import { phaseUpdateBudgets } from "./trainer-data.ts";

const config = tinyConfig({ maxSeqLen: 64 });
const weights: ModelWeights = randomTinyWeights(config, mulberry32(7));

/** Letters a…z → ids 3…28, space → 29, anything else → 30. */
const tokenizer: PairTokenizer = {
  bosId: 1,
  eosId: 2,
  encode: (text) => Array.from(text, (c) => (c >= "a" && c <= "z" ? 3 + c.charCodeAt(0) - 97 : c === " " ? 29 : 30)),
};
const model = { config, weights, tokenizer, source: { sha256: "ab".repeat(32) } };

function randomWord(random: () => number, letters: string, length: number): string {
  return Array.from({ length }, () => letters[Math.floor(random() * letters.length)]).join("");
}

/**
 * Pairs whose responses are "x…" (letters x/y) or "q…" (letters q/r) of equal length. Objective 0 prefers the x
 * response, objective 1 the q response; half the pairs carry only one label (HH style), half both (PKU style).
 */
function conflictingPairs(n: number, seed: number): PreferencePair[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const prompt = randomWord(random, "abcdefgh", 2 + Math.floor(random() * 4));
    const length = 3 + Math.floor(random() * 4);
    const xr = randomWord(random, "xy", length);
    const qr = randomWord(random, "qr", length);
    const xFirst = random() < 0.5;
    const responses: [string, string] = xFirst ? [xr, qr] : [qr, xr];
    const x = xFirst ? 0 : 1;
    const q = xFirst ? 1 : 0;
    const kind = i % 4;
    const preferred: (0 | 1 | null)[] = kind === 0 ? [x, null] : kind === 1 ? [null, q] : [x, q];
    return { prompt, responses, preferred: preferred as (0 | 1 | null)[] };
  });
}

const train = conflictingPairs(48, 11);
const held = conflictingPairs(24, 12);

function baseOptions(overrides: Partial<TrainArmOptions> = {}): TrainArmOptions {
  return {
    model,
    objectives: [{ name: "x-lover", beta: 0.5 }, { name: "q-lover", beta: 0.5 }],
    pairs: train,
    r1: 2,
    r2: 2,
    loraAlpha: 4,
    lr: 2e-2,
    epochs: 1,
    batchPairs: 4,
    // The tests' own schedule (the recipe's defaults are 8 and 20, for 32-pair steps over thousands of pairs).
    gradAccum: 1,
    warmupSteps: 0,
    maxLength: 16,
    maxPromptLength: 8,
    lengthBuckets: [12, 16],
    threads: 1,
    seed: 5,
    evaluateBefore: false,
    ...overrides,
  };
}

function sameTensors(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.length !== x.length) return false;
    const xb = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    const yb = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
    for (let i = 0; i < xb.length; i++) if (xb[i] !== yb[i]) return false;
  }
  return true;
}

describe("trainArm determinism and resume", () => {
  test("the same seed gives a bit-identical adapter; another seed does not", async () => {
    const opts = baseOptions({ epochs: 2, gradAccum: 2, warmupSteps: 2 });
    const a = await trainArm(opts);
    const b = await trainArm(opts);
    const c = await trainArm({ ...opts, seed: 6 });
    assert.ok(sameTensors(a.adapters[0].tensors, b.adapters[0].tensors));
    assert.ok(!sameTensors(a.adapters[0].tensors, c.adapters[0].tensors));
    assert.deepEqual(a.history.map((h) => h.loss), b.history.map((h) => h.loss));
  });

  test("adapter dropout is on by default (0.05): the masks change the adapter, and resuming a run with dropout reproduces it", async () => {
    const opts = baseOptions({ epochs: 1, warmupSteps: 1 });
    const dropped = await trainArm(opts);
    const explicit = await trainArm({ ...opts, loraDropout: 0.05 });
    const plain = await trainArm({ ...opts, loraDropout: 0 });
    assert.ok(sameTensors(dropped.adapters[0].tensors, explicit.adapters[0].tensors), "the default is 0.05");
    assert.ok(!sameTensors(dropped.adapters[0].tensors, plain.adapters[0].tensors), "dropout changes training");
    const checkpoints = new Map<number, Uint8Array>();
    const heavy = { ...opts, loraDropout: 0.3 };
    const full = await trainArm({ ...heavy, checkpointEvery: 1, onCheckpoint: (bytes, step) => void checkpoints.set(step, bytes) });
    const resumed = await trainArm({ ...heavy, resumeFrom: checkpoints.get(3) });
    assert.ok(sameTensors(full.adapters[0].tensors, resumed.adapters[0].tensors), "resume with dropout is bit-exact");
    await assert.rejects(trainArm({ ...opts, loraDropout: 0.1, resumeFrom: checkpoints.get(3) }), (e: unknown) => e instanceof TrainerError && e.code === "RESUME_MISMATCH" && /loraDropout/.test(e.message));
  });

  test("α cadence: STEP (default) shares one α across an update's micro-batches, MICRO_BATCH draws one each; equal without accumulation", async () => {
    const opts = baseOptions({ gradAccum: 3, loraDropout: 0 });
    const step = await trainArm(opts);
    const micro = await trainArm({ ...opts, alphaPer: "MICRO_BATCH" });
    for (const h of step.history) assert.ok(h.alphas.every((a) => JSON.stringify(a) === JSON.stringify(h.alphas[0])), `update ${h.step} shares its α`);
    assert.ok(micro.history.some((h) => new Set(h.alphas.map((a) => JSON.stringify(a))).size > 1), "micro-batches draw their own α");
    assert.deepEqual(step.history[0].alphas[0], micro.history[0].alphas[0], "the first draw is the same");
    assert.ok(!sameTensors(step.adapters[0].tensors, micro.adapters[0].tensors));
    const single = baseOptions({ gradAccum: 1, loraDropout: 0 });
    assert.ok(sameTensors((await trainArm(single)).adapters[0].tensors, (await trainArm({ ...single, alphaPer: "MICRO_BATCH" })).adapters[0].tensors));
    const checkpoints = new Map<number, Uint8Array>();
    const full = await trainArm({ ...opts, checkpointEvery: 1, onCheckpoint: (bytes, at) => void checkpoints.set(at, bytes) });
    const resumed = await trainArm({ ...opts, resumeFrom: checkpoints.get(2) });
    assert.ok(sameTensors(full.adapters[0].tensors, resumed.adapters[0].tensors), "resume with one α per step is bit-exact");
    await assert.rejects(trainArm({ ...opts, alphaPer: "MICRO_BATCH", resumeFrom: checkpoints.get(2) }), (e: unknown) => e instanceof TrainerError && e.code === "RESUME_MISMATCH" && /alphaPer/.test(e.message));
  });

  test("pair truncation: TRL by default, PREFIX_SHARED on request (differs once pairs are cut); each resumes bit-exactly, a different rule is RESUME_MISMATCH", async () => {
    // maxLength 10 / maxPromptLength 4 cuts most of these pairs (prompt ≤ 6 with BOS, responses ≤ 7 with EOS).
    const opts = baseOptions({ maxLength: 10, maxPromptLength: 4, lengthBuckets: [10], loraDropout: 0 });
    const trl = await trainArm(opts);
    const explicit = await trainArm({ ...opts, truncation: "TRL" });
    const shared = await trainArm({ ...opts, truncation: "PREFIX_SHARED" });
    assert.ok(trl.metrics.truncatedPairs > 0);
    assert.ok(sameTensors(trl.adapters[0].tensors, explicit.adapters[0].tensors), "the default is TRL");
    assert.ok(!sameTensors(trl.adapters[0].tensors, shared.adapters[0].tensors), "the rules give different training data");
    for (const truncation of ["TRL", "PREFIX_SHARED"] as const) {
      const checkpoints = new Map<number, Uint8Array>();
      const full = await trainArm({ ...opts, truncation, checkpointEvery: 1, onCheckpoint: (bytes, at) => void checkpoints.set(at, bytes) });
      const config = deserializeCheckpoint(checkpoints.get(2)!).config as Record<string, unknown>;
      assert.equal(config.truncation, truncation === "TRL" ? "TRL" : undefined, "PREFIX_SHARED checkpoints carry no key, as those written before the option");
      const resumed = await trainArm({ ...opts, truncation, resumeFrom: checkpoints.get(2) });
      assert.ok(sameTensors(full.adapters[0].tensors, resumed.adapters[0].tensors), `resume under ${truncation} is bit-exact`);
      const other = truncation === "TRL" ? "PREFIX_SHARED" : "TRL";
      await assert.rejects(trainArm({ ...opts, truncation: other, resumeFrom: checkpoints.get(2) }), (e: unknown) => e instanceof TrainerError && e.code === "RESUME_MISMATCH" && /truncation/.test(e.message));
    }
  });

  test("resuming from a mid-run checkpoint (across an epoch boundary, with accumulation) reproduces the run", async () => {
    const opts = baseOptions({ epochs: 2, gradAccum: 2, warmupSteps: 1, batchPairs: 5 });
    const checkpoints = new Map<number, Uint8Array>();
    const full = await trainArm({ ...opts, checkpointEvery: 1, onCheckpoint: (bytes, step) => void checkpoints.set(step, bytes) });
    const total = full.metrics.steps;
    assert.equal(checkpoints.size, total);
    const perEpoch = total / 2;
    for (const at of [Math.floor(perEpoch / 2), perEpoch, perEpoch + 1]) {
      const checkpoint = deserializeCheckpoint(checkpoints.get(at)!);
      assert.equal(checkpoint.step, at);
      const resumed = await trainArm({ ...opts, resumeFrom: checkpoints.get(at) });
      assert.ok(sameTensors(full.adapters[0].tensors, resumed.adapters[0].tensors), `resume from update ${at} of ${total}`);
      assert.equal(resumed.history.length, total - at);
      assert.deepEqual(resumed.history.map((h) => h.loss), full.history.slice(at).map((h) => h.loss));
    }
  });

  test("an abort whose reason asks for it writes a final checkpoint; resuming from it reproduces the run", async () => {
    const opts = baseOptions({ epochs: 2, gradAccum: 2, warmupSteps: 1, batchPairs: 5 });
    const full = await trainArm(opts);
    const controller = new AbortController();
    const written: { step: number; bytes: Uint8Array }[] = [];
    await assert.rejects(
      trainArm({
        ...opts,
        signal: controller.signal,
        checkpointOnAbort: (reason) => reason === "shutdown",
        onCheckpoint: (bytes, step) => void written.push({ step, bytes }),
        onProgress: (p) => (p.step === 3 ? controller.abort("shutdown") : undefined),
      }),
      (e: unknown) => e instanceof TrainerError && e.code === "CANCELLED",
    );
    assert.equal(written.length, 1, "exactly one checkpoint, written on abort");
    assert.equal(written[0].step, 3);
    const resumed = await trainArm({ ...opts, resumeFrom: written[0].bytes });
    assert.ok(sameTensors(full.adapters[0].tensors, resumed.adapters[0].tensors));
    assert.deepEqual(resumed.history.map((h) => h.loss), full.history.slice(3).map((h) => h.loss));

    const other = new AbortController();
    const none: Uint8Array[] = [];
    await assert.rejects(
      trainArm({
        ...opts,
        signal: other.signal,
        checkpointOnAbort: (reason) => reason === "shutdown",
        onCheckpoint: (bytes) => void none.push(bytes),
        onProgress: (p) => (p.step === 3 ? other.abort("cancel") : undefined),
      }),
      (e: unknown) => e instanceof TrainerError && e.code === "CANCELLED",
    );
    assert.equal(none.length, 0, "a plain cancel writes no checkpoint");
  });

  test("a checkpoint from a different configuration is refused", async () => {
    let bytes: Uint8Array | undefined;
    await trainArm(baseOptions({ checkpointEvery: 2, onCheckpoint: (b) => void (bytes = b) }));
    await assert.rejects(trainArm(baseOptions({ lr: 1e-3, resumeFrom: bytes })), (e: unknown) => e instanceof TrainerError && e.code === "RESUME_MISMATCH" && /lr/.test(e.message));
  });
});

describe("trainArm maxSteps", () => {
  test("a capped run makes exactly maxSteps updates; the schedule and progress span the cap; same seed, same adapter", async () => {
    const opts = baseOptions({ epochs: 2, gradAccum: 2, warmupSteps: 1, batchPairs: 5, maxSteps: 5 });
    const natural = (await trainArm({ ...opts, maxSteps: null })).metrics.steps;
    assert.ok(natural > 5, `the uncapped run has ${natural} updates`);
    const seen: TrainProgress[] = [];
    const a = await trainArm({ ...opts, onProgress: (p) => void seen.push(p) });
    const b = await trainArm(opts);
    assert.equal(a.metrics.steps, 5);
    assert.equal(a.history.length, 5);
    assert.ok(sameTensors(a.adapters[0].tensors, b.adapters[0].tensors));
    assert.deepEqual(seen.map((p) => [p.step, p.totalSteps]), [1, 2, 3, 4, 5].map((step) => [step, 5]));
    assert.equal(seen.at(-1)!.percent, 100);
    assert.equal(seen.at(-1)!.etaSeconds, 0);
    const expected = a.history.map((_, i) => opts.lr! * cosineWithWarmup(i, { warmupSteps: 1, totalSteps: 5 }));
    assert.deepEqual(a.history.map((h) => h.learningRate), expected);
    const atOrAbove = await trainArm({ ...opts, maxSteps: natural });
    assert.equal(atOrAbove.metrics.steps, natural);
  });

  test("resuming a capped run from any of its checkpoints reproduces it; a different cap is RESUME_MISMATCH", async () => {
    const opts = baseOptions({ epochs: 2, gradAccum: 2, warmupSteps: 1, batchPairs: 5, maxSteps: 6 });
    const checkpoints = new Map<number, Uint8Array>();
    const full = await trainArm({ ...opts, checkpointEvery: 1, onCheckpoint: (bytes, step) => void checkpoints.set(step, bytes) });
    assert.deepEqual([...checkpoints.keys()], [1, 2, 3, 4, 5, 6]);
    for (const at of [2, 5, 6]) {
      const resumed = await trainArm({ ...opts, resumeFrom: checkpoints.get(at) });
      assert.ok(sameTensors(full.adapters[0].tensors, resumed.adapters[0].tensors), `resume from update ${at}`);
      assert.equal(resumed.history.length, 6 - at);
      assert.deepEqual(resumed.history.map((h) => h.loss), full.history.slice(at).map((h) => h.loss));
    }
    await assert.rejects(trainArm({ ...opts, maxSteps: 7, resumeFrom: checkpoints.get(2) }), (e: unknown) => e instanceof TrainerError && e.code === "RESUME_MISMATCH" && /maxSteps/.test(e.message));
  });

  test("GenARM shares the cap between its ARMs in proportion; each phase's schedule spans its share", async () => {
    const opts = baseOptions({ method: "GENARM", epochs: 2, loraRank: 2 });
    const uncapped = await trainArm(opts);
    const perPhase = [0, 1].map((phase) => uncapped.history.filter((h) => h.phase === phase).length);
    const capped = await trainArm({ ...opts, maxSteps: 7 });
    const budgets = phaseUpdateBudgets(perPhase, 7);
    assert.equal(capped.metrics.steps, 7);
    for (const phase of [0, 1]) {
      const rows = capped.history.filter((h) => h.phase === phase);
      assert.equal(rows.length, budgets[phase]);
      assert.deepEqual(rows.map((h) => h.learningRate), rows.map((_, i) => opts.lr! * cosineWithWarmup(i, { warmupSteps: 0, totalSteps: budgets[phase] })));
    }
    await assert.rejects(trainArm({ ...opts, maxSteps: 1 }), (e: unknown) => e instanceof TrainerError && e.code === "INVALID_OPTIONS" && /maxSteps/.test(e.message));
  });
});

describe("trainArm learning", () => {
  test("PARM learns opposite preferences selected by α (held-out accuracy at α = e_i)", async () => {
    const result = await trainArm(baseOptions({ epochs: 6, lr: 3e-2, validationPairs: held, evaluateBefore: true, evaluationAlphas: [[0.5, 0.5]] }));
    const before = result.metrics.heldOutBefore!;
    const after = result.metrics.heldOutAfter!;
    assert.ok(after.meanLoss < before.meanLoss, `held-out loss ${before.meanLoss} → ${after.meanLoss}`);
    for (const o of after.objectives) assert.ok(o.accuracy >= 0.8, `${o.name}: accuracy ${o.accuracy} at its vertex`);
    // At e_0 the ARM prefers x responses, so it gets objective 1 (q-lover) mostly wrong, and vice versa.
    const [e0, e1, mid] = after.front;
    assert.deepEqual(e0.alpha, [1, 0]);
    assert.deepEqual(mid.alpha, [0.5, 0.5]);
    assert.ok(e0.objectives[1].accuracy <= 0.3, `q-lover accuracy at e_0: ${e0.objectives[1].accuracy}`);
    assert.ok(e1.objectives[0].accuracy <= 0.3, `x-lover accuracy at e_1: ${e1.objectives[0].accuracy}`);
    const first = result.history.slice(0, 3).reduce((s, h) => s + h.loss, 0);
    const last = result.history.slice(-3).reduce((s, h) => s + h.loss, 0);
    assert.ok(last < first, `training loss ${first / 3} → ${last / 3}`);
  });

  test("rank and scale default to each method's reference: PARM r1 = r2 = 4, alpha 8; GenARM rank 8, alpha 16 (scale 2 for both)", async () => {
    const defaults = { r1: undefined, r2: undefined, loraAlpha: undefined, maxSteps: 1, loraDropout: 0 };
    const parm = (await trainArm(baseOptions(defaults))).adapters[0];
    assert.deepEqual([parm.metadata.r1, parm.metadata.r2, parm.metadata.loraAlpha, parm.metadata.scale], [4, 4, 8, 2]);
    const genarm = (await trainArm(baseOptions({ ...defaults, method: "GENARM", maxSteps: 2 }))).adapters[0];
    assert.deepEqual([genarm.spec.mode === "lora" && genarm.spec.rank, genarm.metadata.loraAlpha, genarm.metadata.scale], [8, 16, 2]);
    const ranked = (await trainArm(baseOptions({ ...defaults, method: "GENARM", maxSteps: 2, r1: 3 }))).adapters[0];
    assert.equal(ranked.spec.mode === "lora" && ranked.spec.rank, 3, "GenARM's rank is r1");
  });

  test("GenARM trains one LoRA ARM per objective on that objective's pairs; files import", async () => {
    const result = await trainArm(baseOptions({ method: "GENARM", epochs: 4, lr: 3e-2, validationPairs: held, loraRank: 3 }));
    assert.equal(result.adapters.length, 2);
    assert.deepEqual(result.adapters.map((a) => a.dimensions), [["x-lover"], ["q-lover"]]);
    const labelled = [train.filter((p) => p.preferred[0] !== null).length, train.filter((p) => p.preferred[1] !== null).length];
    const perPhase = [0, 1].map((phase) => result.history.filter((h) => h.phase === phase).length);
    // 4 epochs of ≥ ceil(n_i / 4) micro-batches over objective i's n_i labelled pairs (more when buckets split them).
    perPhase.forEach((updates, i) => assert.ok(updates >= 4 * Math.ceil(labelled[i] / 4) && updates <= 4 * (Math.ceil(labelled[i] / 4) + 1), `phase ${i}: ${updates} updates`));
    for (const [i, arm] of result.adapters.entries()) {
      assert.equal(arm.spec.mode, "lora");
      const file = importAdapter(exportTrainedArm(arm, config), { config, baseModelDigest: model.source.sha256, dimensions: arm.dimensions });
      assert.equal(file.metadata.method, "GENARM");
      assert.equal(file.metadata.r1, 3);
      assert.ok(result.metrics.heldOutAfter!.objectives[i].accuracy >= 0.75, `${arm.dimensions[0]}: ${result.metrics.heldOutAfter!.objectives[i].accuracy}`);
    }
  });
});

describe("trainArm bookkeeping and errors", () => {
  test("progress reaches 100% once per update; accumulation divides the update count", async () => {
    const seen: TrainProgress[] = [];
    const result = await trainArm(baseOptions({ gradAccum: 3, onProgress: (p) => void seen.push(p) }));
    const micro = result.metrics.microBatches;
    assert.equal(result.metrics.steps, Math.ceil(micro / 3));
    assert.equal(seen.length, result.metrics.steps);
    assert.deepEqual(seen.map((p) => p.step), seen.map((_, i) => i + 1));
    assert.equal(seen.at(-1)!.percent, 100);
    assert.ok(seen.every((p) => p.tokensPerSecond > 0 && p.lossPerObjective.length === 2));
    assert.equal(result.history.reduce((s, h) => s + h.microBatches, 0), micro);
    assert.ok(result.history.every((h) => h.alphas.length === h.microBatches && h.alphas.every((a) => Math.abs(a[0] + a[1] - 1) < 1e-12)));
    const file = importAdapter(exportTrainedArm(result.adapters[0], config), { config, dimensions: ["x-lover", "q-lover"] });
    assert.equal(file.metadata.method, "PARM");
    assert.equal(file.metadata.scale, 2);
  });

  test("an aborted signal stops the run with CANCELLED", async () => {
    const controller = new AbortController();
    await assert.rejects(
      trainArm(baseOptions({ signal: controller.signal, onProgress: (p) => (p.step === 2 ? controller.abort() : undefined) })),
      (e: unknown) => e instanceof TrainerError && e.code === "CANCELLED" && /after 2 of/.test(e.message),
    );
  });

  test("the held-out evaluations obey the signal; after the last update, a shutdown abort still returns the adapter", async () => {
    const opts = baseOptions({ validationPairs: held });
    const before = new AbortController();
    before.abort("cancel");
    await assert.rejects(
      trainArm({ ...opts, evaluateBefore: true, signal: before.signal }),
      (e: unknown) => e instanceof TrainerError && e.code === "CANCELLED" && /held-out evaluation before training/.test(e.message),
    );
    const atEnd = (reason: string) => {
      const controller = new AbortController();
      return trainArm({
        ...opts,
        signal: controller.signal,
        checkpointOnAbort: (r) => r === "shutdown",
        onProgress: (p) => (p.step === p.totalSteps ? controller.abort(reason) : undefined),
      });
    };
    await assert.rejects(atEnd("cancel"), (e: unknown) => e instanceof TrainerError && e.code === "CANCELLED" && /held-out evaluation after training/.test(e.message));
    const kept = await atEnd("shutdown");
    assert.ok(kept.metrics.heldOutAfter, "the finished run evaluated and returned its adapter");
  });

  test("bad options are typed errors naming the problem", async () => {
    const cases: [Partial<TrainArmOptions>, RegExp][] = [
      [{ objectives: [] }, /objectives/],
      [{ objectives: [{ name: "a", beta: 0.1 }, { name: "a", beta: 0.1 }] }, /repeats/],
      [{ objectives: [{ name: "a", beta: 0 }, { name: "b", beta: 0.1 }] }, /beta/],
      [{ maxLength: 100 }, /context/],
      [{ lengthBuckets: [8] }, /largest length bucket/],
      [{ pairs: [{ prompt: "ab", responses: ["x", "q"], preferred: [0] }] }, /training pair 0.*expected 2/],
      [{ pairs: [] }, /no training pairs/],
      [{ batchPairs: 0 }, /batchPairs/],
      [{ maxSteps: 0 }, /maxSteps must be an integer ≥ 1/],
      [{ loraDropout: 1 }, /loraDropout must be in \[0, 1\)/],
      [{ alphaPer: "EPOCH" as never }, /alphaPer must be one of STEP, MICRO_BATCH/],
      [{ truncation: "KEEP_START" as never }, /truncation must be one of TRL, PREFIX_SHARED/],
    ];
    for (const [overrides, pattern] of cases) {
      await assert.rejects(trainArm(baseOptions(overrides)), (e: unknown) => e instanceof TrainerError && pattern.test(e.message), String(pattern));
    }
  });
});
