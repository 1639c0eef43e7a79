/**
 * @module test/engine/evaluation.test
 * End to end on the real stories260K model and HH-RLHF slices (../shared/data), kept small (tiny training, a
 * 3-point grid, two prompts, a few tokens):
 * - `parm train-evaluator` trains one evaluator per dimension and writes importable files and metrics;
 * - `parm evaluate` runs the 3-point sweep with a PARM adapter (α-batched guided generation), prints the table,
 *   and writes report.json (front, HV, z, MIP), pareto.svg (points labelled by α, the base baseline) and
 *   responses.jsonl; the rewards in the report equal a re-scoring of the written responses;
 * - the pairwise-accuracy front of the same adapter over held-out pairs;
 * - usage errors exit with code 2.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { runEvaluateCommand, runTrainEvaluatorCommand } from "../../src/gpu-runner/cli/evaluate.ts";
import { importRewardModel, pairwiseAccuracyFront, RewardModelEvaluator } from "../../src/gpu-runner/engine/evaluate/index.ts";
import { adapterTensorShapes, exportAdapter, initAdapterTensors, loadGguf, pbloraSpec, type LoadedModel, type WeightTensor } from "../../src/gpu-runner/engine/index.ts";
import { mulberry32 } from "../../src/gpu-runner/engine/onnx/index.ts";

const data = fileURLToPath(new URL("../../../shared/data/", import.meta.url));
const modelPath = join(data, "tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf");
let dir: string;
let model: LoadedModel;

function sink() {
  const chunks: string[] = [];
  return { chunks, write: (t: string) => (chunks.push(t), true) };
}

/** The first n HH-RLHF lines of a test file whose dialogue is short, as plain JSONL. */
function hhSlice(file: string, n: number, skip = 0): string {
  const lines = gunzipSync(readFileSync(join(data, "hh-rlhf", file))).toString("utf8").split("\n").filter((l) => l.length > 0 && l.length < 700);
  return lines.slice(skip, skip + n).join("\n") + "\n";
}

/** A PARM adapter over (helpful, harmless) with random non-zero B, so α changes the ARM. */
function writeRandomParmAdapter(path: string): void {
  const spec = pbloraSpec({ r1: 2, r2: 2, numObjectives: 2, loraAlpha: 8 });
  const random = mulberry32(9);
  const shapes = adapterTensorShapes(model.config, spec);
  const tensors = new Map<string, WeightTensor>();
  for (const [name, data] of initAdapterTensors(model.config, spec, random)) {
    if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * 0.8;
    tensors.set(name, { shape: shapes.get(name)!, data });
  }
  const metadata = { method: "PARM" as const, dimensions: ["helpful", "harmless"], r1: 2, r2: 2, loraAlpha: 8, scale: 4, targets: ["q", "k", "v"] as const, baseModelDigest: model.source.sha256 };
  writeFileSync(path, exportAdapter(tensors, { ...metadata, targets: [...metadata.targets] }, model.config));
}

describe("evaluation end to end (stories260K, HH-RLHF slices)", () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parm-evaluation-"));
    model = await loadGguf(modelPath);
    writeFileSync(join(dir, "helpful.jsonl"), hhSlice("helpful-base.test.jsonl.gz", 20));
    writeFileSync(join(dir, "harmless.jsonl"), hhSlice("harmless-base.test.jsonl.gz", 20));
    writeFileSync(join(dir, "prompts.jsonl"), hhSlice("harmless-base.test.jsonl.gz", 2, 40));
    writeRandomParmAdapter(join(dir, "parm.safetensors"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("train-evaluator writes one importable evaluator per dimension with held-out metrics", async () => {
    const out = sink();
    const err = sink();
    const code = await runTrainEvaluatorCommand(
      ["--model", modelPath, "--data", `helpful=${join(dir, "helpful.jsonl")}`, "--data", `harmless=${join(dir, "harmless.jsonl")}`, "--out", join(dir, "evaluators"),
        "--max-length", "64", "--batch-pairs", "4", "--rank", "2", "--epochs", "1", "--validation-fraction", "0.25", "--threads", "1", "--quiet"],
      { stdout: out, stderr: err },
    );
    assert.equal(code, 0, err.chunks.join(""));
    for (const dim of ["helpful", "harmless"]) {
      const file = importRewardModel(readFileSync(join(dir, "evaluators", `evaluator-${dim}.safetensors`)), { config: model.config, baseModelDigest: model.source.sha256, dimension: dim });
      assert.equal(file.metadata.maxLength, 64);
      assert.equal(file.tensors.get("score.weight")!.length, model.config.dim);
      const metrics = JSON.parse(readFileSync(join(dir, "evaluators", `evaluator-${dim}.json`), "utf8")).metrics;
      assert.ok(metrics.trainPairs > 0 && metrics.validationPairs > 0 && metrics.steps > 0);
      assert.ok(metrics.heldOutAfter.accuracy >= 0 && metrics.heldOutAfter.accuracy <= 1);
    }
    assert.match(out.chunks.join(""), /helpful .*→/);
  });

  test("evaluate: 3-point sweep writes report, plot and responses; rewards re-score from the responses", async () => {
    const out = sink();
    const err = sink();
    const target = join(dir, "sweep");
    const code = await runEvaluateCommand(
      ["--base", modelPath, "--arm", join(dir, "parm.safetensors"), "--evaluator", `helpful=${join(dir, "evaluators", "evaluator-helpful.safetensors")}`,
        "--evaluator", `harmless=${join(dir, "evaluators", "evaluator-harmless.safetensors")}`, "--prompts", join(dir, "prompts.jsonl"), "--max-prompts", "2",
        "--max-prompt-tokens", "24", "--step", "0.5", "--max-new-tokens", "6", "--with-base", "--threads", "1", "--out", target],
      { stdout: out, stderr: err },
    );
    assert.equal(code, 0, err.chunks.join(""));
    const report = JSON.parse(readFileSync(join(target, "report.json"), "utf8"));
    assert.equal(report.kind, "parm.pareto-report");
    assert.deepEqual(report.objectiveNames, ["helpful", "harmless"]);
    assert.deepEqual(report.points.map((p: { alpha: number[] }) => p.alpha), [[0, 1], [0.5, 0.5], [1, 0]]);
    assert.ok(report.front.length >= 1 && report.front.every((i: number) => report.points[i].onFront));
    assert.ok(Number.isFinite(report.hypervolume) && report.hypervolume >= 0 && Number.isFinite(report.mip));
    assert.equal(report.referencePoint.length, 2);
    assert.equal(report.baselines[0].name, "base (unguided)");
    const svg = readFileSync(join(target, "pareto.svg"), "utf8");
    for (const label of ["(0, 1)", "(0.5, 0.5)", "(1, 0)", "base (unguided)", "helpful", "harmless"]) assert.ok(svg.includes(label), label);
    const responses = readFileSync(join(target, "responses.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(responses.length, 6);
    const texts = new Set(responses.map((r: { text: string }) => r.text));
    assert.ok(texts.size > 1, "α changes the guided responses");
    const prompts = hhSlice("harmless-base.test.jsonl.gz", 2, 40).trim().split("\n").map((l) => {
      const chosen = JSON.parse(l).chosen as string;
      return chosen.slice(0, chosen.lastIndexOf("\n\nAssistant:") + "\n\nAssistant:".length);
    });
    const evaluator = new RewardModelEvaluator({ backbone: model, model: importRewardModel(readFileSync(join(dir, "evaluators", "evaluator-helpful.safetensors"))), threads: 1 });
    const atHalf = responses.filter((r: { alpha: number[] }) => r.alpha[0] === 0.5);
    const scores = await evaluator.score(atHalf.map((r: { prompt: number }) => prompts[r.prompt]), atHalf.map((r: { text: string }) => r.text));
    await evaluator.release();
    const mean = (scores[0] + scores[1]) / 2;
    assert.ok(Math.abs(mean - report.points[1].rewards[0]) < 1e-9, `${mean} vs ${report.points[1].rewards[0]}`);
    assert.match(out.chunks.join(""), /hypervolume .* MIP/);
  });

  test("pairwise-accuracy front of the adapter over held-out pairs: 3 points, accuracies in [0, 1]", async () => {
    const { importAdapter, decode } = await import("../../src/gpu-runner/engine/index.ts");
    const adapter = decode.decodeAdapterFromFile(importAdapter(readFileSync(join(dir, "parm.safetensors"))));
    const pairs = ["helpful", "harmless"].flatMap((dim, i) =>
      readFileSync(join(dir, `${dim}.jsonl`), "utf8").trim().split("\n").slice(0, 4).map((l) => {
        const { chosen, rejected } = JSON.parse(l) as { chosen: string; rejected: string };
        const cut = chosen.lastIndexOf("\n\nAssistant:") + "\n\nAssistant:".length;
        return { prompt: chosen.slice(0, cut), responses: [chosen.slice(cut), rejected.slice(cut)] as [string, string], preferred: i === 0 ? [0 as const, null] : [null, 0 as const] };
      }),
    );
    const result = await pairwiseAccuracyFront({ model, arm: { method: "PARM", adapter }, objectives: [{ name: "helpful", beta: 0.1 }, { name: "harmless", beta: 0.1 }], pairs, step: 0.5, maxLength: 64, threads: 1 });
    assert.equal(result.evaluations.length, 3);
    for (const e of result.evaluations) for (const o of e.objectives) assert.ok(o.pairs === 4 && o.accuracy >= 0 && o.accuracy <= 1);
    assert.deepEqual(result.report.objectiveNames, ["helpful accuracy", "harmless accuracy"]);
    assert.match(result.svg, /^<svg/);
  });

  test("usage errors exit with code 2 and name the option", async () => {
    const err = sink();
    assert.equal(await runEvaluateCommand(["--base", modelPath, "--out", dir], { stdout: sink(), stderr: err }), 2);
    assert.match(err.chunks.join(""), /--prompts is required/);
    const err2 = sink();
    assert.equal(await runTrainEvaluatorCommand(["--model", modelPath, "--data", join(dir, "helpful.jsonl"), "--out", dir], { stdout: sink(), stderr: err2 }), 2);
    assert.match(err2.chunks.join(""), /<dim>=<file>/);
    assert.ok(existsSync(dir));
  });
});
