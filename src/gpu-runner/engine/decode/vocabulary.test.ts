/**
 * @module engine/decode/vocabulary.test
 * The shared-vocabulary rule: equal vocabularies pass (also across model sizes and with a padded head), a
 * different size or digest is a VocabularyMismatchError naming both vocabularies, a narrow head is rejected.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { vocabularyDigest } from "../model/tokenizer.ts";
import { assertSharedVocabulary, VocabularyMismatchError, type VocabularyHolder } from "./vocabulary.ts";

const pieces = ["<unk>", "<s>", "</s>", "a", "b", "c"];
const holder = (p: readonly string[], headSize = p.length): VocabularyHolder => ({
  config: { vocabSize: headSize },
  tokenizer: { vocabSize: p.length, digest: vocabularyDigest(p) },
});

test("equal vocabularies pass and the decoding vocabulary is the tokenizer's (padded heads allowed)", () => {
  assert.equal(assertSharedVocabulary(holder(pieces), [{ role: "arm", model: holder(pieces, 8) }]), 6);
  assert.equal(assertSharedVocabulary(holder(pieces, 7), []), 6);
});

test("a different size names both vocabularies with size and digest", () => {
  const longer = [...pieces, "d"];
  assert.throws(
    () => assertSharedVocabulary(holder(pieces), [{ role: "genarm[1]", model: holder(longer) }]),
    (e: unknown) => {
      assert.ok(e instanceof VocabularyMismatchError);
      assert.equal(e.code, "VOCABULARY_MISMATCH");
      assert.deepEqual([e.base.size, e.guide.size], [6, 7]);
      assert.equal(e.guide.role, "genarm[1]");
      assert.match(e.message, new RegExp(`base vocabulary \\(size 6, digest ${vocabularyDigest(pieces).slice(0, 16)}`));
      assert.match(e.message, new RegExp(`genarm\\[1\\] vocabulary \\(size 7, digest ${vocabularyDigest(longer).slice(0, 16)}`));
      return true;
    },
  );
});

test("same size but different pieces is a digest mismatch; a head narrower than the tokenizer is rejected", () => {
  const swapped = ["<unk>", "<s>", "</s>", "b", "a", "c"];
  assert.throws(() => assertSharedVocabulary(holder(pieces), [{ role: "arm", model: holder(swapped) }]), (e: unknown) => e instanceof VocabularyMismatchError && e.base.digest !== e.guide.digest);
  assert.throws(
    () => assertSharedVocabulary(holder(pieces), [{ role: "arm", model: holder(pieces, 5) }]),
    (e: unknown) => e instanceof VocabularyMismatchError && e.code === "HEAD_NARROWER_THAN_VOCABULARY" && /5 outputs, fewer than its tokenizer's 6/.test(e.message),
  );
});
