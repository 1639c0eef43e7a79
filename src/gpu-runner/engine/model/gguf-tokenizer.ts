/** @module engine/model/gguf-tokenizer
 * Tokenizers from GGUF `tokenizer.ggml.*` metadata:
 * - model `llama`: SentencePiece BPE with run.c semantics (tokenizer-llama.ts);
 * - model `gpt2`: byte-level BPE (Llama 3, Qwen2, GPT-2 style). The vocabulary, merges and special tokens are
 *   turned into the equivalent `tokenizer.json` and run by `@huggingface/tokenizers`; the pre-tokenizer regex
 *   follows `tokenizer.ggml.pre` as llama.cpp does (`llama-bpe`/`llama3`, `qwen2`, `default`/`gpt-2`), other
 *   values are rejected.
 */
import { HfTokenizer } from "./tokenizer-hf.ts";
import { SentencePieceBpeTokenizer, TokenType } from "./tokenizer-llama.ts";
import { TokenizerError, type Tokenizer } from "./tokenizer.ts";

/** Metadata accessors the GGUF reader supplies (kept abstract so this module does not depend on gguf.ts). */
export interface GgufTokenizerMetadata {
  string(key: string): string | undefined;
  number(key: string): number | undefined;
  strings(key: string): string[] | undefined;
  numbers(key: string): number[] | undefined;
}

const LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function byteLevelPreTokenizer(pre: string): object {
  const split = (pattern: string) => ({
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: pattern }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  });
  switch (pre) {
    case "llama-bpe":
    case "llama3":
    case "llama-v3":
      return split(LLAMA3_PATTERN);
    case "qwen2":
      return split(QWEN2_PATTERN);
    case "default":
    case "gpt-2":
    case "gpt2":
      return { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
    default:
      throw new TokenizerError("UNSUPPORTED_TOKENIZER", `tokenizer.ggml.pre "${pre}" is not supported; supported: llama-bpe, qwen2, default`);
  }
}

/** The `tokenizer.json` equivalent of a GGUF `gpt2` (byte-level BPE) vocabulary. */
export function ggufByteLevelTokenizerJson(meta: GgufTokenizerMetadata): object {
  const tokens = meta.strings("tokenizer.ggml.tokens");
  if (!tokens) throw new TokenizerError("INVALID_VOCABULARY", "metadata key tokenizer.ggml.tokens is missing");
  const merges = meta.strings("tokenizer.ggml.merges");
  if (!merges) throw new TokenizerError("INVALID_VOCABULARY", "a gpt2 tokenizer needs tokenizer.ggml.merges");
  const types = meta.numbers("tokenizer.ggml.token_type");
  const vocab: Record<string, number> = {};
  const added: object[] = [];
  tokens.forEach((token, id) => {
    if (!Object.prototype.hasOwnProperty.call(vocab, token)) vocab[token] = id;
    const type = types?.[id];
    if (type === TokenType.control || type === TokenType.userDefined) {
      added.push({ id, content: token, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type === TokenType.control });
    }
  });
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevelPreTokenizer(meta.string("tokenizer.ggml.pre") ?? "default"),
    post_processor: null,
    decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

export function tokenizerFromGgufMetadata(meta: GgufTokenizerMetadata): Tokenizer {
  const model = meta.string("tokenizer.ggml.model");
  if (model === undefined) throw new TokenizerError("INVALID_VOCABULARY", "metadata key tokenizer.ggml.model is missing");
  const bosId = meta.number("tokenizer.ggml.bos_token_id");
  const eosId = meta.number("tokenizer.ggml.eos_token_id");
  switch (model) {
    case "llama": {
      const pieces = meta.strings("tokenizer.ggml.tokens");
      if (!pieces) throw new TokenizerError("INVALID_VOCABULARY", "metadata key tokenizer.ggml.tokens is missing");
      return new SentencePieceBpeTokenizer({
        pieces,
        scores: meta.numbers("tokenizer.ggml.scores") ?? new Array<number>(pieces.length).fill(0),
        tokenTypes: meta.numbers("tokenizer.ggml.token_type"),
        bosId: bosId ?? 1,
        eosId: eosId ?? 2,
      });
    }
    case "gpt2":
      if (eosId === undefined) throw new TokenizerError("INVALID_VOCABULARY", "a gpt2 tokenizer needs tokenizer.ggml.eos_token_id");
      return new HfTokenizer(ggufByteLevelTokenizerJson(meta), {}, { bosId, eosId });
    default:
      throw new TokenizerError("UNSUPPORTED_TOKENIZER", `tokenizer.ggml.model "${model}" is not supported; supported: llama (SentencePiece BPE), gpt2 (byte-level BPE)`);
  }
}
