/**
 * @module engine/decode/generate-stories.test
 * Golden test on a real pretrained model: stories260K (GGUF) decoded greedily through the KV-cache path
 * reproduces llama2.c's `greedy_from_bos` (256 tokens) and `greedy_with_prompt` ids and text from
 * /work/shared/data/tinyllamas-stories260k/reference-outputs.json. Also checks that an α-batched PARM run with a
 * zero-B adapter (ΔW = 0, so the ARM equals the base) and β = ∞ is plain decoding for every row.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadGguf } from "../model/gguf.ts";
import { initAdapterTensors, pbloraSpec } from "../model/pblora.ts";
import { mulberry32 } from "../onnx/index.ts";
import { createGenerator } from "./generate.ts";

const storiesDir = new URL("../../../../../shared/data/tinyllamas-stories260k/", import.meta.url);

interface Golden {
  greedy_from_bos: { steps: number; token_ids: number[]; text: string };
  greedy_with_prompt: { prompt: string; prompt_ids: number[]; steps: number; token_ids: number[]; text: string };
}

const golden = JSON.parse(readFileSync(new URL("reference-outputs.json", storiesDir), "utf8")) as Golden;
const model = await loadGguf(new URL("tinyllamas-stories-260k-f32.gguf", storiesDir).pathname);

test("stories260K: greedy from BOS through the KV cache reproduces llama2.c's 256 tokens and text", async () => {
  const generator = createGenerator({ base: model, threads: 1 });
  const expected = golden.greedy_from_bos.token_ids.slice(1);
  assert.equal(expected.length, 256);
  const streamed: string[] = [];
  const result = await generator.generate({ prompt: { tokenIds: [model.config.bosId] }, maxNewTokens: 256 }, (e) => streamed.push(e.text));
  assert.deepEqual(result.outputs[0].tokenIds, expected);
  assert.equal(result.outputs[0].finishReason, "max-new-tokens");
  assert.equal(result.outputs[0].text, golden.greedy_from_bos.text);
  assert.equal(streamed.join(""), golden.greedy_from_bos.text);
  await generator.release();
});

test("stories260K: greedy with the prompt \"Once upon a time\" reproduces the golden continuation", async () => {
  const generator = createGenerator({ base: model, threads: 1 });
  const g = golden.greedy_with_prompt;
  const result = await generator.generate({ prompt: g.prompt, maxNewTokens: g.token_ids.length - g.prompt_ids.length });
  assert.deepEqual(result.promptTokenIds, g.prompt_ids);
  assert.deepEqual([...result.promptTokenIds, ...result.outputs[0].tokenIds], g.token_ids);
  assert.equal(g.prompt + result.outputs[0].text, g.text);
  await generator.release();
});

test("stories260K: a zero-B PBLoRA ARM at β = ∞ leaves every α row equal to plain greedy decoding", async () => {
  const spec = pbloraSpec({ r1: 2, r2: 2, numObjectives: 2, loraAlpha: 4 });
  const adapter = { spec, tensors: initAdapterTensors(model.config, spec, mulberry32(3)) };
  const generator = createGenerator({ base: model, arm: { model, adapter }, threads: 1 });
  const g = golden.greedy_with_prompt;
  const result = await generator.generate({ prompt: { tokenIds: g.prompt_ids }, alphas: [[1, 0], [0.5, 0.5], [0, 1]], beta: Infinity, maxNewTokens: 24 });
  for (const out of result.outputs) assert.deepEqual([...g.prompt_ids, ...out.tokenIds], g.token_ids.slice(0, g.prompt_ids.length + 24));
  // β = 1 with ΔW = 0 squares the base distribution: greedy is unchanged as well.
  const guided = await generator.generate({ prompt: { tokenIds: g.prompt_ids }, alphas: [[0.3, 0.7]], beta: 1, maxNewTokens: 24 });
  assert.deepEqual(guided.outputs[0].tokenIds, result.outputs[0].tokenIds);
  await generator.release();
});
