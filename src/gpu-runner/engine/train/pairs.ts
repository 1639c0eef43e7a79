/** @module engine/train/pairs
 * Preference-pair tokenization and batching for ARM training (parm-method.md §2).
 *
 * One pair = a prompt and two responses, with one label per objective (`preferred[i]` = 0 or 1 for the better
 * response under objective i, null when the pair carries no label for it). HH-RLHF rows label one objective,
 * PKU-SafeRLHF rows label all of them.
 *
 * Tokenization of a pair, by `truncation` (contracts/training-recipe.ts PAIR_TRUNCATIONS; docs/engine.md):
 * - `TRL` — TRL 0.9.6 `DPOTrainer.tokenize_row` / `build_tokenized_answer`, which PARM's and GenARM's reference
 *   training uses. Per response r: full_r = enc(prompt + r); the boundary is len(enc(prompt)), one token earlier
 *   when enc(prompt) is not a prefix of full_r (the prompt's last token merged across the boundary); prompt_r =
 *   full_r before the boundary, answer_r = full_r after it. Each sequence keeps its own boundary. BOS is put before
 *   prompt_r unless it is there already, EOS after answer_r unless it ends with it. With L = the longer answer:
 *   a sequence whose prompt_r + L exceeds `maxLength` keeps the last `maxPromptLength` tokens of prompt_r (BOS can
 *   go); one whose prompt_r + L still exceeds it cuts its answer to `maxLength − maxPromptLength` tokens (EOS can go).
 *   TRL's own errors stay errors (INVALID_PAIR): enc(prompt + r) shorter than enc(prompt), or the two prompts
 *   differing in more than their last token.
 * - `PREFIX_SHARED` — one prompt for both sequences: BOS + the longest common prefix of enc(prompt), full_0 and
 *   full_1 (so a token merging into one response also moves into the other); response r = the rest of full_r + EOS.
 *   If prompt + the longer response exceed `maxLength`, the prompt keeps its last `maxPromptLength − 1` tokens
 *   after BOS (BOS is kept); if still too long, each response is cut to `maxLength − promptLength` tokens.
 * Both: `labels[t] = ids[t]` for response tokens (EOS included), −100 for the prompt (TRL, unshifted). Shifted
 * view for a causal LM: the logits at position t score `targets[t] = ids[t + 1]`, counted when `lossMask[t] = 1`,
 * i.e. when `labels[t + 1] ≠ −100`. The sequence log-prob is Σ_t lossMask[t]·log p(targets[t]).
 *
 * Batching: rows 0…B−1 hold response 0 of each pair, rows B…2B−1 response 1; right padding with pad = EOS,
 * padded positions have attention 0, label −100, target = pad, lossMask 0. `preferred` becomes an int8 [k, B]
 * matrix (−1 = no label).
 */
import type { PairTruncation } from "../../../contracts/training-recipe.ts";
import { EngineError, type CategoryByCode } from "../util/errors.ts";

export const LABEL_IGNORE = -100;

export interface PreferencePair {
  readonly prompt: string;
  readonly responses: readonly [string, string];
  /** Per objective, in α order: index of the preferred response, or null when unlabelled. */
  readonly preferred: readonly (0 | 1 | null)[];
}

/** The slice of the Tokenizer contract this module needs. */
export interface PairTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  encode(text: string, options?: { bos?: boolean }): number[];
}

export interface PairTokenizationOptions {
  readonly maxLength: number;
  readonly maxPromptLength: number;
  /** The tokenization and truncation rule (module comment). */
  readonly truncation: PairTruncation;
}

export interface TokenizedSequence {
  readonly ids: readonly number[];
  /** TRL labels: ids at response positions (incl. EOS), −100 on the prompt. */
  readonly labels: readonly number[];
}

export interface TokenizedPair {
  /** Prompt tokens of each sequence (label −100), BOS included where kept; equal under PREFIX_SHARED. */
  readonly promptLengths: readonly [number, number];
  readonly sequences: readonly [TokenizedSequence, TokenizedSequence];
  readonly preferred: readonly (0 | 1 | null)[];
  /** True when the prompt or a response was cut. */
  readonly truncated: boolean;
}

export type PairErrorCode = "INVALID_PAIR" | "INVALID_OPTIONS" | "SEQUENCE_TOO_LONG" | "INVALID_BATCH";

export class PairError extends EngineError<PairErrorCode> {
  static override readonly category: CategoryByCode<PairErrorCode> = {
    INVALID_PAIR: "invalid-input",
    INVALID_OPTIONS: "invalid-input",
    SEQUENCE_TOO_LONG: "context-exceeded",
    INVALID_BATCH: "internal",
  };
}

function validatePair(pair: PreferencePair, numObjectives: number | undefined, where: string): void {
  if (typeof pair?.prompt !== "string") throw new PairError("INVALID_PAIR", `${where}: prompt must be a string`);
  if (!Array.isArray(pair.responses) || pair.responses.length !== 2 || !pair.responses.every((r) => typeof r === "string")) {
    throw new PairError("INVALID_PAIR", `${where}: responses must be two strings`);
  }
  if (!Array.isArray(pair.preferred) || pair.preferred.length === 0) throw new PairError("INVALID_PAIR", `${where}: preferred must list one label per objective`);
  if (numObjectives !== undefined && pair.preferred.length !== numObjectives) {
    throw new PairError("INVALID_PAIR", `${where}: preferred has ${pair.preferred.length} labels, expected ${numObjectives} objectives`);
  }
  pair.preferred.forEach((p, i) => {
    if (p !== 0 && p !== 1 && p !== null) throw new PairError("INVALID_PAIR", `${where}: preferred[${i}] must be 0, 1 or null, got ${JSON.stringify(p)}`);
  });
  if (pair.preferred.every((p) => p === null)) throw new PairError("INVALID_PAIR", `${where}: no objective has a label`);
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

export function tokenizePair(tokenizer: PairTokenizer, pair: PreferencePair, options: PairTokenizationOptions, where = "pair"): TokenizedPair {
  const { maxLength, maxPromptLength, truncation } = options;
  if (!Number.isInteger(maxLength) || !Number.isInteger(maxPromptLength) || maxPromptLength < 1 || maxLength <= maxPromptLength) {
    throw new PairError("INVALID_OPTIONS", `need integers 1 ≤ maxPromptLength < maxLength, got ${maxPromptLength} and ${maxLength}`);
  }
  validatePair(pair, undefined, where);
  const parts = truncation === "TRL" ? trlParts(tokenizer, pair, maxLength, maxPromptLength, where)
    : truncation === "PREFIX_SHARED" ? prefixSharedParts(tokenizer, pair, maxLength, maxPromptLength)
    : (() => { throw new PairError("INVALID_OPTIONS", `truncation must be TRL or PREFIX_SHARED, got ${JSON.stringify(truncation)}`); })();
  const toSequence = ({ prompt, response }: SequenceParts): TokenizedSequence => ({
    ids: [...prompt, ...response],
    labels: [...prompt.map(() => LABEL_IGNORE), ...response],
  });
  return {
    promptLengths: [parts.sequences[0].prompt.length, parts.sequences[1].prompt.length],
    sequences: [toSequence(parts.sequences[0]), toSequence(parts.sequences[1])],
    preferred: [...pair.preferred],
    truncated: parts.truncated,
  };
}

interface SequenceParts {
  readonly prompt: readonly number[];
  readonly response: readonly number[];
}

interface PairParts {
  readonly sequences: readonly [SequenceParts, SequenceParts];
  readonly truncated: boolean;
}

/** TRL 0.9.6 `build_tokenized_answer`: full = enc(prompt + answer) split at len(enc(prompt)), one earlier on a merge. */
function trlSplit(tokenizer: PairTokenizer, prompt: string, promptIds: readonly number[], answer: string, where: string): { prompt: number[]; answer: number[] } {
  const full = tokenizer.encode(prompt + answer, { bos: false });
  if (full.length < promptIds.length) {
    throw new PairError("INVALID_PAIR", `${where}: prompt + response tokenizes to fewer tokens (${full.length}) than the prompt (${promptIds.length})`);
  }
  const boundary = commonPrefixLength(full, promptIds) === promptIds.length ? promptIds.length : promptIds.length - 1;
  return { prompt: full.slice(0, boundary), answer: full.slice(boundary) };
}

function trlParts(tokenizer: PairTokenizer, pair: PreferencePair, maxLength: number, maxPromptLength: number, where: string): PairParts {
  const promptIds = tokenizer.encode(pair.prompt, { bos: false });
  const split = pair.responses.map((r) => trlSplit(tokenizer, pair.prompt, promptIds, r, where));
  const [p0, p1] = [split[0].prompt, split[1].prompt];
  let differing = 0;
  for (let i = 0; i < Math.min(p0.length, p1.length); i++) if (p0[i] !== p1[i]) differing++;
  if (differing > 1 || Math.abs(p0.length - p1.length) > 1) {
    throw new PairError("INVALID_PAIR", `${where}: the two responses' prompt tokens differ beyond the last token (TRL's tokenize_row rejects such pairs)`);
  }
  const sequences = split.map(({ prompt, answer }) => ({
    prompt: prompt.length > 0 && prompt[0] === tokenizer.bosId ? prompt : [tokenizer.bosId, ...prompt],
    response: answer.length > 0 && answer[answer.length - 1] === tokenizer.eosId ? answer : [...answer, tokenizer.eosId],
  }));
  const longer = Math.max(sequences[0].response.length, sequences[1].response.length);
  let truncated = false;
  for (const s of sequences) {
    if (s.prompt.length + longer > maxLength && s.prompt.length > maxPromptLength) {
      s.prompt = s.prompt.slice(s.prompt.length - maxPromptLength);
      truncated = true;
    }
  }
  const responseBudget = maxLength - maxPromptLength;
  for (const s of sequences) {
    if (s.prompt.length + longer > maxLength && s.response.length > responseBudget) {
      s.response = s.response.slice(0, responseBudget);
      truncated = true;
    }
  }
  return { sequences: [sequences[0], sequences[1]], truncated };
}

function prefixSharedParts(tokenizer: PairTokenizer, pair: PreferencePair, maxLength: number, maxPromptLength: number): PairParts {
  const promptBody = tokenizer.encode(pair.prompt, { bos: false });
  const full = pair.responses.map((r) => tokenizer.encode(pair.prompt + r, { bos: false }));
  const shared = Math.min(promptBody.length, ...full.map((f) => commonPrefixLength(f, promptBody)));
  let prompt = [tokenizer.bosId, ...promptBody.slice(0, shared)];
  let responses = full.map((f) => [...f.slice(shared), tokenizer.eosId]);
  let truncated = false;
  const longer = Math.max(responses[0].length, responses[1].length);
  if (prompt.length + longer > maxLength && prompt.length > maxPromptLength) {
    prompt = [tokenizer.bosId, ...prompt.slice(prompt.length - (maxPromptLength - 1))];
    truncated = true;
  }
  if (prompt.length + longer > maxLength) {
    const budget = maxLength - prompt.length;
    responses = responses.map((r) => (r.length > budget ? r.slice(0, budget) : r));
    truncated = true;
  }
  return { sequences: [{ prompt, response: responses[0] }, { prompt, response: responses[1] }], truncated };
}

/** Smallest bucket ≥ length; throws SEQUENCE_TOO_LONG beyond the largest. `buckets` ascending or not. */
export function bucketFor(length: number, buckets: readonly number[]): number {
  let best = Infinity;
  for (const b of buckets) if (b >= length && b < best) best = b;
  if (best === Infinity) throw new PairError("SEQUENCE_TOO_LONG", `length ${length} exceeds the largest bucket ${Math.max(...buckets)}`);
  return best;
}

/** Groups item indices by bucket (bucket → indices in input order), buckets in ascending order. */
export function bucketize(lengths: readonly number[], buckets: readonly number[]): Map<number, number[]> {
  if (buckets.length === 0 || !buckets.every((b) => Number.isInteger(b) && b > 0)) {
    throw new PairError("INVALID_OPTIONS", `buckets must be positive integers, got ${JSON.stringify(buckets)}`);
  }
  const groups = new Map<number, number[]>([...new Set(buckets)].sort((a, b) => a - b).map((b) => [b, []]));
  lengths.forEach((length, i) => groups.get(bucketFor(length, buckets))!.push(i));
  for (const [b, indices] of groups) if (indices.length === 0) groups.delete(b);
  return groups;
}

/** Longest sequence of a tokenized pair. */
export function pairLength(pair: TokenizedPair): number {
  return Math.max(pair.sequences[0].ids.length, pair.sequences[1].ids.length);
}

export interface PairBatch {
  /** Pairs B; rows are 2B. */
  readonly batchSize: number;
  /** Padded length T. */
  readonly length: number;
  readonly numObjectives: number;
  /** [2B, T] token ids, right-padded with `padId`. */
  readonly ids: Int32Array;
  /** [2B, T] 1 for real tokens, 0 for padding. */
  readonly attentionMask: Float32Array;
  /** [2B, T] TRL labels (unshifted): response ids, −100 on prompt and padding. */
  readonly labels: Int32Array;
  /** [2B, T] next-token targets: ids[t + 1], `padId` at the last position. */
  readonly targets: Int32Array;
  /** [2B, T] 1 where targets[t] is a response token (labels[t + 1] ≠ −100). */
  readonly lossMask: Float32Array;
  /** [k, B] preferred response per objective and pair: 0, 1, or −1 for no label. */
  readonly preferred: Int8Array;
  readonly padId: number;
}

/** Collates pairs into one padded batch of `length` (default: the longest sequence). */
export function collatePairs(pairs: readonly TokenizedPair[], options: { readonly padId: number; readonly length?: number }): PairBatch {
  if (pairs.length === 0) throw new PairError("INVALID_BATCH", "a batch needs at least one pair");
  const k = pairs[0].preferred.length;
  pairs.forEach((p, i) => {
    if (p.preferred.length !== k) throw new PairError("INVALID_BATCH", `pair ${i} has ${p.preferred.length} labels, pair 0 has ${k}`);
  });
  const longest = Math.max(...pairs.map(pairLength));
  const T = options.length ?? longest;
  if (longest > T) throw new PairError("SEQUENCE_TOO_LONG", `a sequence of ${longest} tokens does not fit the batch length ${T}`);
  const B = pairs.length;
  const ids = new Int32Array(2 * B * T).fill(options.padId);
  const attentionMask = new Float32Array(2 * B * T);
  const labels = new Int32Array(2 * B * T).fill(LABEL_IGNORE);
  const targets = new Int32Array(2 * B * T).fill(options.padId);
  const lossMask = new Float32Array(2 * B * T);
  const preferred = new Int8Array(k * B);
  pairs.forEach((pair, b) => {
    for (let r = 0; r < 2; r++) {
      const row = (r * B + b) * T;
      const seq = pair.sequences[r];
      for (let t = 0; t < seq.ids.length; t++) {
        ids[row + t] = seq.ids[t];
        attentionMask[row + t] = 1;
        labels[row + t] = seq.labels[t];
        if (t + 1 < seq.ids.length) {
          targets[row + t] = seq.ids[t + 1];
          if (seq.labels[t + 1] !== LABEL_IGNORE) lossMask[row + t] = 1;
        }
      }
    }
    for (let i = 0; i < k; i++) preferred[i * B + b] = pair.preferred[i] ?? -1;
  });
  return { batchSize: B, length: T, numObjectives: k, ids, attentionMask, labels, targets, lossMask, preferred, padId: options.padId };
}
