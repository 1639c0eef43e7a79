import { test } from "node:test";
import assert from "node:assert/strict";
import { HfTokenizer } from "./tokenizer-hf.ts";
import { TokenizerError } from "./tokenizer.ts";

/** GPT-2's reversible byte → printable character map. */
function bytesToUnicode(): string[] {
  const printable = [...Array(94).keys()].map((i) => i + 33).concat([...Array(12).keys()].map((i) => i + 161), [...Array(82).keys()].map((i) => i + 174));
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return map;
}

/** A minimal byte-level BPE tokenizer.json (GPT-2 / Qwen2 style): 256 byte symbols, three merges, one special. */
function byteLevelTokenizerJson(): object {
  const symbols = bytesToUnicode();
  const vocab: Record<string, number> = {};
  symbols.forEach((s, i) => { vocab[s] = i; });
  const merges = ["h e", "l l", "Ġ w"];
  merges.forEach((m, i) => { vocab[m.replace(" ", "")] = 256 + i; });
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    added_tokens: [{ id: 259, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

test("byte-level BPE: merges apply, multi-byte text round-trips, specials are skipped in decode", () => {
  const tokenizer = new HfTokenizer(byteLevelTokenizerJson(), { eos_token: "<|endoftext|>" });
  assert.equal(tokenizer.vocabSize, 260);
  assert.equal(tokenizer.eosId, 259);
  assert.equal(tokenizer.bosId, 259, "no BOS: EOS stands in");
  assert.deepEqual(tokenizer.encode("hello world", { bos: false }), [256, 257, 111, 258, 111, 114, 108, 100]);
  const text = "héllo wörld ☃ 日本";
  const ids = tokenizer.encode(text, { bos: false });
  assert.equal(tokenizer.decode(ids), text);
  assert.equal(tokenizer.decode([...ids, 259]), text);
  const stream = tokenizer.createStreamDecoder();
  const parts = ids.map((id) => stream.push(id));
  parts.push(stream.flush());
  assert.equal(parts.join(""), text);
  assert.ok(!parts.some((p) => p.includes("\uFFFD")), `no partial characters: ${JSON.stringify(parts)}`);
  assert.equal(tokenizer.idToPiece(256), "he");
});

test("tokenizer.json problems are typed errors", () => {
  assert.throws(() => new HfTokenizer({}, {}), (e: unknown) => e instanceof TokenizerError && e.code === "INVALID_VOCABULARY");
  assert.throws(() => new HfTokenizer(byteLevelTokenizerJson(), {}), (e: unknown) => e instanceof TokenizerError && /no EOS/.test(e.message));
  assert.throws(() => new HfTokenizer(byteLevelTokenizerJson(), {}, { eosId: 999 }), (e: unknown) => e instanceof TokenizerError && e.code === "TOKEN_ID_OUT_OF_RANGE");
});
