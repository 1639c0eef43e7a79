/** @module engine/util/errors
 * Base class of every error the engine throws on bad input: a stable machine-readable `code` plus a message that
 * names what is wrong. Subclasses narrow `code` to their own union.
 */

export class EngineError<Code extends string = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Thrown at the end of an exhaustive `switch`: reaching it means a case was added without handling it. */
export class UnreachableCaseError extends Error {
  readonly code = "UNREACHABLE_CASE" as const;
  constructor(value: never) {
    super(`unreachable case: ${JSON.stringify(value)}`);
    this.name = "UnreachableCaseError";
  }
}
