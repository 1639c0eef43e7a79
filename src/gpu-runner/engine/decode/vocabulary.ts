/**
 * @module engine/decode/vocabulary
 * The shared-vocabulary rule of guided decoding (design.md §5, conventions.md §1: GenARM#1's "32000 vs 32001"):
 * a base model and every ARM guiding it must have the same tokenizer vocabulary, compared by size and
 * `vocabularyDigest` (pieces in id order). Model sizes may differ (weak-to-strong guidance).
 *
 * A model whose LM head is wider than its tokenizer (padded logits) is accepted: decoding uses the first
 * `tokenizer.vocabSize` logits, as language-model-arithmetic takes `logits[:, :len(tokenizer)]`. A head narrower
 * than the tokenizer is an error.
 */
import type { LlamaConfig } from "../model/config.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { EngineError } from "../util/errors.ts";

/** A vocabulary as compared: which model it belongs to, its size and its digest. */
export interface VocabularyIdentity {
  /** Role of the model in the request, e.g. "base", "arm", "genarm[1]". */
  readonly role: string;
  readonly size: number;
  readonly digest: string;
}

export type VocabularyErrorCode = "VOCABULARY_MISMATCH" | "HEAD_NARROWER_THAN_VOCABULARY";

/** Base and guide vocabularies differ; `base` and `guide` say how (size and digest of each). */
export class VocabularyMismatchError extends EngineError<VocabularyErrorCode> {
  static override readonly category = "vocabulary-mismatch";
  readonly base: VocabularyIdentity;
  readonly guide: VocabularyIdentity;
  constructor(code: VocabularyErrorCode, base: VocabularyIdentity, guide: VocabularyIdentity, message: string) {
    super(code, message);
    this.base = base;
    this.guide = guide;
  }
}

/** The part of a loaded model the vocabulary rule looks at. */
export interface VocabularyHolder {
  readonly config: Pick<LlamaConfig, "vocabSize">;
  readonly tokenizer: Pick<Tokenizer, "vocabSize" | "digest">;
}

export function vocabularyIdentity(role: string, model: VocabularyHolder): VocabularyIdentity {
  return { role, size: model.tokenizer.vocabSize, digest: model.tokenizer.digest };
}

function describe(v: VocabularyIdentity): string {
  return `${v.role} vocabulary (size ${v.size}, digest ${v.digest.slice(0, 16)}…)`;
}

function checkHead(role: string, model: VocabularyHolder, identity: VocabularyIdentity, base: VocabularyIdentity): void {
  if (model.config.vocabSize < model.tokenizer.vocabSize) {
    throw new VocabularyMismatchError(
      "HEAD_NARROWER_THAN_VOCABULARY",
      base,
      identity,
      `${role}: the LM head has ${model.config.vocabSize} outputs, fewer than its tokenizer's ${model.tokenizer.vocabSize} pieces`,
    );
  }
}

/**
 * Checks that every guide shares the base's vocabulary; returns the vocabulary size decoding uses (the
 * tokenizer's). Throws {@link VocabularyMismatchError} naming both vocabularies otherwise.
 */
export function assertSharedVocabulary(
  base: VocabularyHolder,
  guides: readonly { readonly role: string; readonly model: VocabularyHolder }[],
): number {
  const baseId = vocabularyIdentity("base", base);
  checkHead("base", base, baseId, baseId);
  for (const { role, model } of guides) {
    const guideId = vocabularyIdentity(role, model);
    if (guideId.size !== baseId.size || guideId.digest !== baseId.digest) {
      throw new VocabularyMismatchError(
        "VOCABULARY_MISMATCH",
        baseId,
        guideId,
        `base and ${role} must share one vocabulary: ${describe(baseId)} differs from ${describe(guideId)}`,
      );
    }
    checkHead(role, model, guideId, baseId);
  }
  return baseId.size;
}
