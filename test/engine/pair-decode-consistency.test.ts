/**
 * An ARM trained under the TRL pair rule sees, before its first response token, exactly the ids its decoder is
 * given at generation: for real PKU-SafeRLHF rows through the runner's training-data path (templatedSnapshots with
 * the PKU template, responses joined with one space) and HH-RLHF rows (prompts as they are), each sequence's
 * training prompt ids equal the generator's prompt ids (engine/decode/generate.ts: encode(prompt, { bos: true }))
 * of the prompt the evaluate handler and the chat route render (renderBarePrompts, renderNamedChat), wherever the
 * pair is not truncated. The tokenizer is stories260K's (../shared/data).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseDataset, renderBarePrompts, renderNamedChat, type PromptTemplate } from "../../src/contracts/index.ts";
import { templatedSnapshots } from "../../src/gpu-runner/handlers/train-data.ts";
import { sentencePieceFromGgufJson } from "../../src/gpu-runner/engine/model/tokenizer-llama.ts";
import { tokenizePair } from "../../src/gpu-runner/engine/train/pairs.ts";

const data = (path: string) => fileURLToPath(new URL(`../../../shared/data/${path}`, import.meta.url));
const tokenizer = sentencePieceFromGgufJson(JSON.parse(readFileSync(data("tinyllamas-stories260k/tok512.tokenizer.json"), "utf8")));
const limits = { maxLength: 1024, maxPromptLength: 512, truncation: "TRL" } as const;
const all = { splitRatios: { train: 1, validation: 0, test: 0 } };

function assertSameContext(prompt: string, decodePrompt: string, responses: [string, string], where: string): boolean {
  const pair = tokenizePair(tokenizer, { prompt, responses, preferred: [0] }, limits, where);
  if (pair.truncated) return false;
  const decodeIds = tokenizer.encode(decodePrompt, { bos: true });
  for (const r of [0, 1] as const) {
    assert.deepEqual(pair.sequences[r].ids.slice(0, pair.promptLengths[r]), decodeIds, `${where}: sequence ${r}'s prompt = the decoder's`);
  }
  return true;
}

test("PKU-SafeRLHF through the training-data path with the PKU template: training prompt ids = decode prompt ids", async () => {
  const { records } = parseDataset(readFileSync(data("pku-saferlhf/alpaca-7b.test.head16.jsonl")), "PKU_SAFERLHF", all);
  const template: PromptTemplate = { kind: "named", name: "PKU" };
  const [templated] = await templatedSnapshots([{ records, dimensionMap: {}, format: "PKU_SAFERLHF" }], template);
  const decodePrompts = await renderBarePrompts(template, records.map((r) => r.prompt));
  let checked = 0;
  for (const [i, record] of templated.records.entries()) {
    assert.equal(record.prompt, decodePrompts[i], `row ${i}: the evaluate handler renders the training prompt`);
    assert.equal(record.prompt, renderNamedChat("PKU", [{ role: "user", content: records[i].prompt }]).prompt, `row ${i}: so does the chat route`);
    assert.ok(record.response0.startsWith(" "), `row ${i}: responses join "ASSISTANT:" with one space`);
    if (assertSameContext(record.prompt, decodePrompts[i], [record.response0, record.response1], `PKU row ${i}`)) checked++;
  }
  assert.ok(checked >= 12, `${checked} of 16 rows fit 1024 tokens`);
});

test("HH-RLHF prompts as they are: training prompt ids = decode prompt ids", () => {
  let checked = 0;
  for (const file of ["helpful-base.test.jsonl.gz", "harmless-base.test.jsonl.gz"]) {
    const { records } = parseDataset(readFileSync(data(`hh-rlhf/${file}`)), "HH_RLHF", all);
    for (const [i, record] of records.slice(0, 150).entries()) {
      if (assertSameContext(record.prompt, record.prompt, [record.response0, record.response1], `${file} row ${i}`)) checked++;
    }
  }
  assert.ok(checked >= 250, `${checked} of 300 pairs fit 1024 tokens`);
});
