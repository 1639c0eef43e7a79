/**
 * @module engine/onnx/errors
 * Typed errors of the ONNX graph layer. Each carries a stable `code`.
 */

/** A graph was built with operands whose shapes or dtypes the op does not accept. */
export class GraphShapeError extends Error {
  readonly code = "GRAPH_SHAPE_INVALID";
  override readonly name = "GraphShapeError";
}

/** A name was declared twice or an unknown name was referenced. */
export class GraphNameError extends Error {
  readonly code = "GRAPH_NAME_INVALID";
  override readonly name = "GraphNameError";
}

/** Differentiation was asked for something the autodiff cannot do (non-scalar loss, unknown op, ...). */
export class AutodiffError extends Error {
  readonly code = "AUTODIFF_UNSUPPORTED";
  override readonly name = "AutodiffError";
}

export { UnreachableCaseError } from "../util/errors.ts";
