/**
 * @module engine/evaluate/test-fixtures
 * Test helpers for the evaluate folder: a tiny random LLaMA model with a character tokenizer (ids 3.. are the
 * characters of an alphabet; 1 = BOS, 2 = EOS) and a synthetic preference task a reward model can learn.
 */
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import { randomTinyWeights, tinyConfig } from "../model/arm-graph-reference.ts";
import { mulberry32 } from "../onnx/index.ts";
import type { PairTokenizer, PreferencePair } from "../train/pairs.ts";

export const ALPHABET = "abcdefghijklmnopqrstuvwxyz .!?";

export interface TinyModel {
  readonly config: LlamaConfig;
  readonly weights: ModelWeights;
  readonly tokenizer: PairTokenizer & { decode(ids: readonly number[]): string };
  readonly source: { readonly sha256: string };
}

/** A tiny random model (vocab = 3 + alphabet) with a character tokenizer. */
export function tinyCharModel(seed = 3): TinyModel {
  const config = tinyConfig({ vocabSize: 3 + ALPHABET.length, maxSeqLen: 64 });
  return {
    config,
    weights: randomTinyWeights(config, mulberry32(seed)),
    tokenizer: {
      bosId: 1,
      eosId: 2,
      encode(text: string, options?: { bos?: boolean }): number[] {
        const ids = [...text].map((c) => {
          const i = ALPHABET.indexOf(c);
          if (i < 0) throw new Error(`character ${JSON.stringify(c)} is outside the test alphabet`);
          return 3 + i;
        });
        return options?.bos === false ? ids : [1, ...ids];
      },
      decode: (ids) => ids.filter((id) => id >= 3).map((id) => ALPHABET[id - 3]).join(""),
    },
    source: { sha256: "ab".repeat(32) },
  };
}

/** Pairs where the preferred response ends with "!" and the other with "?" (random order, random words). */
export function exclamationPairs(n: number, seed: number): PreferencePair[] {
  const random = mulberry32(seed);
  const word = (len: number) => Array.from({ length: len }, () => ALPHABET[Math.floor(random() * 26)]).join("");
  return Array.from({ length: n }, () => {
    const prompt = `${word(3)} ${word(2)}`;
    const good = ` ${word(2 + Math.floor(random() * 3))}!`;
    const bad = ` ${word(2 + Math.floor(random() * 3))}?`;
    const flip = random() < 0.5;
    return { prompt, responses: flip ? [bad, good] : [good, bad], preferred: [flip ? 1 : 0] };
  });
}
