/** @module formats/vocabulary.test — the vocabulary digest's definition and tokenizer.json token lists. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { tokensFromTokenizerJson, vocabularyDigest } from "./vocabulary.ts";

test("the digest is sha256 over u32-LE byte length + UTF-8 bytes of each piece, in id order", () => {
  const expected = createHash("sha256")
    .update(Buffer.from([1, 0, 0, 0])).update("a")
    .update(Buffer.from([0, 0, 0, 0]))
    .update(Buffer.from([4, 0, 0, 0])).update("▁b", "utf8")
    .digest("hex");
  assert.equal(vocabularyDigest(["a", "", "▁b"]), expected);
  // Length prefixes keep piece boundaries: ["ab", ""] and ["a", "b"] differ (a NUL terminator would too, but a
  // piece containing NUL could not be told apart).
  assert.notEqual(vocabularyDigest(["ab", ""]), vocabularyDigest(["a", "b"]));
  assert.notEqual(vocabularyDigest(["a\u0000", "b"]), vocabularyDigest(["a", "\u0000b"]));
  assert.notEqual(vocabularyDigest(["a", "b"]), vocabularyDigest(["b", "a"]));
});

test("tokenizer.json: vocab maps, Unigram lists, added tokens, plain token arrays; unusable layouts are null", () => {
  assert.deepEqual(tokensFromTokenizerJson({ model: { vocab: { a: 0, c: 2 } }, added_tokens: [{ id: 3, content: "<eos>" }] }), ["a", "", "c", "<eos>"]);
  assert.deepEqual(tokensFromTokenizerJson({ model: { vocab: [["x", -1], ["y", -2]] } }), ["x", "y"]);
  assert.deepEqual(tokensFromTokenizerJson({ tokens: ["p", "q"] }), ["p", "q"]);
  assert.equal(tokensFromTokenizerJson({ model: { vocab: {} } }), null);
  assert.equal(tokensFromTokenizerJson({ model: { vocab: { a: 1.5 } } }), null);
  assert.equal(tokensFromTokenizerJson({ model: { vocab: { a: 2 ** 30 } } }), null);
  assert.equal(tokensFromTokenizerJson("nope"), null);
});
