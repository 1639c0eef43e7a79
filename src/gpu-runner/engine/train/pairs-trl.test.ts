/**
 * Pair tokenization rule TRL (pairs.ts) against a line-by-line transcription of TRL 0.9.6's
 * `DPOTrainer.build_tokenized_answer` and `tokenize_row` (trl/trainer/dpo_trainer.py, decoder-only text branch),
 * the code PARM's reference training runs (PARM requirements.txt: trl==0.9.6). `tokenizer(text,
 * add_special_tokens=False)["input_ids"]` is the engine tokenizer's `encode(text, { bos: false })`. The cases cover
 * each branch on the stories260K tokenizer: a short pair left untouched, the prompt cut keep_end (BOS cut with it),
 * responses cut to max_length − max_prompt_length, a token merging across the boundary in one response only
 * (per-sequence boundaries, and per-sequence truncation decisions), TRL's two errors, and real HH-RLHF and
 * PKU-SafeRLHF rows.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { sentencePieceFromGgufJson } from "../model/tokenizer-llama.ts";
import { LABEL_IGNORE, PairError, tokenizePair, type PairTokenizer, type PreferencePair } from "./pairs.ts";

const data = new URL("../../../../../shared/data/", import.meta.url);
const tokenizer = sentencePieceFromGgufJson(JSON.parse(readFileSync(new URL("tinyllamas-stories260k/tok512.tokenizer.json", data), "utf8")));
const BOS = tokenizer.bosId;
const EOS = tokenizer.eosId;

// ---- TRL 0.9.6, transcribed (Python slicing: a[:n] = slice(0, n), a[n:] = slice(n), a[-n:] = slice(-n)) ----

interface Tokens { input_ids: number[]; attention_mask: number[] }
interface Answer { prompt_input_ids: number[]; prompt_attention_mask: number[]; input_ids: number[]; attention_mask: number[] }

function hfTokenize(tok: PairTokenizer, text: string): Tokens {
  const input_ids = tok.encode(text, { bos: false });
  return { input_ids, attention_mask: input_ids.map(() => 1) };
}

const listEq = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

class TrlValueError extends Error {}

function buildTokenizedAnswer(tok: PairTokenizer, prompt: string, answer: string): Answer {
  const full_tokenized = hfTokenize(tok, prompt + answer);
  let prompt_input_ids = hfTokenize(tok, prompt).input_ids;

  let answer_input_ids = full_tokenized.input_ids.slice(prompt_input_ids.length);
  let answer_attention_mask = full_tokenized.attention_mask.slice(prompt_input_ids.length);

  // Concat tokens to form `enc(a) + enc(a + b)[len(enc(a)):]`
  const full_concat_input_ids = [...prompt_input_ids, ...answer_input_ids];

  // Prepare input tokens for token by token comparison
  const full_input_ids = [...full_tokenized.input_ids];

  if (full_input_ids.length !== full_concat_input_ids.length) {
    throw new TrlValueError("Prompt input ids and answer input ids should have the same length.");
  }

  let response_token_ids_start_idx = prompt_input_ids.length;

  // If tokenized prompt is different than both prompt+answer, then it means the
  // last token has changed due to merging.
  if (!listEq(prompt_input_ids, full_tokenized.input_ids.slice(0, response_token_ids_start_idx))) {
    response_token_ids_start_idx -= 1;
  }

  prompt_input_ids = full_tokenized.input_ids.slice(0, response_token_ids_start_idx);
  const prompt_attention_mask = full_tokenized.attention_mask.slice(0, response_token_ids_start_idx);

  if (prompt_input_ids.length !== prompt_attention_mask.length) {
    throw new TrlValueError("Prompt input ids and attention mask should have the same length.");
  }

  answer_input_ids = full_tokenized.input_ids.slice(response_token_ids_start_idx);
  answer_attention_mask = full_tokenized.attention_mask.slice(response_token_ids_start_idx);

  return { prompt_input_ids, prompt_attention_mask, input_ids: answer_input_ids, attention_mask: answer_attention_mask };
}

function tokenizeRow(tok: PairTokenizer, feature: { prompt: string; chosen: string; rejected: string }, max_length: number, max_prompt_length: number): Record<string, number[]> {
  const batch: Record<string, number[]> = {};
  const { prompt, chosen, rejected } = feature;
  const truncation_mode: string = "keep_end";
  const label_pad_token_id = LABEL_IGNORE;

  const tokenized = hfTokenize(tok, prompt);
  const prompt_tokens: Record<string, number[]> = { prompt_input_ids: tokenized.input_ids, prompt_attention_mask: tokenized.attention_mask };

  const chosen_tokens = buildTokenizedAnswer(tok, prompt, chosen) as unknown as Record<string, number[]>;
  const rejected_tokens = buildTokenizedAnswer(tok, prompt, rejected) as unknown as Record<string, number[]>;

  // Last prompt token might get merged by tokenizer and
  // it should not be included for generation if that happens
  let prompt_len_input_ids = prompt_tokens.prompt_input_ids.length;

  const chosen_prompt_len_input_ids = chosen_tokens.prompt_input_ids.length;
  const rejected_prompt_len_input_ids = rejected_tokens.prompt_input_ids.length;
  prompt_len_input_ids = Math.min(chosen_prompt_len_input_ids, rejected_prompt_len_input_ids);

  for (const k of Object.keys(prompt_tokens)) prompt_tokens[k] = prompt_tokens[k].slice(0, prompt_len_input_ids);

  // Make sure prompts only have one different token at most an
  // and length only differs by 1 at most
  let num_diff_tokens = 0;
  for (let i = 0; i < Math.min(chosen_tokens.prompt_input_ids.length, rejected_tokens.prompt_input_ids.length); i++) {
    if (chosen_tokens.prompt_input_ids[i] !== rejected_tokens.prompt_input_ids[i]) num_diff_tokens++;
  }
  const num_diff_len = Math.abs(chosen_prompt_len_input_ids - rejected_prompt_len_input_ids);
  if (num_diff_tokens > 1 || num_diff_len > 1) {
    throw new TrlValueError("Chosen and rejected prompt_input_ids might only differ on the last token due to tokenizer merge ops.");
  }

  // add BOS token to head of prompt. Avoid adding if it's already there
  const bos_token_id = tok.bosId;
  if (prompt_len_input_ids === 0 || bos_token_id !== prompt_tokens.prompt_input_ids[0]) {
    prompt_tokens.prompt_input_ids = [bos_token_id, ...prompt_tokens.prompt_input_ids];
    prompt_tokens.prompt_attention_mask = [1, ...prompt_tokens.prompt_attention_mask];
  }
  if (chosen_prompt_len_input_ids === 0 || bos_token_id !== chosen_tokens.prompt_input_ids[0]) {
    chosen_tokens.prompt_input_ids = [bos_token_id, ...chosen_tokens.prompt_input_ids];
    chosen_tokens.prompt_attention_mask = [1, ...chosen_tokens.prompt_attention_mask];
  }
  if (rejected_prompt_len_input_ids === 0 || bos_token_id !== rejected_tokens.prompt_input_ids[0]) {
    rejected_tokens.prompt_input_ids = [bos_token_id, ...rejected_tokens.prompt_input_ids];
    rejected_tokens.prompt_attention_mask = [1, ...rejected_tokens.prompt_attention_mask];
  }

  // add EOS token to end of answer. Avoid adding if it's already there
  const eos_token_id = tok.eosId;
  if (chosen_tokens.input_ids.length === 0 || eos_token_id !== chosen_tokens.input_ids[chosen_tokens.input_ids.length - 1]) {
    chosen_tokens.input_ids.push(eos_token_id);
    chosen_tokens.attention_mask.push(1);
  }
  if (rejected_tokens.input_ids.length === 0 || eos_token_id !== rejected_tokens.input_ids[rejected_tokens.input_ids.length - 1]) {
    rejected_tokens.input_ids.push(eos_token_id);
    rejected_tokens.attention_mask.push(1);
  }

  const longer_response_length = Math.max(chosen_tokens.input_ids.length, rejected_tokens.input_ids.length);

  // if combined sequence is too long, truncate the prompt
  for (const answer_tokens of [chosen_tokens, rejected_tokens, prompt_tokens]) {
    if (answer_tokens.prompt_input_ids.length + longer_response_length > max_length) {
      if (truncation_mode === "keep_start") {
        for (const k of ["prompt_input_ids", "prompt_attention_mask"]) answer_tokens[k] = answer_tokens[k].slice(0, max_prompt_length);
      } else if (truncation_mode === "keep_end") {
        for (const k of ["prompt_input_ids", "prompt_attention_mask"]) answer_tokens[k] = answer_tokens[k].slice(-max_prompt_length);
      } else {
        throw new TrlValueError(`Unknown truncation mode: ${truncation_mode}`);
      }
    }
  }

  // if that's still too long, truncate the response
  for (const answer_tokens of [chosen_tokens, rejected_tokens]) {
    if (answer_tokens.prompt_input_ids.length + longer_response_length > max_length) {
      for (const k of ["input_ids", "attention_mask"]) answer_tokens[k] = answer_tokens[k].slice(0, max_length - max_prompt_length);
    }
  }

  // Create labels
  const chosen_sequence_tokens: Record<string, number[]> = {};
  const rejected_sequence_tokens: Record<string, number[]> = {};
  for (const k of ["input_ids", "attention_mask"]) {
    chosen_sequence_tokens[k] = [...chosen_tokens[`prompt_${k}`], ...chosen_tokens[k]];
    rejected_sequence_tokens[k] = [...rejected_tokens[`prompt_${k}`], ...rejected_tokens[k]];
  }
  chosen_sequence_tokens.labels = chosen_sequence_tokens.input_ids.slice();
  chosen_sequence_tokens.labels.splice(0, chosen_tokens.prompt_input_ids.length, ...chosen_tokens.prompt_input_ids.map(() => label_pad_token_id));
  rejected_sequence_tokens.labels = rejected_sequence_tokens.input_ids.slice();
  rejected_sequence_tokens.labels.splice(0, rejected_tokens.prompt_input_ids.length, ...rejected_tokens.prompt_input_ids.map(() => label_pad_token_id));

  for (const [k, toks] of Object.entries({ chosen_: chosen_sequence_tokens, rejected_: rejected_sequence_tokens, "": prompt_tokens })) {
    for (const [type_key, tokens] of Object.entries(toks)) batch[`${k}${type_key}`] = tokens;
  }
  return batch;
}

// ---- helpers ----

const limits = (maxLength: number, maxPromptLength: number) => ({ maxLength, maxPromptLength, truncation: "TRL" as const });

/** Ours under TRL equals the transcription token for token (ids and labels of both sequences); returns ours. */
function agrees(pair: PreferencePair, maxLength: number, maxPromptLength: number, what = "pair") {
  const ours = tokenizePair(tokenizer, pair, limits(maxLength, maxPromptLength), what);
  const trl = tokenizeRow(tokenizer, { prompt: pair.prompt, chosen: pair.responses[0], rejected: pair.responses[1] }, maxLength, maxPromptLength);
  assert.deepEqual(ours.sequences[0].ids, trl.chosen_input_ids, `${what}: chosen ids`);
  assert.deepEqual(ours.sequences[0].labels, trl.chosen_labels, `${what}: chosen labels`);
  assert.deepEqual(ours.sequences[1].ids, trl.rejected_input_ids, `${what}: rejected ids`);
  assert.deepEqual(ours.sequences[1].labels, trl.rejected_labels, `${what}: rejected labels`);
  assert.ok(trl.chosen_attention_mask.every((m) => m === 1) && trl.chosen_attention_mask.length === trl.chosen_input_ids.length);
  for (const r of [0, 1] as const) {
    assert.equal(ours.sequences[r].labels.filter((l) => l === LABEL_IGNORE).length, ours.promptLengths[r], `${what}: promptLengths[${r}]`);
    assert.ok(ours.sequences[r].ids.length <= maxLength, `${what}: fits maxLength`);
  }
  return ours;
}

const enc = (text: string) => tokenizer.encode(text, { bos: false });
const labelled = (labels: readonly number[]) => labels.filter((l) => l !== LABEL_IGNORE);

// ---- cases ----

test("TRL, short pair: untouched — BOS + enc(prompt + response) + EOS, prompt masked, equal to PREFIX_SHARED", () => {
  const pair: PreferencePair = { prompt: "Once upon a time", responses: [" there was a girl.", " a dog ran."], preferred: [0] };
  const ours = agrees(pair, 64, 32);
  assert.equal(ours.truncated, false);
  for (const r of [0, 1] as const) {
    assert.deepEqual(ours.sequences[r].ids, [BOS, ...enc(pair.prompt + pair.responses[r]), EOS]);
    assert.equal(ours.promptLengths[r], 1 + enc(pair.prompt).length);
  }
  assert.deepEqual(ours.sequences, tokenizePair(tokenizer, pair, { ...limits(64, 32), truncation: "PREFIX_SHARED" }).sequences);
});

test("TRL, prompt too long: the prompt keeps its last maxPromptLength tokens (keep_end), BOS cut with it; PREFIX_SHARED keeps BOS", () => {
  const pair: PreferencePair = { prompt: "Once upon a time there was a little girl named Lily. She loved to play", responses: [" outside.", " with her dog."], preferred: [1] };
  const promptIds = [BOS, ...enc(pair.prompt)];
  const longer = Math.max(...pair.responses.map((r) => enc(pair.prompt + r).length - enc(pair.prompt).length + 1));
  const maxPromptLength = 6;
  const maxLength = maxPromptLength + longer + 1; // responses fit once the prompt is cut
  assert.ok(promptIds.length + longer > maxLength && promptIds.length > maxPromptLength);
  const ours = agrees(pair, maxLength, maxPromptLength);
  assert.ok(ours.truncated);
  for (const r of [0, 1] as const) {
    assert.deepEqual(ours.sequences[r].ids.slice(0, ours.promptLengths[r]), promptIds.slice(-maxPromptLength));
    assert.notEqual(ours.sequences[r].ids[0], BOS, "BOS went with the cut");
    assert.deepEqual(labelled(ours.sequences[r].labels), [...enc(pair.prompt + pair.responses[r]).slice(enc(pair.prompt).length), EOS], "responses untouched");
  }
  const shared = tokenizePair(tokenizer, pair, { ...limits(maxLength, maxPromptLength), truncation: "PREFIX_SHARED" });
  assert.deepEqual(shared.sequences[0].ids.slice(0, shared.promptLengths[0]), [BOS, ...promptIds.slice(-(maxPromptLength - 1))]);
});

test("TRL, responses too long: each response cut to maxLength − maxPromptLength (EOS lost), also when the prompt was shorter than maxPromptLength", () => {
  const responses: [string, string] = [" there was a little girl named Lily who loved to play outside in the park.", " a dog."];
  const short: PreferencePair = { prompt: "Once upon a time", responses, preferred: [0] };
  const maxLength = 16;
  const maxPromptLength = 8;
  const promptTokens = 1 + enc(short.prompt).length; // 5 < maxPromptLength: nothing to cut from the prompt
  assert.ok(promptTokens < maxPromptLength);
  const ours = agrees(short, maxLength, maxPromptLength);
  assert.ok(ours.truncated);
  assert.equal(ours.sequences[0].ids.length, promptTokens + (maxLength - maxPromptLength), "budget maxLength − maxPromptLength, not maxLength − promptLength");
  assert.notEqual(ours.sequences[0].ids.at(-1), EOS);
  assert.deepEqual(ours.sequences[1].ids, [BOS, ...enc(short.prompt + responses[1]), EOS], "the short response is within the budget");
  const shared = tokenizePair(tokenizer, short, { ...limits(maxLength, maxPromptLength), truncation: "PREFIX_SHARED" });
  assert.equal(shared.sequences[0].ids.length, maxLength, "PREFIX_SHARED fills maxLength");

  const long: PreferencePair = { prompt: "Once upon a time there was a little girl named Lily. She loved to play", responses, preferred: [0] };
  const both = agrees(long, maxLength, maxPromptLength);
  assert.equal(both.promptLengths[0], maxPromptLength);
  assert.equal(both.sequences[0].ids.length, maxLength);
});

test("TRL, a token merging across the boundary in one response: each sequence keeps its own boundary (PREFIX_SHARED labels the other's extra token)", () => {
  const pair: PreferencePair = { prompt: "Once upon a the", responses: ["re was a girl.", " and then"], preferred: [0] };
  const promptIds = enc(pair.prompt);
  assert.notDeepEqual(enc(pair.prompt + pair.responses[0]).slice(0, promptIds.length), promptIds, "response 0 merges");
  assert.deepEqual(enc(pair.prompt + pair.responses[1]).slice(0, promptIds.length), promptIds, "response 1 does not");
  const ours = agrees(pair, 64, 32);
  assert.deepEqual(ours.promptLengths, [promptIds.length, promptIds.length + 1]);
  assert.deepEqual(labelled(ours.sequences[1].labels), [...enc(pair.prompt + pair.responses[1]).slice(promptIds.length), EOS]);
  const shared = tokenizePair(tokenizer, pair, { ...limits(64, 32), truncation: "PREFIX_SHARED" });
  assert.deepEqual(shared.promptLengths, [promptIds.length, promptIds.length]);
  assert.equal(labelled(shared.sequences[1].labels).length, labelled(ours.sequences[1].labels).length + 1, "the shared prompt labels the prompt's last token in response 1");
  assert.deepEqual(shared.sequences.map((s) => s.ids), ours.sequences.map((s) => s.ids), "the same ids, a different boundary");

  // A merge reaching two prompt tokens back (" t" + "im" + "e" → " time"): TRL still moves the boundary by one token
  // only, so the merged token " time" stays in the prompt (unlabelled) and the answer starts after it.
  const deep: PreferencePair = { prompt: "Once upon a tim", responses: ["e, there was", " and"], preferred: [0] };
  const deepIds = enc(deep.prompt + deep.responses[0]);
  assert.equal(tokenizer.decode([deepIds[enc(deep.prompt).length - 2]]).trim(), "time");
  const deepOurs = agrees(deep, 64, 32);
  assert.deepEqual(deepOurs.promptLengths, [enc(deep.prompt).length, enc(deep.prompt).length + 1]);
  assert.deepEqual(labelled(deepOurs.sequences[0].labels), [...deepIds.slice(enc(deep.prompt).length - 1), EOS]);

  // The truncation test runs per sequence: at maxLength = promptLength_0 + L the shorter prompt fits, the longer is cut.
  const longer = Math.max(...ours.sequences.map((s) => labelled(s.labels).length));
  const edge = agrees(pair, ours.promptLengths[0] + longer, 3);
  assert.equal(edge.promptLengths[0], ours.promptLengths[0], "sequence 0 untouched");
  assert.equal(edge.promptLengths[1], 3, "sequence 1 keeps its last 3 prompt tokens");
});

test("TRL's own errors are INVALID_PAIR naming the pair: prompt + response shorter than the prompt; prompts differing beyond the last token", () => {
  const isInvalid = (e: unknown) => e instanceof PairError && e.code === "INVALID_PAIR" && /row 3/.test(e.message);
  const shorter: PreferencePair = { prompt: "Once upon a tim", responses: ["e", " and"], preferred: [0] };
  assert.throws(() => tokenizeRow(tokenizer, { prompt: shorter.prompt, chosen: "e", rejected: " and" }, 64, 32), TrlValueError);
  assert.throws(() => tokenizePair(tokenizer, shorter, limits(64, 32), "row 3"), isInvalid);
  const apart: PreferencePair = { prompt: "Once upon a littl", responses: ["e girl", " dog"], preferred: [0] };
  assert.throws(() => tokenizeRow(tokenizer, { prompt: apart.prompt, chosen: "e girl", rejected: " dog" }, 64, 32), /might only differ on the last token/);
  assert.throws(() => tokenizePair(tokenizer, apart, limits(64, 32), "row 3"), isInvalid);
  assert.doesNotThrow(() => tokenizePair(tokenizer, apart, { ...limits(64, 32), truncation: "PREFIX_SHARED" }));
  assert.throws(() => tokenizePair(tokenizer, apart, { ...limits(64, 32), truncation: "KEEP_START" as never }), (e: unknown) => e instanceof PairError && e.code === "INVALID_OPTIONS" && /truncation/.test(e.message));
});

function hhPairs(file: string, count: number): PreferencePair[] {
  const lines = gunzipSync(readFileSync(new URL(`hh-rlhf/${file}`, data))).toString("utf8").split("\n").slice(0, count);
  return lines.map((line) => {
    const row = JSON.parse(line) as { chosen: string; rejected: string };
    const prompt = row.chosen.slice(0, row.chosen.lastIndexOf("\n\nAssistant:") + "\n\nAssistant:".length);
    return { prompt, responses: [row.chosen.slice(prompt.length), row.rejected.slice(prompt.length)], preferred: [0] };
  });
}

test("TRL on real HH-RLHF pairs: token for token with TRL at 1024/512, 128/64 and 48/24; without truncation equal to PREFIX_SHARED", () => {
  const pairs = [...hhPairs("helpful-base.test.jsonl.gz", 100), ...hhPairs("harmless-base.test.jsonl.gz", 100)];
  let cut = 0;
  let promptCut = 0;
  for (const [i, pair] of pairs.entries()) {
    const full = agrees(pair, 1024, 512, `HH pair ${i}`);
    if (!full.truncated) assert.deepEqual(full.sequences, tokenizePair(tokenizer, pair, { ...limits(1024, 512), truncation: "PREFIX_SHARED" }).sequences, `HH pair ${i}`);
    for (const [maxLength, maxPromptLength] of [[128, 64], [48, 24]]) {
      const ours = agrees(pair, maxLength, maxPromptLength, `HH pair ${i} at ${maxLength}`);
      if (ours.truncated) cut++;
      if (ours.sequences[0].ids[0] !== BOS) promptCut++;
    }
  }
  assert.ok(cut > 100 && promptCut > 50, `the short limits exercise truncation (${cut} truncated, ${promptCut} prompts cut)`);
  // One pair in full: the first helpful-base row at 48/24, both responses cut and the prompt's last 24 tokens kept.
  const [first] = pairs;
  const ours = tokenizePair(tokenizer, first, limits(48, 24));
  const prompt = [BOS, ...enc(first.prompt)].slice(-24);
  for (const r of [0, 1] as const) {
    const response = [...enc(first.prompt + first.responses[r]).slice(enc(first.prompt).length), EOS];
    const keep = prompt.length + Math.max(...first.responses.map((x) => enc(first.prompt + x).length - enc(first.prompt).length + 1)) > 48 ? response.slice(0, 24) : response;
    assert.deepEqual(ours.sequences[r].ids, [...prompt, ...keep], `response ${r}`);
  }
});

test("TRL on PKU-SafeRLHF rows with PARM's prompt format: token for token with TRL", () => {
  const rows = readFileSync(new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", data), "utf8").trim().split("\n").map((line) => JSON.parse(line));
  for (const [i, row] of rows.entries()) {
    const pair: PreferencePair = {
      prompt: `BEGINNING OF CONVERSATION: USER: ${row.prompt} ASSISTANT:`,
      responses: [row.response_0, row.response_1],
      preferred: [row.safer_response_id, row.better_response_id],
    };
    for (const [maxLength, maxPromptLength] of [[1024, 512], [256, 128], [64, 32]]) agrees(pair, maxLength, maxPromptLength, `PKU row ${i} at ${maxLength}`);
  }
});
