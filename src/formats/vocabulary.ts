/** @module formats/vocabulary
 * The vocabulary digest, the one definition by which a base model and an ARM (or any two model files) are checked
 * to share a vocabulary — the api's `Model.tokenizerHash` and the engine's `Tokenizer.digest` — and the token list
 * of a Hugging Face `tokenizer.json` (a GGUF's is `ggufTokens`, gguf.ts).
 */
import { sha256Hex } from "./sha256.ts";

/** Version of `vocabularyDigest` that `Model.tokenizerHash` values are computed with (the api's rows record it). */
export const VOCABULARY_DIGEST_VERSION = 2;

/** SHA-256 (hex) over the vocabulary in id order, each piece written as a u32 little-endian byte length followed
 *  by its UTF-8 bytes. Two vocabularies with equal pieces at equal ids have equal digests whatever file they came
 *  from (GGUF metadata or `tokenizer.json`). */
export function vocabularyDigest(pieces: readonly string[]): string {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const piece of pieces) {
    const bytes = encoder.encode(piece);
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.byteLength, true);
    chunks.push(length, bytes);
  }
  return sha256Hex(...chunks);
}

/** Ids at or above this make a tokenizer.json unrecognised (no real vocabulary comes near it). */
const MAX_TOKEN_ID = 1 << 24;

/** Token strings in id order from a parsed tokenizer.json: the Hugging Face layout (`model.vocab` as a map, or a
 *  Unigram list of [piece, score], plus `added_tokens`) or a plain `tokens` array; ids without a token read as "".
 *  Null when the layout is not recognised or an id is not an integer in [0, 2^24). */
export function tokensFromTokenizerJson(json: unknown): string[] | null {
  if (typeof json !== "object" || json === null) return null;
  const root = json as { tokens?: unknown; model?: { vocab?: unknown }; added_tokens?: unknown };
  if (Array.isArray(root.tokens) && root.tokens.every((t) => typeof t === "string")) return root.tokens as string[];
  const vocab = root.model?.vocab;
  const byId = new Map<number, string>();
  if (vocab && typeof vocab === "object" && !Array.isArray(vocab)) {
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) if (typeof id === "number") byId.set(id, token);
  } else if (Array.isArray(vocab)) {
    vocab.forEach((entry, id) => {
      if (Array.isArray(entry) && typeof entry[0] === "string") byId.set(id, entry[0]);
    });
  }
  if (Array.isArray(root.added_tokens)) {
    for (const added of root.added_tokens as Array<{ id?: unknown; content?: unknown }>) {
      if (typeof added.id === "number" && typeof added.content === "string") byId.set(added.id, added.content);
    }
  }
  let size = 0;
  for (const id of byId.keys()) {
    if (!Number.isInteger(id) || id < 0 || id >= MAX_TOKEN_ID) return null;
    size = Math.max(size, id + 1);
  }
  if (size === 0) return null;
  const tokens: string[] = [];
  for (let id = 0; id < size; id++) tokens.push(byId.get(id) ?? "");
  return tokens;
}
