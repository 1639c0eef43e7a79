/** @module engine/util/errors
 * Base class of every error the engine throws: a stable machine-readable `code`, a message that names what is
 * wrong, and a {@link EngineErrorCategory} saying what kind of failure it is. Subclasses narrow `code` to their
 * own union and declare the category of each code in `static category` (one category for every code, or a record
 * with one entry per code, so a new code must be given one). The runner decides from the category alone whether
 * a job may be retried (gpu-runner/runner/failures.ts).
 */

/** What kind of failure an engine error is:
 *  - "invalid-input": the caller's input is unusable (options, α, β, pairs, sampling, stop strings, adapter);
 *  - "context-exceeded": invalid input too, a sequence or position beyond the model's context;
 *  - "model-unavailable": a model, tokenizer or adapter base file cannot be read or used;
 *  - "evaluator-unavailable": an evaluator file cannot be read or does not fit the backbone;
 *  - "vocabulary-mismatch": base and guide models do not share a vocabulary;
 *  - "cancelled": the caller's signal stopped the work;
 *  - "diverged": a training loss or a model's logits became non-finite;
 *  - "resource": memory ran out;
 *  - "internal": anything else (a bug or a transient runtime failure). */
export type EngineErrorCategory =
  | "invalid-input"
  | "context-exceeded"
  | "model-unavailable"
  | "evaluator-unavailable"
  | "vocabulary-mismatch"
  | "cancelled"
  | "diverged"
  | "resource"
  | "internal";

/** The category of each code of an error class. */
export type CategoryByCode<Code extends string> = { readonly [C in Code]: EngineErrorCategory };

export interface EngineErrorOptions {
  readonly cause?: unknown;
  /** Overrides the class's category for this code (a throw site that knows better, or a wrapped cause's). */
  readonly category?: EngineErrorCategory;
}

export class EngineError<Code extends string = string> extends Error {
  /** The category of every code of this class, or of each code; codes a record leaves out are "internal". */
  static readonly category: EngineErrorCategory | Readonly<Partial<Record<string, EngineErrorCategory>>> = "internal";
  readonly code: Code;
  readonly category: EngineErrorCategory;
  constructor(code: Code, message: string, options?: EngineErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    const byClass = new.target.category;
    this.category = options?.category ?? (typeof byClass === "string" ? byClass : (byClass[code] ?? "internal"));
  }
}

const OUT_OF_MEMORY_MESSAGE = /out of memory|allocation failed|failed to allocate|bad_alloc/i;
/** onnxruntime's Gather past a table's end: a position beyond the model's context. */
const INDEX_OUT_OF_BOUNDS_MESSAGE = /indices element out of data bounds/i;

/** The category of a failure the engine did not raise itself (onnxruntime, the JavaScript runtime) or wraps: an
 *  EngineError keeps its own; otherwise its message decides: out of memory is "resource", an index beyond a
 *  tensor's data (onnxruntime's Gather at a position past the context) "context-exceeded", anything else
 *  "internal". */
export function categoryOfCause(cause: unknown): EngineErrorCategory {
  if (cause instanceof EngineError) return cause.category;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (OUT_OF_MEMORY_MESSAGE.test(message)) return "resource";
  if (INDEX_OUT_OF_BOUNDS_MESSAGE.test(message)) return "context-exceeded";
  return "internal";
}

/** Thrown at the end of an exhaustive `switch`: reaching it means a case was added without handling it. */
export class UnreachableCaseError extends EngineError<"UNREACHABLE_CASE"> {
  constructor(value: never) {
    super("UNREACHABLE_CASE", `unreachable case: ${JSON.stringify(value)}`);
  }
}
