/** @module engine/model/tokenizer-hf
 * `tokenizer.json` tokenizers (BPE, Unigram, WordPiece; byte-level or SentencePiece-style) through
 * `@huggingface/tokenizers`, behind the engine's `Tokenizer` contract.
 *
 * encode: the library's encoding without its special-token template, then BOS prepended when asked, so BOS
 * handling is identical for every tokenizer. decode: special tokens (BOS, EOS, pad, added specials) produce no
 * text. Streaming re-decodes a short window of ids (see `createWindowedStreamDecoder`).
 */
import { Tokenizer as HfTokenizerImpl } from "@huggingface/tokenizers";
import { EngineError } from "../util/errors.ts";
import {
  assertTokenIds,
  createWindowedStreamDecoder,
  TokenizerError,
  vocabularyDigest,
  type EncodeOptions,
  type StreamDecoder,
  type Tokenizer,
} from "./tokenizer.ts";

export interface HfTokenizerOptions {
  /** Overrides the BOS/EOS found in tokenizer_config.json (e.g. config.json's bos_token_id). */
  readonly bosId?: number;
  readonly eosId?: number;
}

function specialTokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  return undefined;
}

export class HfTokenizer implements Tokenizer {
  readonly kind = "hf-tokenizer-json" as const;
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly digest: string;
  private readonly impl: HfTokenizerImpl;
  private readonly pieces: string[];

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = {}, options: HfTokenizerOptions = {}) {
    if (typeof tokenizerJson !== "object" || tokenizerJson === null || typeof (tokenizerJson as { model?: unknown }).model !== "object") {
      throw new TokenizerError("INVALID_VOCABULARY", "tokenizer.json must be an object with a `model` section");
    }
    const config = (typeof tokenizerConfig === "object" && tokenizerConfig !== null ? tokenizerConfig : {}) as Record<string, unknown>;
    try {
      this.impl = new HfTokenizerImpl(tokenizerJson, config);
    } catch (error) {
      throw new TokenizerError("UNSUPPORTED_TOKENIZER", `tokenizer.json could not be loaded: ${(error as Error).message}`, { cause: error });
    }
    const vocab = this.impl.get_vocab(true);
    let size = 0;
    for (const id of vocab.values()) size = Math.max(size, id + 1);
    if (size === 0) throw new TokenizerError("INVALID_VOCABULARY", "tokenizer.json has an empty vocabulary");
    this.pieces = new Array<string>(size).fill("");
    for (const [piece, id] of vocab) this.pieces[id] = piece;
    this.vocabSize = size;
    this.digest = vocabularyDigest(this.pieces);
    const lookup = (name: "bos_token" | "eos_token"): number | undefined => {
      const content = specialTokenContent(config[name]);
      return content === undefined ? undefined : this.impl.token_to_id(content);
    };
    const bosId = options.bosId ?? lookup("bos_token");
    const eosId = options.eosId ?? lookup("eos_token");
    if (eosId === undefined) throw new TokenizerError("INVALID_VOCABULARY", "no EOS token: set eos_token in tokenizer_config.json or eos_token_id in config.json");
    this.eosId = eosId;
    // Models without a BOS (e.g. Qwen2) use EOS in its place; `encode(..., { bos: false })` avoids it.
    this.bosId = bosId ?? eosId;
    assertTokenIds([this.bosId, this.eosId], this.vocabSize);
  }

  idToPiece(id: number): string | undefined {
    return this.impl.id_to_token(id);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new EngineError("INVALID_ARGUMENT", "encode expects a string");
    const ids = text.length === 0 ? [] : this.impl.encode(text, { add_special_tokens: false }).ids;
    return options.bos ?? true ? [this.bosId, ...ids] : ids;
  }

  decode(ids: readonly number[]): string {
    assertTokenIds(ids, this.vocabSize);
    if (ids.length === 0) return "";
    return this.impl.decode([...ids], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  createStreamDecoder(): StreamDecoder {
    return createWindowedStreamDecoder((ids) => this.decode(ids));
  }
}
