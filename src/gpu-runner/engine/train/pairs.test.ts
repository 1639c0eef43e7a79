import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { sentencePieceFromGgufJson } from "../model/tokenizer-llama.ts";
import { bucketFor, bucketize, collatePairs, LABEL_IGNORE, PairError, tokenizePair, type PairTokenizer } from "./pairs.ts";

const dataDir = new URL("../../../../../shared/data/tinyllamas-stories260k/", import.meta.url);
const reference = JSON.parse(readFileSync(new URL("reference-outputs.json", dataDir), "utf8"));
const tokenizer = sentencePieceFromGgufJson(JSON.parse(readFileSync(new URL("tok512.tokenizer.json", dataDir), "utf8")));

/** One id per character (a=10, b=11, …), BOS 1, EOS 2: lengths are easy to reason about. */
const charTokenizer: PairTokenizer = {
  bosId: 1,
  eosId: 2,
  encode: (text, options) => [...(options?.bos ?? true ? [1] : []), ...[...text].map((c) => c.charCodeAt(0) - 87)],
};

test("PREFIX_SHARED (the rule before TRL's): golden teacher-forced pair, prompt masked, response + EOS labelled", () => {
  const tf = reference.teacher_forced_logprobs;
  const pair = tokenizePair(tokenizer, { prompt: tf.prompt, responses: [tf.response, " The end."], preferred: [0] }, { maxLength: 64, maxPromptLength: 32, truncation: "PREFIX_SHARED" });
  assert.equal(pair.promptLengths[0], tf.prompt_ids.length);
  assert.deepEqual(pair.sequences[0].ids, [...tf.full_ids, 2]);
  const responseLength = tf.full_ids.length - tf.prompt_ids.length + 1;
  assert.deepEqual(pair.sequences[0].labels, [...tf.prompt_ids.map(() => LABEL_IGNORE), ...tf.full_ids.slice(tf.prompt_ids.length), 2]);
  assert.equal(pair.sequences[0].labels.filter((l) => l !== LABEL_IGNORE).length, responseLength);
  assert.deepEqual(pair.sequences[1].ids.slice(0, pair.promptLengths[0]), tf.prompt_ids);
  assert.equal(pair.truncated, false);
});

test("PREFIX_SHARED: a response that merges with the prompt's last token: shared prompt shrinks for both, concatenation is preserved", () => {
  const prompt = "Once upon a tim";
  const responses: [string, string] = ["e, there was", "e to play"];
  const pair = tokenizePair(tokenizer, { prompt, responses, preferred: [1, null] }, { maxLength: 64, maxPromptLength: 32, truncation: "PREFIX_SHARED" });
  const alone = tokenizer.encode(prompt);
  assert.ok(pair.promptLengths[0] < alone.length, "the merged token left the prompt");
  for (let r = 0; r < 2; r++) {
    assert.deepEqual(pair.sequences[r].ids, [...tokenizer.encode(prompt + responses[r]), 2]);
    assert.deepEqual(pair.sequences[r].ids.slice(0, pair.promptLengths[0]), pair.sequences[1 - r].ids.slice(0, pair.promptLengths[0]));
  }
  assert.equal(tokenizer.decode(pair.sequences[0].ids.slice(pair.promptLengths[0], -1)).trim().startsWith("time"), true);
});

test("PREFIX_SHARED truncation: prompt from the left keeping BOS, then responses to maxLength − promptLength", () => {
  const options = { maxLength: 10, maxPromptLength: 4, truncation: "PREFIX_SHARED" } as const;
  const short = tokenizePair(charTokenizer, { prompt: "abcdef", responses: ["xy", "z"], preferred: [0] }, options);
  assert.deepEqual(short.sequences[0].ids, [1, 10, 11, 12, 13, 14, 15, 33, 34, 2]); // fits exactly: untouched
  assert.equal(short.truncated, false);
  const long = tokenizePair(charTokenizer, { prompt: "abcdefgh", responses: ["xyz", "z"], preferred: [0] }, options);
  assert.deepEqual(long.sequences[0].ids, [1, 15, 16, 17, 33, 34, 35, 2]);
  assert.deepEqual(long.sequences[0].labels, [-100, -100, -100, -100, 33, 34, 35, 2]);
  assert.equal(long.promptLengths[0], 4);
  const longer = tokenizePair(charTokenizer, { prompt: "abcdefgh", responses: ["uvwxyz", "z"], preferred: [0] }, options);
  assert.deepEqual(longer.sequences[0].ids, [1, 15, 16, 17, 30, 31, 32, 33, 34, 35]); // EOS cut
  assert.deepEqual(longer.sequences[1].ids, [1, 15, 16, 17, 35, 2]);
  assert.ok(longer.truncated);
});

test("collate: rows, padding with EOS, shifted targets and loss mask, preference matrix", () => {
  const a = tokenizePair(charTokenizer, { prompt: "ab", responses: ["c", "de"], preferred: [0, null] }, { maxLength: 16, maxPromptLength: 8, truncation: "PREFIX_SHARED" });
  const b = tokenizePair(charTokenizer, { prompt: "a", responses: ["xyz", "w"], preferred: [1, 0] }, { maxLength: 16, maxPromptLength: 8, truncation: "PREFIX_SHARED" });
  const batch = collatePairs([a, b], { padId: 2, length: 6 });
  assert.equal(batch.batchSize, 2);
  assert.equal(batch.numObjectives, 2);
  const row = (r: number) => [...batch.ids.subarray(r * 6, r * 6 + 6)];
  assert.deepEqual(row(0), [1, 10, 11, 12, 2, 2]); // pair a, response 0
  assert.deepEqual(row(1), [1, 10, 33, 34, 35, 2]); // pair b, response 0
  assert.deepEqual(row(2), [1, 10, 11, 13, 14, 2]); // pair a, response 1
  assert.deepEqual(row(3), [1, 10, 32, 2, 2, 2]); // pair b, response 1
  assert.deepEqual([...batch.attentionMask.subarray(0, 6)], [1, 1, 1, 1, 1, 0]);
  assert.deepEqual([...batch.labels.subarray(0, 6)], [-100, -100, -100, 12, 2, -100]);
  assert.deepEqual([...batch.targets.subarray(0, 6)], [10, 11, 12, 2, 2, 2]);
  assert.deepEqual([...batch.lossMask.subarray(0, 6)], [0, 0, 1, 1, 0, 0]);
  assert.deepEqual([...batch.lossMask.subarray(18, 24)], [0, 1, 1, 0, 0, 0]);
  assert.deepEqual([...batch.preferred], [0, 1, -1, 0]);
  assert.throws(() => collatePairs([a, b], { padId: 2, length: 4 }), (e: unknown) => e instanceof PairError && e.code === "SEQUENCE_TOO_LONG");
  assert.equal(collatePairs([a], { padId: 2 }).length, 6);
});

test("buckets", () => {
  assert.equal(bucketFor(5, [64, 8, 16]), 8);
  assert.equal(bucketFor(16, [8, 16]), 16);
  assert.throws(() => bucketFor(17, [8, 16]), (e: unknown) => e instanceof PairError && e.code === "SEQUENCE_TOO_LONG" && /17/.test(e.message));
  assert.deepEqual([...bucketize([3, 20, 9, 8, 1], [8, 16, 32])], [[8, [0, 3, 4]], [16, [2]], [32, [1]]]);
  assert.throws(() => bucketize([1], []), PairError);
});

test("invalid pairs are rejected with the reason", () => {
  const opts = { maxLength: 16, maxPromptLength: 8, truncation: "PREFIX_SHARED" } as const;
  const bad = (pair: unknown, pattern: RegExp) =>
    assert.throws(() => tokenizePair(charTokenizer, pair as never, opts, "row 7"), (e: unknown) => e instanceof PairError && e.code === "INVALID_PAIR" && pattern.test(e.message) && /row 7/.test(e.message));
  bad({ prompt: 1, responses: ["a", "b"], preferred: [0] }, /prompt/);
  bad({ prompt: "p", responses: ["a"], preferred: [0] }, /two strings/);
  bad({ prompt: "p", responses: ["a", "b"], preferred: [2] }, /preferred\[0\]/);
  bad({ prompt: "p", responses: ["a", "b"], preferred: [null, null] }, /no objective/);
  assert.throws(() => tokenizePair(charTokenizer, { prompt: "p", responses: ["a", "b"], preferred: [0] }, { maxLength: 4, maxPromptLength: 4, truncation: "PREFIX_SHARED" }), (e: unknown) => e instanceof PairError && e.code === "INVALID_OPTIONS");
});

test("PREFIX_SHARED: PKU-SafeRLHF rows (two labels per pair) tokenize into a valid batch with the PARM template", () => {
  const rows = readFileSync(new URL("../../../../../shared/data/pku-saferlhf/alpaca-7b.test.head16.jsonl", import.meta.url), "utf8")
    .trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(rows.length, 16);
  const options = { maxLength: 256, maxPromptLength: 128, truncation: "PREFIX_SHARED" } as const;
  const started = performance.now();
  const pairs = rows.map((row, i) => tokenizePair(tokenizer, {
    prompt: `BEGINNING OF CONVERSATION: USER: ${row.prompt} ASSISTANT:`,
    responses: [row.response_0, row.response_1],
    preferred: [row.safer_response_id, row.better_response_id], // α order [harmless, helpful]
  }, options, `row ${i}`));
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 2000, `tokenizing 16 pairs took ${elapsed} ms`);
  for (const [i, pair] of pairs.entries()) {
    for (const seq of pair.sequences) {
      assert.ok(seq.ids.length <= options.maxLength, `row ${i}`);
      assert.equal(seq.ids[0], 1);
      assert.deepEqual(seq.ids.slice(0, pair.promptLengths[0]), pair.sequences[0].ids.slice(0, pair.promptLengths[0]));
      assert.ok(seq.labels.slice(0, pair.promptLengths[0]).every((l) => l === LABEL_IGNORE));
      assert.ok(seq.labels.slice(pair.promptLengths[0]).every((l, t) => l === seq.ids[pair.promptLengths[0] + t]));
    }
    if (!pair.truncated) {
      const decoded = tokenizer.decode(pair.sequences[0].ids.slice(pair.promptLengths[0], -1));
      assert.ok(decoded.replace(/\s+/g, " ").trim().endsWith(rows[i].response_0.replace(/\s+/g, " ").trim().slice(-20)), `row ${i}`);
    }
  }
  assert.ok(pairs.some((p) => p.truncated), "long rows are truncated at 256 tokens");
  const batch = collatePairs(pairs.slice(0, 4), { padId: tokenizer.eosId, length: bucketFor(Math.max(...pairs.slice(0, 4).map((p) => Math.max(p.sequences[0].ids.length, p.sequences[1].ids.length))), [64, 128, 256]) });
  assert.deepEqual([...batch.preferred], [1, 1, 1, 1, 1, 1, 1, 1]);
  assert.equal(batch.ids.length, 2 * 4 * batch.length);
});
