/**
 * @module engine/onnx/errors
 * Typed errors of the ONNX graph layer. Each carries a stable `code`; all are "internal" (a bug in a graph builder)
 * except a GraphShapeError thrown with category "context-exceeded" where a sequence exceeds the model's context.
 */
import { EngineError, type EngineErrorOptions } from "../util/errors.ts";

/** A graph was built with operands whose shapes or dtypes the op does not accept. */
export class GraphShapeError extends EngineError<"GRAPH_SHAPE_INVALID"> {
  constructor(message: string, options?: EngineErrorOptions) {
    super("GRAPH_SHAPE_INVALID", message, options);
  }
}

/** A name was declared twice or an unknown name was referenced. */
export class GraphNameError extends EngineError<"GRAPH_NAME_INVALID"> {
  constructor(message: string, options?: EngineErrorOptions) {
    super("GRAPH_NAME_INVALID", message, options);
  }
}

/** Differentiation was asked for something the autodiff cannot do (non-scalar loss, unknown op, ...). */
export class AutodiffError extends EngineError<"AUTODIFF_UNSUPPORTED"> {
  constructor(message: string, options?: EngineErrorOptions) {
    super("AUTODIFF_UNSUPPORTED", message, options);
  }
}

export { UnreachableCaseError } from "../util/errors.ts";
