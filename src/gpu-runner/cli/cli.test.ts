/** @module gpu-runner/cli/cli.test
 * End to end on the real stories260K model and HH-RLHF slices (../shared/data): `train` writes an importable
 * adapter, report and history and resumes from its checkpoint to the same adapter; `dump` writes a file from which
 * an independent float64 TypeScript implementation (model/arm-graph-reference.ts) recomputes the loss, margins
 * and, by central differences, adapter gradients; `train-evaluator --pooling mean` writes an evaluator whose file
 * records that pooling; usage errors exit with code 2.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { importAdapter } from "../engine/index.ts";
import { importRewardModel } from "../engine/evaluate/index.ts";
import { referenceArmLoss } from "../engine/model/arm-graph-reference.ts";
import type { LlamaConfig } from "../engine/index.ts";
import { pbloraSpec } from "../engine/model/pblora.ts";
import { readDumpFile } from "./dump-file.ts";
import { main } from "./main.ts";

const data = fileURLToPath(new URL("../../../../shared/data/", import.meta.url));
const modelPath = join(data, "tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf");
let dir: string;

function sink() {
  const chunks: string[] = [];
  return { chunks, stream: { write: (t: string) => (chunks.push(t), true), isTTY: false } as unknown as NodeJS.WritableStream };
}

async function run(argv: string[]) {
  const out = sink();
  const err = sink();
  const code = await main(argv, { stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.chunks.join(""), stderr: err.chunks.join("") };
}

/** The first n short lines of an HH file, written as plain JSONL. */
function slice(name: string, n: number): string {
  const lines = gunzipSync(readFileSync(join(data, "hh-rlhf", name))).toString("utf8").split("\n").filter((l) => l.length > 0 && l.length < 700).slice(0, n);
  const path = join(dir, name.replace(".gz", ""));
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "parm-cli-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("parm train", () => {
  test("writes adapter, report and history; --resume from the checkpoint gives the same adapter", async () => {
    const helpful = slice("helpful-base.test.jsonl.gz", 30);
    const harmless = slice("harmless-base.test.jsonl.gz", 30);
    const out = join(dir, "run");
    const argv = [
      "train", "--model", modelPath, "--data", `helpful=${helpful}`, "--data", `harmless=${harmless}`, "--out", out,
      "--beta", "helpful=0.1,harmless=0.2", "--epochs", "1", "--batch-pairs", "4", "--grad-accum", "1", "--warmup-steps", "0", "--lr", "5e-3", "--max-length", "64",
      "--max-prompt-length", "32", "--buckets", "32,64", "--threads", "1", "--seed", "3", "--validation-fraction", "0.2",
      "--checkpoint-every", "3", "--front-step", "0.5",
    ];
    const first = await run(argv);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /step \d+\/\d+ · loss helpful [\d.–]+ harmless [\d.–]+ · \d+ tok\/s · ETA/);
    assert.match(first.stdout, /held-out \(α = e_i for objective i\)/);
    const adapterBytes = readFileSync(join(out, "adapter.safetensors"));
    const adapter = importAdapter(adapterBytes, { dimensions: ["helpful", "harmless"] });
    assert.equal(adapter.metadata.method, "PARM");
    assert.deepEqual(adapter.metadata.targets, ["q", "k", "v"]);
    assert.equal(adapter.metadata.baseModelDigest, "c14806920629b6c217445c69d7ac61bd0e4047289f8ab824c3f0b4f827a5d1cb");
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    assert.deepEqual(report.beta, [0.1, 0.2]);
    assert.ok(report.metrics.steps >= 3);
    assert.equal(report.metrics.heldOutAfter.front.length, 3, "e_1, e_2 and (0.5, 0.5)");
    const history = readFileSync(join(out, "history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(history.length, report.metrics.steps);
    assert.ok(existsSync(join(out, "checkpoint.safetensors")));

    const resumed = await run([...argv.map((a) => (a === out ? join(dir, "resumed") : a)), "--resume", join(out, "checkpoint.safetensors"), "--quiet"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok(Buffer.compare(readFileSync(join(dir, "resumed", "adapter.safetensors")), adapterBytes) === 0, "resumed adapter equals the uninterrupted one");
  });

  test("usage errors exit with 2 and name the problem", async () => {
    const cases: [string[], RegExp][] = [
      [["train", "--model", modelPath], /--out is required/],
      [["train", "--model", modelPath, "--out", dir], /at least one --data/],
      [["train", "--model", join(dir, "nope.gguf"), "--out", dir, "--data", `a=${join(dir, "helpful-base.test.jsonl")}`], /does not exist/],
      [["train", "--out", dir, "--data", `a=${join(dir, "missing.jsonl")}`], /cannot read data file/],
      [["frobnicate"], /unknown command "frobnicate"/],
    ];
    for (const [argv, pattern] of cases) {
      const r = await run(argv);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
  });
});

describe("parm train-evaluator", () => {
  test("--pooling mean trains an evaluator whose file and report record mean pooling", async () => {
    const harmless = slice("harmless-base.test.jsonl.gz", 16);
    const out = join(dir, "evaluators");
    const r = await run([
      "train-evaluator", "--model", modelPath, "--data", `harmless=${harmless}`, "--out", out, "--pooling", "mean", "--epochs", "1",
      "--batch-pairs", "4", "--lr", "1e-3", "--max-length", "48", "--max-prompt-length", "24", "--threads", "1", "--validation-fraction", "0.25",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /training evaluator "harmless" \(mean pooling\) on \d+ pairs/);
    const model = importRewardModel(new Uint8Array(readFileSync(join(out, "evaluator-harmless.safetensors"))));
    assert.equal(model.metadata.pooling, "mean");
    assert.equal(model.metadata.dimension, "harmless");
    assert.equal(JSON.parse(readFileSync(join(out, "evaluator-harmless.json"), "utf8")).pooling, "mean");
  });

  test("an unknown --pooling is a usage error naming the allowed values; the usage lists the option", async () => {
    const r = await run(["train-evaluator", "--model", modelPath, "--data", `harmless=${join(dir, "missing.jsonl")}`, "--out", dir, "--pooling", "max"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--pooling must be one of last, mean, got "max"/);
    assert.match(r.stderr, /--pooling last\|mean/);
  });
});

describe("parm dump", () => {
  test("an independent float64 implementation recomputes loss, margins and gradients from the file", async () => {
    const path = join(dir, "dump.safetensors");
    const r = await run(["dump", "--model", modelPath, "--out", path, "--batch-pairs", "2", "--max-length", "20", "--alpha", "0.3,0.7", "--beta", "0.05", "--seed", "4"]);
    assert.equal(r.code, 0, r.stderr);
    const { tensors, metadata } = readDumpFile(readFileSync(path));
    const meta = JSON.parse(metadata["parm.dump"]);
    const config = meta.config as LlamaConfig;
    const weights = new Map<string, { shape: number[]; data: Float32Array }>();
    const adapter = new Map<string, Float64Array>();
    for (const [name, t] of tensors) {
      if (name.startsWith("model.")) weights.set(name.slice(6), { shape: [...t.shape], data: t.data as Float32Array });
      if (name.startsWith("adapter.")) adapter.set(name.slice(8), t.data as Float64Array);
    }
    const num = (name: string) => Array.from(tensors.get(name)!.data as Float64Array);
    const ids = tensors.get("batch.input_ids")!;
    const [rows, T] = ids.shape;
    const R = tensors.get("batch.label_ids")!.shape[1];
    const positions = tensors.get("batch.label_positions")!.data as BigInt64Array;
    const labelIds = tensors.get("batch.label_ids")!.data as BigInt64Array;
    const mask = num("batch.label_mask");
    const sequences = Array.from({ length: rows }, (_, row) => {
      const rowIds = Array.from((ids.data as BigInt64Array).subarray(row * T, (row + 1) * T), Number);
      const labels = rowIds.map(() => -100);
      for (let j = 0; j < R; j++) if (mask[row * R + j] === 1) labels[Number(positions[row * R + j]) + 1] = Number(labelIds[row * R + j]);
      return { ids: rowIds, labels };
    });
    const P = rows / 2;
    const sign = num("batch.pair_sign");
    const weight = num("batch.pair_weight");
    const pairs = Array.from({ length: P }, (_, p) => ({ first: sequences[p], second: sequences[P + p], sign: [sign[2 * p], sign[2 * p + 1]], counts: [weight[2 * p] > 0, weight[2 * p + 1] > 0] }));
    const spec = pbloraSpec({ r1: meta.adapter.r1, r2: meta.adapter.r2, numObjectives: 2, loraAlpha: meta.adapter.loraAlpha, targets: meta.adapter.targets });
    const alpha = num("batch.alpha").slice(0, 2);
    const beta = num("batch.beta");
    const lossOf = (t: Map<string, Float64Array>) => referenceArmLoss(config, weights, { spec, tensors: t }, pairs, alpha, beta);
    const ref = lossOf(adapter);
    assert.ok(Math.abs(ref.total - num("output.loss")[0]) < 1e-9 * (1 + Math.abs(ref.total)), `loss ${ref.total} vs ${num("output.loss")[0]}`);
    num("output.margins").forEach((m, p) => assert.ok(Math.abs(m - ref.margins[p]) < 1e-8 * (1 + Math.abs(m)), `margin ${p}`));
    assert.ok(ref.total > 1e-3, "a non-trivial loss");
    for (const name of ["layers.0.q.pblora_A", "layers.4.v.pblora_B", "layers.2.k.pblora_W2"]) {
      const grad = num(`grad.${name}`);
      const index = grad.reduce((best, g, i) => (Math.abs(g) > Math.abs(grad[best]) ? i : best), 0);
      const h = 1e-5;
      const shifted = (delta: number) => {
        const t = new Map(adapter);
        const copy = Float64Array.from(adapter.get(name)!);
        copy[index] += delta;
        t.set(name, copy);
        return lossOf(t).total;
      };
      const fd = (shifted(h) - shifted(-h)) / (2 * h);
      assert.ok(Math.abs(fd - grad[index]) < 1e-5 * Math.abs(grad[index]) + 1e-9, `${name}[${index}]: graph ${grad[index]} vs central difference ${fd}`);
    }
  });
});
