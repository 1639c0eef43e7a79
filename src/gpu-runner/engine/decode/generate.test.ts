/**
 * @module engine/decode/generate.test
 * createGenerator on random tiny models against a naive decoder that recomputes the float64 TypeScript reference
 * forward over the whole sequence at every step and combines with the guidance functions: plain, PARM and GenARM
 * greedy decoding; α-batched runs equal separate runs token for token; seeded sampling; stop strings, EOS,
 * max new tokens and the context limit; maxPromptTokens (long prompts keep their last tokens); streaming; weak-to-strong guidance and the shared-vocabulary error;
 * an abort signal stops a request at the next token (or before the prefill) with its partial outputs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../onnx/index.ts";
import { randomTinyWeights, referenceLogits, tinyConfig } from "../model/arm-graph-reference.ts";
import { initAdapterTensors, pbloraSpec, type AdapterSpec } from "../model/pblora.ts";
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import { vocabularyDigest, type StreamDecoder, type Tokenizer } from "../model/tokenizer.ts";
import { combineGenArm, combineParm } from "./guidance.ts";
import { argmax } from "./sampling.ts";
import type { DecodeAdapter } from "./decode-graph.ts";
import { createGenerator, GenerateRequestError, GenerationCancelledError, keepLastPromptTokens, type DecodeModel, type TokenEvent } from "./generate.ts";
import { VocabularyMismatchError } from "./vocabulary.ts";

/** A character tokenizer for the tiny models: id 0 <unk>, 1 <s>, 2 </s>, then one character per id. */
class CharTokenizer implements Tokenizer {
  readonly kind = "sentencepiece-bpe" as const;
  readonly bosId = 1;
  readonly eosId = 2;
  readonly vocabSize: number;
  readonly digest: string;
  readonly #pieces: string[];
  constructor(alphabet: string) {
    this.#pieces = ["<unk>", "<s>", "</s>", ...alphabet];
    this.vocabSize = this.#pieces.length;
    this.digest = vocabularyDigest(this.#pieces);
  }
  encode(text: string, options: { bos?: boolean } = {}): number[] {
    const ids = options.bos === false ? [] : [this.bosId];
    for (const c of text) ids.push(Math.max(0, this.#pieces.indexOf(c, 3)));
    return ids;
  }
  decode(ids: readonly number[]): string {
    return ids.map((id) => (id < 3 ? "" : this.#pieces[id])).join("");
  }
  createStreamDecoder(): StreamDecoder {
    return { push: (id) => this.decode([id]), flush: () => "" };
  }
  idToPiece(id: number): string | undefined {
    return this.#pieces[id];
  }
}

const tokenizer = new CharTokenizer("abcdefghijklmnopqrstuvwxyz .,!?012"); // 3 specials + 34 characters = 37 ids
const baseConfig = tinyConfig({ vocabSize: 37, maxSeqLen: 48 });
const base: DecodeModel = { config: baseConfig, weights: randomTinyWeights(baseConfig, mulberry32(101)), tokenizer };

/** Random adapter tensors with non-zero B and a strong preference-aware block W2 (so α visibly steers). */
function randomAdapter(config: LlamaConfig, spec: AdapterSpec, seed: number): DecodeAdapter {
  const random = mulberry32(seed);
  const tensors = initAdapterTensors(config, spec, random);
  for (const [name, data] of tensors) {
    if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = 2 * random() - 1;
    if (name.endsWith("_W2")) for (let i = 0; i < data.length; i++) data[i] *= 8;
  }
  return { spec, tensors };
}

const parmSpec = pbloraSpec({ r1: 2, r2: 2, numObjectives: 2, loraAlpha: 4 });
const parmAdapter = randomAdapter(baseConfig, parmSpec, 7);
const loraSpec: AdapterSpec = { mode: "lora", rank: 4, loraAlpha: 8, targets: ["q", "k", "v"] };
const genarmAdapters = [randomAdapter(baseConfig, loraSpec, 8), randomAdapter(baseConfig, loraSpec, 9)];

type RefGuide = { weights: ModelWeights; config: LlamaConfig; adapter?: DecodeAdapter };

/** Greedy decoding by full recomputation with the float64 reference. */
function naiveGreedy(
  prompt: number[],
  steps: number,
  guide: { kind: "none" } | { kind: "parm"; arm: RefGuide; alpha: number[]; beta: number } | { kind: "genarm"; arms: RefGuide[]; alpha: number[]; beta: number },
): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  const last = (config: LlamaConfig, weights: ModelWeights, adapter?: DecodeAdapter, alpha?: number[]) => {
    const rows = referenceLogits(config, weights, ids, adapter ? { spec: adapter.spec, tensors: adapter.tensors } : undefined, alpha);
    return Float32Array.from(rows[rows.length - 1]);
  };
  for (let s = 0; s < steps; s++) {
    const baseRow = last(baseConfig, base.weights);
    let scores: Float32Array;
    switch (guide.kind) {
      case "none":
        scores = baseRow;
        break;
      case "parm":
        scores = combineParm(baseRow, last(guide.arm.config, guide.arm.weights, guide.arm.adapter, guide.alpha), guide.beta);
        break;
      case "genarm":
        scores = combineGenArm(baseRow, guide.arms.map((a) => last(a.config, a.weights, a.adapter)), guide.alpha, guide.beta);
        break;
    }
    const token = argmax(scores);
    out.push(token);
    ids.push(token);
  }
  return out;
}

const prompt = [1, 5, 9, 14, 3];

test("plain greedy decoding equals full recomputation with the reference forward", async () => {
  const generator = createGenerator({ base, threads: 1 });
  const result = await generator.generate({ prompt: { tokenIds: prompt }, maxNewTokens: 12, eosTokenIds: [] });
  assert.equal(result.mode, "none");
  assert.equal(result.outputs.length, 1);
  assert.deepEqual(result.outputs[0].tokenIds, naiveGreedy(prompt, 12, { kind: "none" }));
  assert.equal(result.outputs[0].finishReason, "max-new-tokens");
  assert.equal(result.outputs[0].text, tokenizer.decode(result.outputs[0].tokenIds));
  assert.ok(result.timings.timeToFirstTokenMs > 0 && result.timings.msPerToken !== null && result.timings.msPerToken > 0);
  assert.equal(result.timings.steps, 12);
  await generator.release();
});

test("PARM: α-batched greedy equals separate runs token for token and the naive guided decoder", async () => {
  const generator = createGenerator({ base, arm: { model: base, adapter: parmAdapter }, threads: 1 });
  const alphas = [
    [1, 0],
    [0.5, 0.5],
    [0, 1],
  ];
  const request = { prompt: { tokenIds: prompt }, maxNewTokens: 10, beta: 0.5, eosTokenIds: [] };
  const batched = await generator.generate({ ...request, alphas });
  assert.equal(batched.mode, "parm");
  const distinct = new Set(batched.outputs.map((o) => o.tokenIds.join(",")));
  assert.ok(distinct.size >= 2, "different α must steer to different continuations");
  for (const [i, alpha] of alphas.entries()) {
    const single = await generator.generate({ ...request, alphas: [alpha] });
    assert.deepEqual(batched.outputs[i].tokenIds, single.outputs[0].tokenIds, `α ${alpha}`);
    assert.deepEqual(batched.outputs[i].alpha, alpha);
    const naive = naiveGreedy(prompt, 10, { kind: "parm", arm: { config: baseConfig, weights: base.weights, adapter: parmAdapter }, alpha, beta: 0.5 });
    assert.deepEqual(batched.outputs[i].tokenIds, naive, `naive α ${alpha}`);
  }
  const unguided = await generator.generate({ ...request, alphas: [[0.5, 0.5]], beta: Infinity });
  assert.deepEqual(unguided.outputs[0].tokenIds, naiveGreedy(prompt, 10, { kind: "none" }), "β = ∞ is the base model");
  await generator.release();
});

test("GenARM with k = 2 LoRA ARMs: batched equals separate runs and the naive decoder", async () => {
  const generator = createGenerator({ base, arm: { genarm: genarmAdapters.map((adapter) => ({ model: base, adapter })) }, threads: 1 });
  assert.equal(generator.objectives, 2);
  const alphas = [
    [0.2, 0.8],
    [0.9, 0.1],
  ];
  const request = { prompt: { tokenIds: prompt }, maxNewTokens: 8, beta: 0.5, eosTokenIds: [] };
  const batched = await generator.generate({ ...request, alphas });
  for (const [i, alpha] of alphas.entries()) {
    const single = await generator.generate({ ...request, alphas: [alpha] });
    assert.deepEqual(batched.outputs[i].tokenIds, single.outputs[0].tokenIds);
    const arms = genarmAdapters.map((adapter) => ({ config: baseConfig, weights: base.weights, adapter }));
    assert.deepEqual(batched.outputs[i].tokenIds, naiveGreedy(prompt, 8, { kind: "genarm", arms, alpha, beta: 0.5 }));
  }
  await generator.release();
});

test("weak-to-strong: a smaller ARM backbone guides the base when the vocabulary matches", async () => {
  const smallConfig = tinyConfig({ vocabSize: 37, dim: 8, nHeads: 2, nKvHeads: 1, headDim: 4, ffnDim: 12, nLayers: 1, maxSeqLen: 40 });
  const small: DecodeModel = { config: smallConfig, weights: randomTinyWeights(smallConfig, mulberry32(55)), tokenizer };
  const adapter = randomAdapter(smallConfig, parmSpec, 12);
  const generator = createGenerator({ base, arm: { model: small, adapter }, threads: 1 });
  const result = await generator.generate({ prompt: { tokenIds: prompt }, alphas: [[0.3, 0.7]], maxNewTokens: 6, eosTokenIds: [] });
  const naive = naiveGreedy(prompt, 6, { kind: "parm", arm: { config: smallConfig, weights: small.weights, adapter }, alpha: [0.3, 0.7], beta: 1 });
  assert.deepEqual(result.outputs[0].tokenIds, naive);
  await generator.release();

  const otherTokenizer = new CharTokenizer("zyxwvutsrqponmlkjihgfedcba .,!?012");
  const foreign: DecodeModel = { ...small, tokenizer: otherTokenizer };
  assert.throws(
    () => createGenerator({ base, arm: { model: foreign, adapter } }),
    (e: unknown) =>
      e instanceof VocabularyMismatchError &&
      e.code === "VOCABULARY_MISMATCH" &&
      e.message.includes(`base vocabulary (size 37, digest ${tokenizer.digest.slice(0, 16)}`) &&
      e.message.includes(`arm vocabulary (size 37, digest ${otherTokenizer.digest.slice(0, 16)}`),
  );
});

test("seeded sampling: same seed, same tokens (batched or not); another seed differs", async () => {
  const generator = createGenerator({ base, arm: { model: base, adapter: parmAdapter }, threads: 1 });
  const request = { prompt: { tokenIds: prompt }, maxNewTokens: 16, eosTokenIds: [], alphas: [[0.4, 0.6]] };
  const sampling = (seed: number) => ({ kind: "sample" as const, temperature: 4, topK: 20, topP: 0.98, seed });
  const a = await generator.generate({ ...request, sampling: sampling(42) });
  const b = await generator.generate({ ...request, sampling: sampling(42) });
  const c = await generator.generate({ ...request, sampling: sampling(43) });
  assert.deepEqual(a.outputs[0].tokenIds, b.outputs[0].tokenIds);
  assert.notDeepEqual(a.outputs[0].tokenIds, c.outputs[0].tokenIds);
  const batched = await generator.generate({ ...request, alphas: [[1, 0], [0.4, 0.6]], sampling: sampling(42) });
  assert.deepEqual(batched.outputs[1].tokenIds, a.outputs[0].tokenIds);
  const greedy = await generator.generate({ ...request });
  assert.notDeepEqual(greedy.outputs[0].tokenIds, a.outputs[0].tokenIds);
  await generator.release();
});

test("rowSeedOffsets: repeated α rows with offsets 0, 1 are the runs seeded seed and seed + 1; malformed offsets are refused", async () => {
  const generator = createGenerator({ base, arm: { model: base, adapter: parmAdapter }, threads: 1 });
  const request = { prompt: { tokenIds: prompt }, maxNewTokens: 16, eosTokenIds: [] };
  const sampling = (seed: number) => ({ kind: "sample" as const, temperature: 4, topK: 20, topP: 0.98, seed });
  const alpha = [0.4, 0.6];
  const batch = await generator.generate({ ...request, alphas: [alpha, alpha], rowSeedOffsets: [0, 1], sampling: sampling(42) });
  const first = await generator.generate({ ...request, alphas: [alpha], sampling: sampling(42) });
  const second = await generator.generate({ ...request, alphas: [alpha], sampling: sampling(43) });
  assert.deepEqual(batch.outputs[0].tokenIds, first.outputs[0].tokenIds);
  assert.deepEqual(batch.outputs[1].tokenIds, second.outputs[0].tokenIds);
  assert.notDeepEqual(batch.outputs[0].tokenIds, batch.outputs[1].tokenIds, "two independent samples");
  await assert.rejects(generator.generate({ ...request, alphas: [alpha, alpha], rowSeedOffsets: [0], sampling: sampling(42) }), /rowSeedOffsets must hold one safe integer per row \(2\)/);
  await generator.release();
});

test("stop strings, EOS, max new tokens and the context limit end rows; streamed text equals the output", async () => {
  const generator = createGenerator({ base, threads: 1 });
  const reference = await generator.generate({ prompt: { tokenIds: prompt }, maxNewTokens: 20, eosTokenIds: [] });
  const text = reference.outputs[0].text;
  assert.equal(text.length, 20, "every generated id is a character here");
  // A stop string taken from the middle of the reference text.
  const stopString = text.slice(6, 8);
  const events: TokenEvent[] = [];
  const stopped = await generator.generate({ prompt: { tokenIds: prompt }, maxNewTokens: 20, eosTokenIds: [], stop: [stopString] }, (e) => events.push(e));
  const out = stopped.outputs[0];
  assert.equal(out.finishReason, "stop-string");
  assert.equal(out.text, text.slice(0, text.indexOf(stopString)));
  assert.equal(events.map((e) => e.text).join(""), out.text);
  assert.equal(events[events.length - 1].finishReason, "stop-string");
  assert.deepEqual(events.map((e) => e.step), events.map((_, i) => i));
  // EOS: make the 4th generated token the EOS id.
  const eosId = reference.outputs[0].tokenIds[3];
  const withEos = await generator.generate({ prompt: { tokenIds: prompt }, maxNewTokens: 20, eosTokenIds: [eosId] });
  const firstEos = reference.outputs[0].tokenIds.indexOf(eosId);
  assert.equal(withEos.outputs[0].finishReason, "eos");
  assert.deepEqual(withEos.outputs[0].tokenIds, reference.outputs[0].tokenIds.slice(0, firstEos + 1));
  assert.equal(withEos.outputs[0].text, text.slice(0, firstEos));
  // Context: 48 positions, prompt 5 → at most 43 new tokens.
  const long = await generator.generate({ prompt: { tokenIds: prompt }, maxNewTokens: 100, eosTokenIds: [] });
  assert.equal(long.outputs[0].tokenIds.length, 43);
  assert.equal(long.outputs[0].finishReason, "context-length");
  assert.deepEqual(long.outputs[0].tokenIds.slice(0, 20), reference.outputs[0].tokenIds);
  // A text prompt is encoded with the base tokenizer (BOS first).
  const fromText = await generator.generate({ prompt: "dhm", maxNewTokens: 3, eosTokenIds: [] });
  assert.deepEqual(fromText.promptTokenIds, [1, 6, 10, 15]);
  await generator.release();
});

test("bad requests are typed errors naming the field", async () => {
  const generator = createGenerator({ base, arm: { model: base, adapter: parmAdapter }, threads: 1 });
  const ok = { prompt: { tokenIds: prompt }, maxNewTokens: 2 };
  const rejects = (request: object, code: string, pattern: RegExp) =>
    assert.rejects(generator.generate(request as never), (e: unknown) => e instanceof GenerateRequestError && e.code === code && pattern.test(e.message));
  await rejects({ ...ok }, "INVALID_ALPHA", /at least one preference vector/);
  await rejects({ ...ok, alphas: [[0.5, 0.3, 0.2]] }, "INVALID_ALPHA", /alphas\[0\] must hold 2 weights/);
  await rejects({ ...ok, alphas: [[0.5, -1]] }, "INVALID_ALPHA", /alphas\[0\]\[1\] is -1/);
  await rejects({ ...ok, alphas: [[0.5, 0.5]], beta: 0 }, "INVALID_BETA", /beta must be > 0/);
  await rejects({ ...ok, alphas: [[0.5, 0.5]], maxNewTokens: 0 }, "INVALID_REQUEST", /maxNewTokens/);
  await rejects({ ...ok, alphas: [[0.5, 0.5]], prompt: { tokenIds: [] } }, "INVALID_REQUEST", /prompt is empty/);
  await rejects({ ...ok, alphas: [[0.5, 0.5]], prompt: { tokenIds: [1, 40] } }, "INVALID_REQUEST", /prompt token 1 is 40/);
  await rejects({ ...ok, alphas: [[0.5, 0.5]], prompt: { tokenIds: new Array<number>(48).fill(3) } }, "PROMPT_TOO_LONG", /48 tokens/);
  // 40 + 9 > 48: refused when the request requires every new token, cut to context-length otherwise.
  const fits = { ...ok, alphas: [[0.5, 0.5]], prompt: { tokenIds: new Array<number>(40).fill(3) }, maxNewTokens: 9, eosTokenIds: [] };
  await rejects({ ...fits, requireMaxNewTokens: true }, "PROMPT_TOO_LONG", /40 tokens and maxNewTokens is 9: together more than the context of 48/);
  assert.equal((await generator.generate({ ...fits, maxNewTokens: 8, requireMaxNewTokens: true })).outputs[0].tokenIds.length, 8);
  assert.equal((await generator.generate(fits)).outputs[0].finishReason, "context-length");
  assert.throws(() => createGenerator({ base, arm: { model: base, adapter: genarmAdapters[0] } }), /needs a PBLoRA adapter/);
  assert.throws(() => createGenerator({ base, arm: { genarm: [{ model: base, adapter: parmAdapter }] } }), /single-objective/);
  await generator.release();
});

test("maxPromptTokens: a longer prompt keeps its last tokens (BOS stays first and counts), as if given cut", async () => {
  assert.deepEqual(keepLastPromptTokens([1, 5, 6, 7, 8], 3, 1), [1, 7, 8]);
  assert.deepEqual(keepLastPromptTokens([5, 6, 7, 8], 3, 1), [6, 7, 8]);
  assert.deepEqual(keepLastPromptTokens([1, 5, 6], 1, 1), [1]);
  const short = [1, 5];
  assert.equal(keepLastPromptTokens(short, 3, 1), short);
  assert.throws(() => keepLastPromptTokens(short, 0, 1), (e: unknown) => e instanceof GenerateRequestError && /maxPromptTokens/.test(e.message));

  const generator = createGenerator({ base, arm: { model: base, adapter: parmAdapter }, threads: 1 });
  assert.equal(generator.context, 48);
  const text = "the quick brown fox jumps over the lazy dog, then naps. ok!"; // 59 characters + BOS: beyond the context
  const request = { alphas: [[0.3, 0.7]], maxNewTokens: 6, eosTokenIds: [] };
  await assert.rejects(generator.generate({ ...request, prompt: text }), (e: unknown) => e instanceof GenerateRequestError && e.code === "PROMPT_TOO_LONG");
  const cut = await generator.generate({ ...request, prompt: text, maxPromptTokens: 42 });
  const expectedIds = [1, ...tokenizer.encode(text, { bos: false }).slice(-41)];
  assert.deepEqual(cut.promptTokenIds, expectedIds);
  const direct = await generator.generate({ ...request, prompt: { tokenIds: expectedIds } });
  assert.deepEqual(cut.outputs[0].tokenIds, direct.outputs[0].tokenIds);
  assert.equal(cut.outputs[0].tokenIds.length, 6);
  await generator.release();
});

test("a head wider than the tokenizer (padded vocabulary) decodes over the tokenizer's ids only", async () => {
  const narrow = new CharTokenizer("abcdefghijklmnopqrstuvwxyz .,!?"); // 34 ids, head has 37
  const padded: DecodeModel = { ...base, tokenizer: narrow };
  const generator = createGenerator({ base: padded, threads: 1 });
  assert.equal(generator.vocabSize, 34);
  const result = await generator.generate({ prompt: { tokenIds: prompt }, maxNewTokens: 10, eosTokenIds: [] });
  const ids = [...prompt];
  const expected: number[] = [];
  for (let s = 0; s < 10; s++) {
    const rows = referenceLogits(baseConfig, base.weights, ids);
    const token = argmax(Float32Array.from(rows[rows.length - 1].subarray(0, 34)));
    expected.push(token);
    ids.push(token);
  }
  assert.deepEqual(result.outputs[0].tokenIds, expected);
  await generator.release();
});

test("signal: an abort stops guided α-batched generation at the next token with each row's partial output", async () => {
  const generator = createGenerator({ base, arm: { model: base, adapter: parmAdapter }, threads: 1 });
  const controller = new AbortController();
  const streamed: TokenEvent[] = [];
  const request = { prompt: { tokenIds: prompt }, alphas: [[1, 0], [0.5, 0.5], [0, 1]], maxNewTokens: 30, eosTokenIds: [], signal: controller.signal };
  const stopped = await generator.generate(request, (e) => {
    streamed.push(e);
    if (e.step === 4 && e.index === 2) controller.abort("cancel");
  }).then(
    () => assert.fail("an aborted generation must not complete"),
    (error: unknown) => error,
  );
  assert.ok(stopped instanceof GenerationCancelledError, String(stopped));
  assert.equal(stopped.code, "CANCELLED");
  assert.match(stopped.message, /between tokens, after 5 of 30 tokens per row/);
  assert.equal(streamed.length, 15, "no token after the step in which the signal aborted");
  const full = await generator.generate({ ...request, signal: undefined, maxNewTokens: 5 });
  assert.deepEqual(stopped.partial.map((p) => p.tokenIds), full.outputs.map((o) => o.tokenIds), "partial outputs are the tokens streamed so far");
  assert.deepEqual(stopped.partial.map((p) => p.alpha), request.alphas);
  await generator.release();
});

test("signal: an already aborted signal stops unguided generation before the prefill", async () => {
  const generator = createGenerator({ base, threads: 1 });
  const controller = new AbortController();
  controller.abort();
  let tokens = 0;
  await assert.rejects(
    generator.generate({ prompt: { tokenIds: prompt }, maxNewTokens: 10, signal: controller.signal }, () => tokens++),
    (e: unknown) => e instanceof GenerationCancelledError && /before the prefill, after 0 of 10/.test(e.message) && e.partial[0].tokenIds.length === 0,
  );
  assert.equal(tokens, 0);
  const result = await generator.generate({ prompt: { tokenIds: prompt }, maxNewTokens: 3, eosTokenIds: [] });
  assert.equal(result.outputs[0].tokenIds.length, 3, "the generator stays usable after a cancelled request");
  await generator.release();
});
