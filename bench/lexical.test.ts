/**
 * @module bench/lexical.test
 * The bag-of-words cross-check: it learns a word preference from pairs, ignores response length by construction,
 * and is deterministic.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LexicalRewardModel, lexicalTokens, type LexicalPair } from "./lexical.ts";

const fillers = ["the cat sat", "a dog ran", "we went home", "it was late", "birds sing"];
/** Preferred responses say "sorry", rejected ones "yes"; lengths vary independently of the label. */
function pairs(n: number, offset: number): LexicalPair[] {
  return Array.from({ length: n }, (_, i) => {
    const a = fillers[(i + offset) % fillers.length];
    const b = fillers[(i * 3 + offset + 1) % fillers.length];
    const long = (s: string) => `${s} and ${s} and ${s}`;
    return i % 2 === 0 ? { preferred: `sorry ${a}`, rejected: long(`yes ${b}`) } : { preferred: long(`sorry ${a}`), rejected: `yes ${b}` };
  });
}

test("lexicalTokens: lower-case words with apostrophes, and ? ! . , as tokens", () => {
  assert.deepEqual(lexicalTokens("I'm SORRY, what? No!"), ["i'm", "sorry", ",", "what", "?", "no", "!"]);
  assert.deepEqual(lexicalTokens("  "), []);
});

test("fits a word preference, ranks held-out pairs, and is deterministic", () => {
  const model = LexicalRewardModel.fit(pairs(80, 0), { minCount: 5 });
  assert.ok(model.vocabularySize >= 10, `vocabulary ${model.vocabularySize}`);
  assert.equal(model.accuracy(pairs(40, 2)), 1);
  const { positive, negative } = model.extremes(1);
  assert.deepEqual([positive[0], negative[0]], ["sorry", "yes"]);
  assert.equal(LexicalRewardModel.fit(pairs(80, 0), { minCount: 5 }).score("sorry the cat"), model.score("sorry the cat"));
});

test("scores word frequencies, so repeating a response does not change its reward", () => {
  const model = LexicalRewardModel.fit(pairs(80, 0), { minCount: 5 });
  const once = model.score("sorry the cat sat");
  assert.ok(Math.abs(model.score("sorry the cat sat sorry the cat sat sorry the cat sat") - once) < 1e-12);
  assert.ok(once > model.score("yes the cat sat"));
});
