/**
 * @module gpu-runner/cli/generate.test
 * `parm generate` on stories260K with adapter files written by `exportAdapter`: streamed plain and PARM output,
 * α-batched blocks, JSON lines, GenARM with two adapters, and usage / digest errors with their exit codes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { loadGguf } from "../engine/model/index.ts";
import { adapterTensorShapes, initAdapterTensors, pbloraSpec } from "../engine/model/pblora.ts";
import { mulberry32 } from "../engine/onnx/index.ts";
import { exportAdapter, type AdapterFileMetadata } from "../engine/train/index.ts";
import type { WeightTensor } from "../engine/model/config.ts";
import { parseGenerateArgs, runGenerateCommand, type CommandIo } from "./generate.ts";

const storiesDir = new URL("../../../../shared/data/tinyllamas-stories260k/", import.meta.url);
const modelPath = new URL("tinyllamas-stories-260k-f32.gguf", storiesDir).pathname;
const golden = JSON.parse(readFileSync(new URL("reference-outputs.json", storiesDir), "utf8")) as {
  greedy_with_prompt: { prompt: string; prompt_ids: number[]; token_ids: number[]; text: string };
};
const model = await loadGguf(modelPath);
const dir = mkdtempSync(join(tmpdir(), "parm-generate-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeAdapter(name: string, metadata: AdapterFileMetadata, seed: number): string {
  const spec =
    metadata.method === "PARM"
      ? pbloraSpec({ r1: metadata.r1, r2: metadata.r2, numObjectives: metadata.dimensions.length, loraAlpha: metadata.loraAlpha })
      : ({ mode: "lora", rank: metadata.r1, loraAlpha: metadata.loraAlpha, targets: ["q", "k", "v"] } as const);
  const random = mulberry32(seed);
  const shapes = adapterTensorShapes(model.config, spec);
  const tensors = new Map<string, WeightTensor>();
  for (const [tensorName, data] of initAdapterTensors(model.config, spec, random)) {
    if (tensorName.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * 0.5;
    tensors.set(tensorName, { shape: [...shapes.get(tensorName)!], data });
  }
  const path = join(dir, name);
  writeFileSync(path, exportAdapter(tensors, metadata, model.config));
  return path;
}

const parmMeta: AdapterFileMetadata = { method: "PARM", dimensions: ["harmless", "helpful"], r1: 2, r2: 2, loraAlpha: 4, scale: 2, targets: ["q", "k", "v"], baseModelDigest: model.source.sha256 };
const genMeta = (dimension: string): AdapterFileMetadata => ({ method: "GENARM", dimensions: [dimension], r1: 4, r2: 0, loraAlpha: 8, scale: 2, targets: ["q", "k", "v"], baseModelDigest: model.source.sha256 });
const parmPath = writeAdapter("parm.safetensors", parmMeta, 1);
const genPaths = [writeAdapter("harmless.safetensors", genMeta("harmless"), 2), writeAdapter("helpful.safetensors", genMeta("helpful"), 3)];

function collector(): CommandIo & { out: () => string; err: () => string; writes: () => number } {
  let out = "";
  let err = "";
  let writes = 0;
  return {
    stdout: { write: (s: string) => ((out += s), writes++) },
    stderr: { write: (s: string) => (err += s) },
    out: () => out,
    err: () => err,
    writes: () => writes,
  };
}

const g = golden.greedy_with_prompt;
const newTokens = 20;
const goldenText = (() => {
  const ids = g.token_ids.slice(0, g.prompt_ids.length + newTokens);
  return model.tokenizer.decode(ids);
})();

test("plain generation streams the prompt and the golden greedy continuation", async () => {
  const io = collector();
  const code = await runGenerateCommand(["--base", modelPath, "--prompt", g.prompt, "--max-new-tokens", String(newTokens), "--threads", "1"], io);
  assert.equal(code, 0, io.err());
  assert.equal(io.out(), `${goldenText}\n`);
  assert.ok(io.writes() > newTokens / 2, "text arrives token by token");
  assert.match(io.err(), /\[none\] 1 output\(s\), 20 tokens; time to first token [\d.]+ ms, [\d.]+ ms per step/);
});

test("PARM with --beta inf equals plain decoding; several --alpha print one block each", async () => {
  const io = collector();
  const argv = ["--base", modelPath, "--arm", parmPath, "--alpha", "0.3,0.7", "--alpha", "1,0", "--beta", "inf", "--prompt", g.prompt, "--max-new-tokens", String(newTokens), "--threads", "1"];
  assert.equal(await runGenerateCommand(argv, io), 0, io.err());
  const blocks = io.out().split(/^--- /m).filter(Boolean);
  assert.equal(blocks.length, 2);
  assert.match(blocks[0], /^α = \[0\.3, 0\.7\] \(max-new-tokens, 20 tokens\)\n/);
  for (const block of blocks) assert.equal(block.slice(block.indexOf("\n") + 1), `${goldenText}\n`);
  assert.match(io.err(), /\[parm\] 2 output\(s\), 40 tokens/);
});

test("JSON lines: one object per token and a final result; GenARM takes one weight per adapter file", async () => {
  const io = collector();
  const argv = ["--base", modelPath, "--arm", genPaths[0], "--arm", genPaths[1], "--alpha", "0.5,0.5", "--prompt", g.prompt, "--max-new-tokens", "8", "--format", "jsonl", "--threads", "1", "--temperature", "0.8", "--seed", "7"];
  assert.equal(await runGenerateCommand(argv, io), 0, io.err());
  const lines = io.out().trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  const tokens = lines.filter((l) => l.type === "token");
  const result = lines[lines.length - 1] as { type: string; mode: string; outputs: { tokenIds: number[]; text: string }[] };
  assert.equal(result.type, "result");
  assert.equal(result.mode, "genarm");
  assert.deepEqual(tokens.map((t) => t.tokenId), result.outputs[0].tokenIds);
  assert.equal(tokens.map((t) => t.text).join(""), result.outputs[0].text);
  const again = collector();
  assert.equal(await runGenerateCommand(argv, again), 0);
  assert.equal(JSON.parse(again.out().trim().split("\n").pop()!).outputs[0].text, result.outputs[0].text, "same seed, same text");
});

test("usage errors exit 2 naming the option; a digest mismatch exits 1 with its code", async () => {
  const cases: [string[], RegExp][] = [
    [["--prompt", "x"], /--base is required/],
    [["--base", modelPath], /--prompt is required/],
    [["--base", modelPath, "--prompt", "x", "--arm", parmPath], /needs at least one --alpha/],
    [["--base", modelPath, "--prompt", "x", "--arm", parmPath, "--alpha", "0.5,x"], /--alpha #1 must be comma-separated/],
    [["--base", modelPath, "--prompt", "x", "--beta", "0"], /--beta must be a number > 0/],
    [["--base", modelPath, "--prompt", "x", "--bogus"], /Unknown option '--bogus'/],
    [["--base", join(dir, "missing.gguf"), "--prompt", "x"], /cannot read model/],
  ];
  for (const [argv, pattern] of cases) {
    const io = collector();
    assert.equal(await runGenerateCommand(argv, io), 2, argv.join(" "));
    assert.match(io.err(), pattern);
  }
  const foreign = writeAdapter("foreign.safetensors", { ...parmMeta, baseModelDigest: "cd".repeat(32) }, 4);
  const io = collector();
  assert.equal(await runGenerateCommand(["--base", modelPath, "--arm", foreign, "--alpha", "1,0", "--prompt", "x", "--max-new-tokens", "2"], io), 1);
  assert.match(io.err(), /parm generate: AdapterFileError BASE_MODEL_MISMATCH: /);
  const wrongK = collector();
  assert.equal(await runGenerateCommand(["--base", modelPath, "--arm", parmPath, "--alpha", "1,0,0", "--prompt", "x", "--max-new-tokens", "2"], wrongK), 1);
  assert.match(wrongK.err(), /GenerateRequestError INVALID_ALPHA: alphas\[0\] must hold 2 weights/);
  assert.deepEqual(parseGenerateArgs(["--base", "m", "--prompt", "p", "--temperature", "0.7", "--top-k", "5"]).sampling, { kind: "sample", temperature: 0.7, topK: 5, topP: 1, seed: 0 });
});
