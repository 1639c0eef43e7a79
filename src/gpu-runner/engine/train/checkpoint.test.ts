import { test } from "node:test";
import assert from "node:assert/strict";
import { writeSafetensors } from "../model/safetensors.ts";
import { AdamW } from "./adamw.ts";
import { CheckpointError, deserializeCheckpoint, serializeCheckpoint } from "./checkpoint.ts";
import { Rng } from "./rng.ts";

function trainedState() {
  const rng = new Rng(11);
  const a = Float32Array.from({ length: 12 }, () => rng.normal());
  const b = new Float32Array([NaN, -0, 1e-40, 3.4e38]);
  const optimizer = new AdamW([["layers.0.q.pblora_A", a], ["layers.0.q.pblora_B", b.map(() => 0)]], { lr: 5e-4, weightDecay: 0.05 });
  for (let s = 0; s < 3; s++) optimizer.step(new Map([["layers.0.q.pblora_A", a.map(() => rng.normal())], ["layers.0.q.pblora_B", new Float32Array(4).map(() => rng.normal())]]));
  const adapter = new Map([["layers.0.q.pblora_A", { shape: [3, 4], data: a }], ["layers.0.q.pblora_B", { shape: [4, 1], data: b }]]);
  return { rng, optimizer, adapter };
}

test("checkpoint round trip is bit-exact and resumes the same RNG and optimizer trajectory", () => {
  const { rng, optimizer, adapter } = trainedState();
  const checkpoint = {
    step: 3,
    adapter,
    optimizer: optimizer.exportState(),
    rng: rng.exportState(),
    dataPosition: { epoch: 1, index: 96, orderSeed: 7 },
    config: { r1: 4, r2: 4, dimensions: ["harmless", "helpful"], beta: [0.01, 0.01] },
  };
  const bytes = serializeCheckpoint(checkpoint);
  const back = deserializeCheckpoint(bytes);
  assert.equal(back.step, 3);
  assert.deepEqual(back.dataPosition, checkpoint.dataPosition);
  assert.deepEqual(back.config, checkpoint.config);
  assert.deepEqual(back.rng, checkpoint.rng);
  assert.deepEqual(back.optimizer.options, checkpoint.optimizer.options);
  assert.equal(back.optimizer.step, 3);
  for (const [name, tensor] of adapter) {
    const restored = back.adapter.get(name)!;
    assert.deepEqual(restored.shape, tensor.shape);
    assert.deepEqual(new Uint32Array(restored.data.buffer, restored.data.byteOffset, restored.data.length), new Uint32Array(tensor.data.buffer));
    assert.deepEqual(back.optimizer.moments.get(name)!.m, checkpoint.optimizer.moments.get(name)!.m);
    assert.deepEqual(back.optimizer.moments.get(name)!.v, checkpoint.optimizer.moments.get(name)!.v);
  }
  assert.deepEqual(serializeCheckpoint(back), bytes);
  const resumedRng = Rng.fromState(back.rng);
  assert.equal(resumedRng.uniform(), rng.uniform());
});

test("corrupt or foreign files are rejected", () => {
  const { rng, optimizer, adapter } = trainedState();
  const bytes = serializeCheckpoint({ step: 1, adapter, optimizer: optimizer.exportState(), rng: rng.exportState(), dataPosition: null, config: null });
  assert.throws(() => deserializeCheckpoint(bytes.subarray(0, 40)), (e: unknown) => e instanceof CheckpointError && e.code === "INVALID_CHECKPOINT");
  const plain = writeSafetensors([["x", { shape: [1], data: new Float32Array(1) }]]);
  assert.throws(() => deserializeCheckpoint(plain), /no parm\.checkpoint metadata/);
  const future = writeSafetensors([], { metadata: { "parm.checkpoint": JSON.stringify({ format: "parm-checkpoint", version: 99 }) } });
  assert.throws(() => deserializeCheckpoint(future), (e: unknown) => e instanceof CheckpointError && e.code === "UNSUPPORTED_VERSION");
  const state = optimizer.exportState();
  assert.throws(
    () => serializeCheckpoint({ step: 1, adapter: new Map([["extra", { shape: [1], data: new Float32Array(1) }]]), optimizer: state, rng: rng.exportState(), dataPosition: null, config: null }),
    /no moments for adapter tensor extra/,
  );
});
