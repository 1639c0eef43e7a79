/** @module engine/model/tokenizer
 * The tokenizer contract shared by the GGUF (SentencePiece-BPE, llama2.c run.c semantics) and HF
 * (`tokenizer.json`) implementations; `digest` is the vocabulary digest of formats/vocabulary.ts (re-exported
 * here), the one the api stores as `Model.tokenizerHash`.
 */
import { EngineError, type CategoryByCode } from "../util/errors.ts";

export { vocabularyDigest } from "../../../formats/index.ts";

export interface EncodeOptions {
  /** Prepend the BOS id (default true). */
  readonly bos?: boolean;
}

/** Turns generated ids into text as they arrive. `push` returns only text that is final: bytes of an incomplete
 *  UTF-8 sequence are held back until the sequence completes; `flush` returns whatever is held (invalid
 *  sequences become U+FFFD). Concatenating every `push` result and `flush()` equals `decode(allIds)`. */
export interface StreamDecoder {
  push(id: number): string;
  flush(): string;
}

export interface Tokenizer {
  readonly kind: "sentencepiece-bpe" | "hf-tokenizer-json";
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  /** `vocabularyDigest` of the pieces, id order. */
  readonly digest: string;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[]): string;
  createStreamDecoder(): StreamDecoder;
  /** The vocabulary piece of `id` as stored (e.g. `▁Once`, `<0x0A>`), or undefined when out of range. */
  idToPiece(id: number): string | undefined;
}

export type TokenizerErrorCode = "TOKEN_ID_OUT_OF_RANGE" | "INVALID_VOCABULARY" | "UNSUPPORTED_TOKENIZER";

export class TokenizerError extends EngineError<TokenizerErrorCode> {
  static override readonly category: CategoryByCode<TokenizerErrorCode> = {
    TOKEN_ID_OUT_OF_RANGE: "internal",
    INVALID_VOCABULARY: "model-unavailable",
    UNSUPPORTED_TOKENIZER: "model-unavailable",
  };
}

export function assertTokenIds(ids: readonly number[], vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new TokenizerError("TOKEN_ID_OUT_OF_RANGE", `token id ${id} at position ${i} is outside [0, ${vocabSize})`);
    }
  }
}

/** A stream decoder for tokenizers that can only decode whole sequences: it re-decodes a short window of recent
 *  ids and emits the new suffix, holding text back while it ends in U+FFFD (an incomplete byte sequence). */
export function createWindowedStreamDecoder(decode: (ids: readonly number[]) => string): StreamDecoder {
  const ids: number[] = [];
  let prefixStart = 0;
  let readStart = 0;
  return {
    push(id: number): string {
      ids.push(id);
      const prefixText = decode(ids.slice(prefixStart, readStart));
      const fullText = decode(ids.slice(prefixStart));
      if (fullText.length > prefixText.length && !fullText.endsWith("\uFFFD") && fullText.startsWith(prefixText)) {
        const emitted = fullText.slice(prefixText.length);
        prefixStart = readStart;
        readStart = ids.length;
        return emitted;
      }
      return "";
    },
    flush(): string {
      const prefixText = decode(ids.slice(prefixStart, readStart));
      const fullText = decode(ids.slice(prefixStart));
      prefixStart = readStart = ids.length;
      return fullText.startsWith(prefixText) ? fullText.slice(prefixText.length) : fullText;
    },
  };
}
