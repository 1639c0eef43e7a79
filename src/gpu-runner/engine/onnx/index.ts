/**
 * @module engine/onnx
 * Public surface: ONNX protobuf writing, the static-shape graph builder and reverse-mode autodiff.
 */
export {
  arrayFor,
  broadcastShapes,
  GraphBuilder,
  MS_OPSET_VERSION,
  OMITTED_INPUT,
  IR_VERSION,
  isFloat,
  OPSET_VERSION,
  shapeEquals,
  sizeOf,
  type AttributeValue,
  type ContribOpType,
  type InferenceOpType,
  type DType,
  type ExternalDataFile,
  type FloatDType,
  type GraphNode,
  type HostTensor,
  type Initializer,
  type NodeParams,
  type OpType,
  type SerializedModel,
  type SerializeOptions,
  type Shape,
  type TensorArray,
  type Value,
} from "./builder.ts";
export { appendGradients, sumTo, vjpRules, type GradientOptions, type VjpContext, type VjpRule } from "./autodiff.ts";
export { decodeModelProto, encodeModelProto, OnnxProtoError } from "./proto.ts";
export { AutodiffError, GraphNameError, GraphShapeError, UnreachableCaseError } from "./errors.ts";
export { mulberry32, uniformArray, type RandomSource } from "./random.ts";
