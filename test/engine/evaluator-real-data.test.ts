/** @module test/engine/evaluator-real-data.test
 * Mean-pooled evaluators (engine/evaluate, pooling "mean") on real data: one reward model per objective on the
 * stories260K backbone, trained on HH-RLHF helpful-base or harmless-base pairs (../shared/data) and tested on
 * held-out pairs of the same file, split by pair hash as bench/evaluate.ts does (0.45 ≤ u < 0.85 training,
 * u ≥ 0.85 held out; no pair in both).
 *
 * Setup (docs/results.md uses the same evaluators at max length 192 and all training pairs): LoRA rank 8 on q/k/v
 * plus the score head, 600 training pairs, 2 epochs, batch 8, lr 2e-3, max length 128, seed 7, 2 threads
 * (deterministic for a seed and thread count).
 * Asserted for both objectives: held-out accuracy above 0.5 + 1.5·SE (SE = √(0.25/n), chance-level standard error)
 * and a lower held-out Bradley–Terry loss than before training. Measured: seed 7 gives 0.582 helpful (3.1 SE above
 * chance) and 0.597 harmless (3.5 SE); seeds 8 and 9 give 2.5–4.9 SE. About 25 s on 2 cores.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { hashToUnitInterval, parseDataset, type PreferenceRecord } from "../../src/contracts/datasets/index.ts";
import { trainEvaluator } from "../../src/gpu-runner/engine/evaluate/index.ts";
import { loadGguf, type PreferencePair } from "../../src/gpu-runner/engine/index.ts";

const data = (path: string) => fileURLToPath(new URL(`../../../shared/data/${path}`, import.meta.url));

test("mean-pooled evaluators on stories260K rank held-out HH-RLHF helpful and harmless pairs above chance", async (t) => {
  const model = await loadGguf(data("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf"));
  for (const [name, file] of [["helpful", "helpful-base.test.jsonl.gz"], ["harmless", "harmless-base.test.jsonl.gz"]] as const) {
    const { records } = parseDataset(readFileSync(data(`hh-rlhf/${file}`)), "HH_RLHF", { splitRatios: { train: 1, validation: 0, test: 0 } });
    const u = (r: PreferenceRecord) => hashToUnitInterval(r.pairHash);
    const pair = (r: PreferenceRecord): PreferencePair => ({ prompt: r.prompt, responses: [r.response0, r.response1], preferred: [r.preferences.preferred] });
    const train = records.filter((r) => u(r) >= 0.45 && u(r) < 0.85).slice(0, 600).map(pair);
    const heldOut = records.filter((r) => u(r) >= 0.85).map(pair);
    const result = await trainEvaluator({
      model,
      dimension: name,
      pairs: train,
      validationPairs: heldOut,
      pooling: "mean",
      maxLength: 128,
      maxPromptLength: 64,
      epochs: 2,
      batchPairs: 8,
      lr: 2e-3,
      seed: 7,
      threads: 2,
    });
    const before = result.metrics.heldOutBefore!;
    const after = result.metrics.heldOutAfter!;
    const se = Math.sqrt(0.25 / after.pairs);
    t.diagnostic(
      `${name}: ${result.metrics.trainPairs} training pairs, ${result.metrics.steps} updates in ${result.metrics.seconds.toFixed(1)} s; held-out (${after.pairs} pairs) ` +
        `accuracy ${before.accuracy.toFixed(3)} → ${after.accuracy.toFixed(3)} (${((after.accuracy - 0.5) / se).toFixed(2)} SE above chance), loss ${before.loss.toFixed(4)} → ${after.loss.toFixed(4)}`,
    );
    assert.equal(result.model.metadata.pooling, "mean");
    assert.ok(after.pairs >= 300, `${name}: ${after.pairs} held-out pairs`);
    assert.ok(after.loss < before.loss, `${name} held-out loss ${before.loss} → ${after.loss}`);
    assert.ok(after.accuracy > 0.5 + 1.5 * se, `${name} held-out accuracy ${after.accuracy} ≤ 0.5 + 1.5·SE = ${(0.5 + 1.5 * se).toFixed(4)}`);
  }
});
