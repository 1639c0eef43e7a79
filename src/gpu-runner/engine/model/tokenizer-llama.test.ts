import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SentencePieceBpeTokenizer, sentencePieceFromGgufJson } from "./tokenizer-llama.ts";
import { TokenizerError } from "./tokenizer.ts";

const dataDir = new URL("../../../../../shared/data/tinyllamas-stories260k/", import.meta.url);
const reference = JSON.parse(readFileSync(new URL("reference-outputs.json", dataDir), "utf8"));
const tokJson = JSON.parse(readFileSync(new URL("tok512.tokenizer.json", dataDir), "utf8"));
const tokenizer = sentencePieceFromGgufJson(tokJson);

test("encode matches every run.c golden case", () => {
  const cases = Object.entries(reference.encode_cases as Record<string, number[]>);
  assert.equal(cases.length, 6);
  for (const [text, ids] of cases) assert.deepEqual(tokenizer.encode(text), ids, text);
});

test("encode of the golden prompts and the teacher-forced pair", () => {
  assert.deepEqual(tokenizer.encode(reference.greedy_with_prompt.prompt), reference.greedy_with_prompt.prompt_ids);
  const tf = reference.teacher_forced_logprobs;
  assert.deepEqual(tokenizer.encode(tf.prompt), tf.prompt_ids);
});

test("bos option and empty text", () => {
  assert.deepEqual(tokenizer.encode(""), [1]);
  assert.deepEqual(tokenizer.encode("", { bos: false }), []);
  assert.deepEqual(tokenizer.encode("Hello world", { bos: false }), reference.encode_cases["Hello world"].slice(1));
});

test("decode reproduces the golden greedy texts", () => {
  for (const key of ["greedy_from_bos", "greedy_with_prompt"]) {
    const golden = reference[key];
    assert.equal(tokenizer.decode(golden.token_ids), golden.text, key);
  }
});

test("decode round-trips non-ASCII text through byte tokens", () => {
  for (const text of Object.keys(reference.encode_cases)) {
    assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  }
  const ids = tokenizer.encode("日本 ☃ é", { bos: true });
  assert.ok(ids.some((id) => id >= 3 && id <= 258), "needs byte-fallback ids");
  assert.equal(tokenizer.decode(ids), "日本 ☃ é");
});

test("stream decoder holds incomplete UTF-8 and equals decode", () => {
  const ids = tokenizer.encode("a ☃ b");
  const stream = tokenizer.createStreamDecoder();
  const pieces = ids.map((id) => stream.push(id));
  pieces.push(stream.flush());
  assert.equal(pieces.join(""), "a ☃ b");
  assert.ok(!pieces.some((p) => p.includes("\uFFFD")), "no replacement characters mid-stream");
  // ☃ is 3 bytes → 3 byte tokens; the first two pushes return nothing.
  const snowman = [0xe2, 0x98, 0x83].map((b) => b + 3);
  const s2 = tokenizer.createStreamDecoder();
  assert.deepEqual(snowman.map((id) => s2.push(id)), ["", "", "☃"]);
  const s3 = tokenizer.createStreamDecoder();
  assert.equal(s3.push(0xe2 + 3), "");
  assert.equal(s3.flush(), "\uFFFD");
});

test("a literal <s> in text never becomes BOS", () => {
  assert.ok(!tokenizer.encode("<s>", { bos: false }).includes(1));
});

test("out-of-range ids and malformed vocabularies are typed errors", () => {
  assert.throws(() => tokenizer.decode([512]), (e: unknown) => e instanceof TokenizerError && e.code === "TOKEN_ID_OUT_OF_RANGE");
  assert.throws(() => tokenizer.decode([1.5]), TokenizerError);
  assert.throws(
    () => new SentencePieceBpeTokenizer({ pieces: ["a", "b"], scores: [0], bosId: 0, eosId: 1 }),
    (e: unknown) => e instanceof TokenizerError && e.code === "INVALID_VOCABULARY" && /scores/.test(e.message),
  );
  assert.throws(() => new SentencePieceBpeTokenizer({ pieces: ["a"], scores: [0], bosId: 3, eosId: 0 }), /bos id 3/);
});

test("digest depends on pieces and their order only", () => {
  assert.match(tokenizer.digest, /^[0-9a-f]{64}$/);
  const a = new SentencePieceBpeTokenizer({ pieces: ["<unk>", "<s>", "</s>", "x"], scores: [0, 0, 0, 1], bosId: 1, eosId: 2 });
  const b = new SentencePieceBpeTokenizer({ pieces: ["<unk>", "<s>", "</s>", "x"], scores: [0, 0, 0, -5], bosId: 1, eosId: 2 });
  const c = new SentencePieceBpeTokenizer({ pieces: ["<unk>", "<s>", "x", "</s>"], scores: [0, 0, 0, 1], bosId: 1, eosId: 3 });
  assert.equal(a.digest, b.digest);
  assert.notEqual(a.digest, c.digest);
});

/** run.c's encode transliterated literally (O(n²) rescans), to check the heap-based merge against. */
function naiveRunCEncode(text: string): number[] {
  const pieces: string[] = tokJson.tokens;
  const lookup = new Map<string, number>();
  pieces.forEach((p, i) => { if ((tokJson.token_type[i] === 1) && !lookup.has(p)) lookup.set(p, i); });
  const tokens: number[] = [1];
  if (text.length > 0) tokens.push(lookup.get("▁")!);
  for (const cp of text) {
    const id = lookup.get(cp === " " ? "▁" : cp);
    if (id !== undefined) tokens.push(id);
    else for (const b of new TextEncoder().encode(cp)) tokens.push(b + 3);
  }
  for (;;) {
    let best = -1e10, bestId = -1, bestIdx = -1;
    for (let i = 1; i + 1 < tokens.length; i++) {
      const id = lookup.get(pieces[tokens[i]] + pieces[tokens[i + 1]]);
      if (id !== undefined && tokJson.scores[id] > best) { best = tokJson.scores[id]; bestId = id; bestIdx = i; }
    }
    if (bestIdx < 0) return tokens;
    tokens.splice(bestIdx, 2, bestId);
  }
}

test("heap-based merging equals run.c's rescanning loop on 300 random texts", () => {
  const alphabet = "abcdeilnorst  .,!?'\nAOTLé☃日";
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let n = 0; n < 300; n++) {
    const length = Math.floor(next() * 80);
    const text = Array.from({ length }, () => [...alphabet][Math.floor(next() * [...alphabet].length)]).join("");
    assert.deepEqual(tokenizer.encode(text), naiveRunCEncode(text), JSON.stringify(text));
  }
  const story = reference.greedy_from_bos.text as string;
  assert.deepEqual(tokenizer.encode(story), naiveRunCEncode(story));
  assert.deepEqual(tokenizer.encode(story), reference.greedy_from_bos.token_ids);
});
