/** @module engine/model/tokenizer-llama
 * The SentencePiece-BPE tokenizer of llama2.c `run.c`, built from a GGUF `tokenizer.ggml.*` vocabulary
 * (pieces, scores, token types).
 *
 * Encode (run.c `encode`): optional BOS; for non-empty text the dummy prefix `▁`; every space becomes `▁`; each
 * code point maps to its piece, or to its UTF-8 bytes as byte-fallback ids (the `<0xNN>` piece, which is byte + 3
 * in llama vocabularies); then the adjacent pair whose concatenation is a piece with the highest score is merged,
 * leftmost on ties, until no pair merges. Control, unknown and byte pieces never match text, so a literal `<s>`
 * in user text cannot produce BOS.
 * Decode (run.c `decode`): control pieces (BOS, EOS) produce no text; a piece right after BOS loses one leading
 * space; `▁` becomes a space; `<0xNN>` contributes the raw byte, and bytes are UTF-8 decoded across tokens.
 */
import { EngineError } from "../util/errors.ts";
import {
  assertTokenIds,
  TokenizerError,
  vocabularyDigest,
  type EncodeOptions,
  type StreamDecoder,
  type Tokenizer,
} from "./tokenizer.ts";

/** GGUF `tokenizer.ggml.token_type` values (llama.cpp `llama_token_type`). */
export const TokenType = {
  undefined: 0,
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

export interface SentencePieceVocabulary {
  readonly pieces: readonly string[];
  readonly scores: readonly number[];
  /** Per-piece `TokenType`; when absent, `<0xNN>` pieces count as bytes and `<s>`, `</s>`, `<unk>` as special. */
  readonly tokenTypes?: readonly number[];
  readonly bosId: number;
  readonly eosId: number;
}

const SPACE_PIECE = "\u2581";
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

function inferTokenType(piece: string): number {
  if (BYTE_PIECE.test(piece)) return TokenType.byte;
  if (piece === "<s>" || piece === "</s>") return TokenType.control;
  if (piece === "<unk>") return TokenType.unknown;
  return TokenType.normal;
}

export class SentencePieceBpeTokenizer implements Tokenizer {
  readonly kind = "sentencepiece-bpe" as const;
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly digest: string;
  private readonly pieces: readonly string[];
  private readonly scores: Float64Array;
  private readonly types: Uint8Array;
  /** text piece → id, normal and user-defined pieces only (first id wins on duplicates). */
  private readonly pieceIds = new Map<string, number>();
  /** byte value → id of its `<0xNN>` piece, or -1. */
  private readonly byteIds = new Int32Array(256).fill(-1);
  /** id → byte value for byte pieces, or -1. */
  private readonly idBytes: Int16Array;
  /** id → UTF-8 bytes of the piece with `▁` replaced by a space (empty for control pieces). */
  private readonly decodedBytes: Uint8Array[];

  constructor(vocabulary: SentencePieceVocabulary) {
    const { pieces, scores, tokenTypes, bosId, eosId } = vocabulary;
    const n = pieces.length;
    if (n === 0) throw new TokenizerError("INVALID_VOCABULARY", "the vocabulary is empty");
    if (scores.length !== n) {
      throw new TokenizerError("INVALID_VOCABULARY", `scores has ${scores.length} entries, the vocabulary ${n} pieces`);
    }
    if (tokenTypes && tokenTypes.length !== n) {
      throw new TokenizerError("INVALID_VOCABULARY", `token_type has ${tokenTypes.length} entries, the vocabulary ${n} pieces`);
    }
    for (const [name, id] of [["bos", bosId], ["eos", eosId]] as const) {
      if (!Number.isInteger(id) || id < 0 || id >= n) {
        throw new TokenizerError("INVALID_VOCABULARY", `${name} id ${id} is outside the vocabulary [0, ${n})`);
      }
    }
    this.vocabSize = n;
    this.bosId = bosId;
    this.eosId = eosId;
    this.pieces = pieces;
    this.scores = Float64Array.from(scores);
    this.types = Uint8Array.from(tokenTypes ?? pieces.map(inferTokenType));
    this.idBytes = new Int16Array(n).fill(-1);
    this.decodedBytes = new Array<Uint8Array>(n);
    const encoder = new TextEncoder();
    for (let id = 0; id < n; id++) {
      const piece = pieces[id];
      if (typeof piece !== "string") {
        throw new TokenizerError("INVALID_VOCABULARY", `piece ${id} is not a string`);
      }
      const type = this.types[id];
      const byteMatch = BYTE_PIECE.exec(piece);
      if (type === TokenType.byte) {
        if (!byteMatch) throw new TokenizerError("INVALID_VOCABULARY", `byte token ${id} has piece ${JSON.stringify(piece)}, expected <0xNN>`);
        const byte = parseInt(byteMatch[1], 16);
        this.idBytes[id] = byte;
        if (this.byteIds[byte] < 0) this.byteIds[byte] = id;
        this.decodedBytes[id] = Uint8Array.of(byte);
      } else if (type === TokenType.control) {
        this.decodedBytes[id] = new Uint8Array(0);
      } else {
        if ((type === TokenType.normal || type === TokenType.userDefined) && !this.pieceIds.has(piece)) {
          this.pieceIds.set(piece, id);
        }
        this.decodedBytes[id] = encoder.encode(piece.replaceAll(SPACE_PIECE, " "));
      }
    }
    this.digest = vocabularyDigest(pieces);
  }

  idToPiece(id: number): string | undefined {
    return this.pieces[id];
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new EngineError("INVALID_ARGUMENT", "encode expects a string");
    const ids: number[] = [];
    if (options.bos ?? true) ids.push(this.bosId);
    if (text.length === 0) return ids;
    const tokens: number[] = [];
    const dummyPrefix = this.pieceIds.get(SPACE_PIECE);
    if (dummyPrefix !== undefined) tokens.push(dummyPrefix);
    const encoder = new TextEncoder();
    for (const codePoint of text) {
      const piece = codePoint === " " ? SPACE_PIECE : codePoint;
      const id = this.pieceIds.get(piece);
      if (id !== undefined) {
        tokens.push(id);
        continue;
      }
      for (const byte of encoder.encode(piece)) {
        const byteId = this.byteIds[byte];
        // run.c's fallback is byte + 3; a vocabulary without the byte piece maps to <unk> (id 0) as SentencePiece does.
        tokens.push(byteId >= 0 ? byteId : 0);
      }
    }
    this.mergePairs(tokens);
    for (const id of tokens) ids.push(id);
    return ids;
  }

  /** id pair → merged id (or -1), memoised across calls. */
  private readonly mergeCache = new Map<number, number>();

  private mergedId(left: number, right: number): number {
    const key = left * this.vocabSize + right;
    let id = this.mergeCache.get(key);
    if (id === undefined) {
      id = this.pieceIds.get(this.pieces[left] + this.pieces[right]) ?? -1;
      this.mergeCache.set(key, id);
    }
    return id;
  }

  /** run.c's merge loop (repeatedly merge the adjacent pair whose merged piece has the highest score, leftmost on
   *  ties), in O(n log n): symbols form a linked list, candidate pairs sit in a heap ordered by (score desc,
   *  position asc), and entries made stale by earlier merges are skipped when popped. */
  private mergePairs(tokens: number[]): void {
    const n = tokens.length;
    if (n < 2) return;
    const ids = Int32Array.from(tokens);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new CandidateHeap();
    const push = (left: number): void => {
      const right = next[left];
      if (right < 0) return;
      const merged = this.mergedId(ids[left], ids[right]);
      if (merged >= 0) heap.push(this.scores[merged], left, right, ids[left], ids[right], merged);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    for (;;) {
      const top = heap.pop();
      if (!top) break;
      const { left, right, leftId, rightId, merged } = top;
      if (!alive[left] || !alive[right] || next[left] !== right || ids[left] !== leftId || ids[right] !== rightId) continue;
      ids[left] = merged;
      alive[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      if (prev[left] >= 0) push(prev[left]);
      push(left);
    }
    tokens.length = 0;
    for (let i = 0; i >= 0 && i < n; i = next[i]) tokens.push(ids[i]);
  }

  decode(ids: readonly number[]): string {
    const stream = this.createStreamDecoder();
    let text = "";
    for (const id of ids) text += stream.push(id);
    return text + stream.flush();
  }

  createStreamDecoder(): StreamDecoder {
    const utf8 = new TextDecoder("utf-8", { fatal: false });
    let previousId = -1;
    return {
      push: (id: number): string => {
        assertTokenIds([id], this.vocabSize);
        let bytes = this.decodedBytes[id];
        if (previousId === this.bosId && this.idBytes[id] < 0 && bytes[0] === 0x20) bytes = bytes.subarray(1);
        previousId = id;
        return utf8.decode(bytes, { stream: true });
      },
      flush: (): string => utf8.decode(),
    };
  }
}

/** Builds the tokenizer from the `tok512.tokenizer.json`-style export of GGUF metadata
 *  (`{ tokens, scores, token_type, bos_token_id, eos_token_id }`). */
export function sentencePieceFromGgufJson(json: unknown): SentencePieceBpeTokenizer {
  if (typeof json !== "object" || json === null) throw new TokenizerError("INVALID_VOCABULARY", "expected a JSON object");
  const record = json as Record<string, unknown>;
  const { tokens, scores, token_type, bos_token_id, eos_token_id } = record;
  if (!Array.isArray(tokens)) throw new TokenizerError("INVALID_VOCABULARY", "`tokens` must be an array of strings");
  if (!Array.isArray(scores)) throw new TokenizerError("INVALID_VOCABULARY", "`scores` must be an array of numbers");
  return new SentencePieceBpeTokenizer({
    pieces: tokens as string[],
    scores: scores as number[],
    tokenTypes: Array.isArray(token_type) ? (token_type as number[]) : undefined,
    bosId: typeof bos_token_id === "number" ? bos_token_id : 1,
    eosId: typeof eos_token_id === "number" ? eos_token_id : 2,
  });
}

interface Candidate {
  readonly score: number;
  readonly left: number;
  readonly right: number;
  readonly leftId: number;
  readonly rightId: number;
  readonly merged: number;
}

/** Max-heap of merge candidates: higher score first, then smaller (leftmost) position. */
class CandidateHeap {
  private readonly items: Candidate[] = [];

  private before(a: Candidate, b: Candidate): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }

  push(score: number, left: number, right: number, leftId: number, rightId: number, merged: number): void {
    const items = this.items;
    items.push({ score, left, right, leftId, rightId, merged });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): Candidate | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.before(items[l], items[best])) best = l;
        if (r < items.length && this.before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}
