/** @module test/formats/vocabulary-digest — the point of src/formats' one vocabulary digest: what the api stores as
 *  `Model.tokenizerHash` when it inspects a model file equals the engine's `Tokenizer.digest` of the same model, for
 *  a GGUF (the real stories260K) and for a Hugging Face tokenizer.json beside a safetensors file. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { inspectModelFile } from "../../src/api/services/model-inspect.ts";
import { formerTokenizerDigest } from "../../src/api/services/tokenizer-hash-migration.ts";
import { loadGguf } from "../../src/gpu-runner/engine/index.ts";
import { HfTokenizer } from "../../src/gpu-runner/engine/model/tokenizer-hf.ts";
import { ggufTokens, readGgufHeaderFromFile } from "../../src/formats/index.ts";

const ggufPath = fileURLToPath(new URL("../../../shared/data/tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", import.meta.url));

test("GGUF: the api's inspected tokenizerHash is the engine's Tokenizer.digest", async () => {
  const [inspection, model] = await Promise.all([inspectModelFile(ggufPath), loadGguf(ggufPath)]);
  assert.match(inspection.tokenizerHash!, /^[0-9a-f]{64}$/);
  assert.equal(inspection.tokenizerHash, model.tokenizer.digest);
  const tokens = ggufTokens((await readGgufHeaderFromFile(ggufPath, { metadataOnly: true })).metadata)!;
  assert.notEqual(inspection.tokenizerHash, formerTokenizerDigest(tokens), "not the api's former digest");
});

test("tokenizer.json beside a safetensors file: the api's tokenizerHash is the engine's HfTokenizer digest", async () => {
  const dir = await mkdtemp(join(tmpdir(), "digest-equality-"));
  try {
    const vocab: Record<string, number> = { h: 0, e: 1, l: 2, o: 3, he: 4, ll: 5, "▁": 6 };
    const json = {
      version: "1.0",
      added_tokens: [{ id: 7, content: "</s>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: ["h e", "l l"] },
    };
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(json));
    const header = Buffer.from(JSON.stringify({ "model.embed_tokens.weight": { dtype: "F32", shape: [8, 2], data_offsets: [0, 64] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    await writeFile(join(dir, "model.safetensors"), Buffer.concat([length, header, Buffer.alloc(64)]));
    const inspection = await inspectModelFile(join(dir, "model.safetensors"));
    const engine = new HfTokenizer(json, { eos_token: "</s>" });
    assert.equal(engine.vocabSize, 8);
    assert.equal(inspection.vocabSize, 8);
    assert.equal(inspection.tokenizerHash, engine.digest);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
