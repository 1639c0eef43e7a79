/**
 * @module engine/decode/stop
 * When generation ends, and what text may be streamed before it does.
 *
 * {@link StopStringMatcher} works on streamed text deltas: it holds back the longest tail of the text that could
 * still grow into a stop string (so a stop string split across tokens is caught, and no part of it is ever
 * emitted), and on a match returns the text before the stop string. When several stop strings match, the one
 * starting earliest wins (ties: the shortest). Matching covers generated text only, never the prompt.
 *
 * {@link StopCriteria} combines EOS ids, stop strings and max-new-tokens, checked per generated token in that
 * order: an EOS token ends generation and its text is not emitted; a completed stop string ends it with the text
 * before the stop string; reaching maxNewTokens ends it after emitting the token's text and anything held back.
 */
import { EngineError } from "../util/errors.ts";

export type StopReason = "eos" | "stop-string" | "max-new-tokens";

export type StopCriteriaErrorCode = "INVALID_STOP_STRINGS" | "INVALID_MAX_NEW_TOKENS" | "INVALID_EOS" | "ALREADY_STOPPED";

/** Raised for unusable stop settings, or for feeding a matcher that has already stopped. */
export class StopCriteriaError extends EngineError<StopCriteriaErrorCode> {
  static override readonly category = "invalid-input";
}

export interface StopStringMatch {
  /** Text that is now safe to stream (never contains any part of a matched stop string). */
  readonly emit: string;
  readonly stopped: boolean;
  /** The stop string that matched, when stopped. */
  readonly stopString?: string;
}

export class StopStringMatcher {
  readonly stopStrings: readonly string[];
  #held = "";
  #stopped = false;

  constructor(stopStrings: readonly string[]) {
    if (!Array.isArray(stopStrings)) {
      throw new StopCriteriaError("INVALID_STOP_STRINGS", "stopStrings must be an array of strings");
    }
    stopStrings.forEach((s, i) => {
      if (typeof s !== "string" || s.length === 0) {
        throw new StopCriteriaError("INVALID_STOP_STRINGS", `stopStrings[${i}] must be a non-empty string`);
      }
    });
    this.stopStrings = [...stopStrings];
  }

  /** Text held back because it could be the start of a stop string. */
  get pending(): string {
    return this.#held;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Feeds the next text delta. */
  push(text: string): StopStringMatch {
    if (this.#stopped) throw new StopCriteriaError("ALREADY_STOPPED", "push after a stop string matched");
    const buffer = this.#held + text;
    let matchAt = -1;
    let matched: string | undefined;
    for (const s of this.stopStrings) {
      const at = buffer.indexOf(s);
      if (at < 0) continue;
      if (matchAt < 0 || at < matchAt || (at === matchAt && s.length < matched!.length)) {
        matchAt = at;
        matched = s;
      }
    }
    if (matched !== undefined) {
      this.#stopped = true;
      this.#held = "";
      return { emit: buffer.slice(0, matchAt), stopped: true, stopString: matched };
    }
    const hold = this.#longestPartialMatch(buffer);
    this.#held = buffer.slice(buffer.length - hold);
    return { emit: buffer.slice(0, buffer.length - hold), stopped: false };
  }

  /** Ends the stream without a stop string: returns (and clears) the held-back text. */
  flush(): string {
    const held = this.#held;
    this.#held = "";
    return held;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  #longestPartialMatch(buffer: string): number {
    let best = 0;
    for (const s of this.stopStrings) {
      for (let length = Math.min(s.length - 1, buffer.length); length > best; length--) {
        if (buffer.endsWith(s.slice(0, length))) {
          best = length;
          break;
        }
      }
    }
    return best;
  }
}

export interface StopCriteriaOptions {
  /** Token ids that end generation (e.g. the tokenizer's EOS); may be empty. */
  readonly eosTokenIds: readonly number[];
  /** Integer ≥ 1. */
  readonly maxNewTokens: number;
  readonly stopStrings?: readonly string[];
}

export interface StopStep {
  /** Text to stream for this token. */
  readonly emit: string;
  /** Why generation ended with this token, or null to continue. */
  readonly stop: StopReason | null;
  readonly stopString?: string;
}

/** Per-sequence stop bookkeeping; call {@link onToken} once per generated token. */
export class StopCriteria {
  readonly maxNewTokens: number;
  readonly #eos: ReadonlySet<number>;
  readonly #matcher: StopStringMatcher;
  #generated = 0;
  #reason: StopReason | null = null;

  constructor(options: StopCriteriaOptions) {
    const { eosTokenIds, maxNewTokens, stopStrings = [] } = options;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
      throw new StopCriteriaError("INVALID_MAX_NEW_TOKENS", `maxNewTokens must be an integer ≥ 1, got ${String(maxNewTokens)}`);
    }
    if (!Array.isArray(eosTokenIds)) throw new StopCriteriaError("INVALID_EOS", "eosTokenIds must be an array of token ids");
    eosTokenIds.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0) {
        throw new StopCriteriaError("INVALID_EOS", `eosTokenIds[${i}] must be an integer ≥ 0, got ${String(id)}`);
      }
    });
    this.maxNewTokens = maxNewTokens;
    this.#eos = new Set(eosTokenIds);
    this.#matcher = new StopStringMatcher(stopStrings);
  }

  get generatedCount(): number {
    return this.#generated;
  }

  /** Why generation ended, or null while it continues. */
  get reason(): StopReason | null {
    return this.#reason;
  }

  isEos(tokenId: number): boolean {
    return this.#eos.has(tokenId);
  }

  /** Records one generated token and its decoded text delta. */
  onToken(tokenId: number, textDelta: string): StopStep {
    if (this.#reason !== null) {
      throw new StopCriteriaError("ALREADY_STOPPED", `generation already stopped (${this.#reason}); no more tokens`);
    }
    this.#generated++;
    if (this.#eos.has(tokenId)) {
      this.#reason = "eos";
      return { emit: this.#matcher.flush(), stop: "eos" };
    }
    const match = this.#matcher.push(textDelta);
    if (match.stopped) {
      this.#reason = "stop-string";
      return { emit: match.emit, stop: "stop-string", stopString: match.stopString };
    }
    if (this.#generated >= this.maxNewTokens) {
      this.#reason = "max-new-tokens";
      return { emit: match.emit + this.#matcher.flush(), stop: "max-new-tokens" };
    }
    return { emit: match.emit, stop: null };
  }
}
