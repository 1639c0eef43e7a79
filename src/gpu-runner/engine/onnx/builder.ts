/**
 * @module engine/onnx/builder
 * A graph builder with static shape and dtype tracking. Every op constructor computes its output shape with the
 * rules of the ONNX specification (opset 18): numpy broadcasting, MatMul batch broadcasting, Reshape with 0 / -1
 * (allowzero = 0), reductions with `axes` as an input, Split with sizes as an input. ORT re-infers shapes on load,
 * so a shape computed here that differs from ONNX's would be rejected there.
 *
 * All dimensions are static numbers: one graph is built per shape bucket. Nodes are appended in topological
 * order, which the autodiff relies on.
 */
import { GraphNameError, GraphShapeError } from "./errors.ts";
import {
  encodeModelProto,
  OnnxAttributeType,
  OnnxDataLocation,
  OnnxElementType,
  type AttributeMessage,
  type NodeMessage,
  type TensorMessage,
  type ValueInfoMessage,
} from "./proto.ts";

export type DType = "float32" | "float64" | "int64" | "bool" | "int32" | "uint8" | "float16";
export type FloatDType = "float32" | "float64";
export type Shape = readonly number[];

/** The array type that holds a tensor of each dtype (bool as one byte per element). */
export interface DTypeArray {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  bool: Uint8Array;
  int32: Int32Array;
  uint8: Uint8Array;
  /** IEEE half floats as their bit patterns. */
  float16: Uint16Array;
}
export type TensorArray = DTypeArray[DType];

/** A host-side tensor: dtype, static shape and a row-major typed array (feeds, fetches, weights). */
export interface HostTensor {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: TensorArray;
}

/** A named tensor value in the graph, with its static dtype and shape. */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** Graph inputs/outputs only: a name per axis that is symbolic in the serialized graph (undefined = the static
   *  size in `shape`). `shape` then holds a representative size the builder computes with. */
  readonly dimNames?: readonly (string | undefined)[];
}

export type OpType =
  | "Add" | "Sub" | "Mul" | "Div" | "Neg" | "Exp" | "Log" | "Sqrt" | "Reciprocal" | "Sigmoid" | "Softplus"
  | "Relu" | "Abs" | "Sign" | "Identity" | "Cast" | "MatMul" | "Transpose" | "Reshape" | "Squeeze" | "Unsqueeze"
  | "Concat" | "Split" | "Gather" | "GatherElements" | "ScatterElements" | "ReduceSum" | "ReduceMean"
  | "Softmax" | "LogSoftmax" | "Expand" | "ConstantOfShape" | "Shape" | "Dropout" | ContribOpType | InferenceOpType;

/** Standard ops for inference graphs only (no VJP rule): selection and max reductions (decode/guidance-graph.ts). */
export type InferenceOpType = "ReduceMax" | "TopK";

/** onnxruntime's com.microsoft operators the engine emits (inference graphs only; autodiff has no rules for them). */
export type ContribOpType =
  | "GroupQueryAttention" | "RotaryEmbedding" | "MatMulNBits" | "SimplifiedLayerNormalization"
  | "SkipSimplifiedLayerNormalization";

/** The domain of each contrib op (SimplifiedLayerNormalization is registered in the default domain by onnxruntime). */
const CONTRIB_DOMAIN: Readonly<Record<ContribOpType, string>> = {
  GroupQueryAttention: "com.microsoft",
  RotaryEmbedding: "com.microsoft",
  MatMulNBits: "com.microsoft",
  SimplifiedLayerNormalization: "",
  SkipSimplifiedLayerNormalization: "com.microsoft",
};

/** Version of the com.microsoft opset the engine imports when a graph uses a contrib op. */
export const MS_OPSET_VERSION = 1;

/** Stands for an omitted optional input of a node (serialized as the empty name). */
export const OMITTED_INPUT: Value = { name: "", dtype: "float32", shape: [] };

export type AttributeValue =
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "ints"; readonly value: readonly number[] }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "tensor"; readonly dtype: DType; readonly shape: Shape; readonly data: TensorArray };

/** Build-time facts of a node that VJP rules need (normalized, non-negative axes). */
export interface NodeParams {
  readonly axes?: readonly number[];
  readonly axis?: number;
  readonly keepdims?: boolean;
  readonly perm?: readonly number[];
  readonly splitSizes?: readonly number[];
  readonly reduction?: "none" | "add";
  readonly to?: DType;
}

export interface GraphNode {
  readonly opType: OpType;
  /** Value inputs in ONNX order, including int64 shape/axes constants. */
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly params: NodeParams;
}

export interface Initializer {
  readonly value: Value;
  readonly data: TensorArray;
}

export interface ExternalDataFile {
  readonly path: string;
  readonly data: Uint8Array;
}

/** A serialized model ready for `InferenceSession.create` (external data passed as the `externalData` option). */
export interface SerializedModel {
  readonly modelBytes: Uint8Array;
  readonly externalData: readonly ExternalDataFile[];
  /** True when any value is float64: onnxruntime's "extended"/"all" levels then fuse into float-only kernels
   *  (com.microsoft.QuickGelu, FusedMatMul), so such models run at "basic" or "disabled". */
  readonly usesFloat64?: boolean;
}

export interface SerializeOptions {
  /** Initializers of at least this many bytes go to external data (default: never). */
  readonly externalDataMinBytes?: number;
  /** File name that external data entries refer to (default "weights.bin"). */
  readonly externalDataPath?: string;
}

const ELEMENT_TYPE: Record<DType, number> = {
  float32: OnnxElementType.FLOAT,
  float64: OnnxElementType.DOUBLE,
  int64: OnnxElementType.INT64,
  bool: OnnxElementType.BOOL,
  int32: OnnxElementType.INT32,
  uint8: OnnxElementType.UINT8,
  float16: OnnxElementType.FLOAT16,
};

export const OPSET_VERSION = 18;
export const IR_VERSION = 8;

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === "float32" || dtype === "float64";
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeEquals(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function formatShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

/** Numpy (multidirectional) broadcasting as ONNX defines it. */
export function broadcastShapes(a: Shape, b: Shape, what = "broadcast"): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new GraphShapeError(`${what}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

function normalizeAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new GraphShapeError(`${what}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

export function arrayFor(dtype: DType, length: number): TensorArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(length);
    case "float64":
      return new Float64Array(length);
    case "int64":
      return new BigInt64Array(length);
    case "bool":
    case "uint8":
      return new Uint8Array(length);
    case "int32":
      return new Int32Array(length);
    case "float16":
      return new Uint16Array(length);
  }
}

function bytesOf(data: TensorArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function checkArrayDType(dtype: DType, data: TensorArray, what: string): void {
  const ok =
    (dtype === "float32" && data instanceof Float32Array) ||
    (dtype === "float64" && data instanceof Float64Array) ||
    (dtype === "int64" && data instanceof BigInt64Array) ||
    ((dtype === "bool" || dtype === "uint8") && data instanceof Uint8Array) ||
    (dtype === "int32" && data instanceof Int32Array) ||
    (dtype === "float16" && data instanceof Uint16Array);
  if (!ok) throw new GraphShapeError(`${what}: data array does not hold ${dtype}`);
}

/**
 * Builds one ONNX graph. Op methods return the output Value(s); `output()` marks graph outputs; `serialize()`
 * writes the ModelProto (opset 18, IR 8, default domain only).
 */
export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers: Initializer[] = [];
  private readonly names = new Set<string>();
  private readonly constantCache = new Map<string, Value>();
  private counter = 0;

  constructor(readonly graphName = "graph") {}

  // ---------------------------------------------------------------- names, inputs, outputs, constants

  /** A fresh unique name starting with `hint`. */
  freshName(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): void {
    if (name.length === 0) throw new GraphNameError("value names must not be empty");
    if (this.names.has(name)) throw new GraphNameError(`value name "${name}" is already used in graph "${this.graphName}"`);
    this.names.add(name);
  }

  hasName(name: string): boolean {
    return this.names.has(name);
  }

  /** A graph input; `dimNames` makes the named axes symbolic in the serialized graph (see Value.dimNames). */
  input(name: string, dtype: DType, shape: Shape, dimNames?: readonly (string | undefined)[]): Value {
    this.claim(name);
    checkShape(shape, `input "${name}"`);
    const value: Value = { name, dtype, shape: [...shape], ...(dimNames ? { dimNames: [...dimNames] } : {}) };
    this.inputs.push(value);
    return value;
  }

  /** Adds a named initializer (stored as raw_data; big ones may go to external data at serialization). */
  initializer(name: string, dtype: DType, shape: Shape, data: TensorArray): Value {
    this.claim(name);
    return this.addInitializer(name, dtype, shape, data);
  }

  private addInitializer(name: string, dtype: DType, shape: Shape, data: TensorArray): Value {
    checkShape(shape, `initializer "${name}"`);
    checkArrayDType(dtype, data, `initializer "${name}"`);
    if (data.length !== sizeOf(shape)) {
      throw new GraphShapeError(`initializer "${name}": ${data.length} elements for shape ${formatShape(shape)}`);
    }
    const value: Value = { name, dtype, shape: [...shape] };
    this.initializers.push({ value, data });
    return value;
  }

  /** An anonymous constant tensor (an initializer with a generated name). */
  constant(dtype: DType, shape: Shape, data: TensorArray, hint = "const"): Value {
    return this.addInitializer(this.freshName(hint), dtype, shape, data);
  }

  /** A deduplicated int64 vector constant (axes, shapes, split sizes). */
  int64s(values: readonly number[]): Value {
    const key = `i64:${values.join(",")}`;
    const hit = this.constantCache.get(key);
    if (hit) return hit;
    const value = this.constant("int64", [values.length], BigInt64Array.from(values.map((v) => BigInt(v))), "i64");
    this.constantCache.set(key, value);
    return value;
  }

  /** A deduplicated scalar (shape []) constant of a float dtype. */
  scalar(value: number, dtype: FloatDType): Value {
    const key = `${dtype}:${Object.is(value, -0) ? "-0" : String(value)}`;
    const hit = this.constantCache.get(key);
    if (hit) return hit;
    const data = dtype === "float32" ? Float32Array.of(value) : Float64Array.of(value);
    const v = this.constant(dtype, [], data, "scalar");
    this.constantCache.set(key, v);
    return v;
  }

  /** Marks `value` as a graph output, under `name` when given (through an Identity node if the name differs). */
  output(value: Value, name?: string, dimNames?: readonly (string | undefined)[]): Value {
    let out = dimNames ? { ...value, dimNames: [...dimNames] } : value;
    if (name !== undefined && name !== value.name) {
      this.claim(name);
      out = { name, dtype: value.dtype, shape: value.shape, ...(dimNames ? { dimNames: [...dimNames] } : {}) };
      this.nodes.push({ opType: "Identity", inputs: [value], outputs: [out], attributes: {}, params: {} });
    }
    if (this.outputs.some((o) => o.name === out.name)) throw new GraphNameError(`"${out.name}" is already an output`);
    this.outputs.push(out);
    return out;
  }

  /**
   * A com.microsoft operator (ContribOpType) with the output dtypes and shapes the caller states: the builder
   * does no shape inference for these, onnxruntime checks them on load. `OMITTED_INPUT` skips an optional input;
   * trailing omitted inputs are dropped.
   */
  contrib(
    opType: ContribOpType,
    inputs: readonly Value[],
    outputSpecs: readonly { dtype: DType; shape: Shape }[],
    attributes: Record<string, AttributeValue> = {},
  ): Value[] {
    const given = [...inputs];
    while (given.length > 0 && given[given.length - 1].name === "") given.pop();
    return this.emit(opType, given, outputSpecs, attributes);
  }

  // ---------------------------------------------------------------- node plumbing

  private emit(
    opType: OpType,
    inputs: readonly Value[],
    outputSpecs: readonly { dtype: DType; shape: Shape }[],
    attributes: Record<string, AttributeValue> = {},
    params: NodeParams = {},
  ): Value[] {
    const outputs = outputSpecs.map((spec) => ({
      name: this.freshName(opType.toLowerCase()),
      dtype: spec.dtype,
      shape: [...spec.shape],
    }));
    this.nodes.push({ opType, inputs, outputs, attributes, params });
    return outputs;
  }

  private emit1(
    opType: OpType,
    inputs: readonly Value[],
    dtype: DType,
    shape: Shape,
    attributes: Record<string, AttributeValue> = {},
    params: NodeParams = {},
  ): Value {
    return this.emit(opType, inputs, [{ dtype, shape }], attributes, params)[0];
  }

  private requireSameDType(op: string, a: Value, b: Value): void {
    if (a.dtype !== b.dtype) throw new GraphShapeError(`${op}: dtypes differ (${a.name}: ${a.dtype}, ${b.name}: ${b.dtype})`);
  }

  private requireFloat(op: string, x: Value): FloatDType {
    if (!isFloat(x.dtype)) throw new GraphShapeError(`${op}: ${x.name} must be float32 or float64, not ${x.dtype}`);
    return x.dtype;
  }

  private requireInt64(op: string, x: Value): void {
    if (x.dtype !== "int64") throw new GraphShapeError(`${op}: ${x.name} must be int64, not ${x.dtype}`);
  }

  // ---------------------------------------------------------------- elementwise

  private binary(op: "Add" | "Sub" | "Mul" | "Div", a: Value, b: Value): Value {
    this.requireSameDType(op, a, b);
    if (a.dtype === "bool") throw new GraphShapeError(`${op}: bool operands are not supported`);
    return this.emit1(op, [a, b], a.dtype, broadcastShapes(a.shape, b.shape, op));
  }
  add(a: Value, b: Value): Value { return this.binary("Add", a, b); }
  sub(a: Value, b: Value): Value { return this.binary("Sub", a, b); }
  mul(a: Value, b: Value): Value { return this.binary("Mul", a, b); }
  div(a: Value, b: Value): Value { return this.binary("Div", a, b); }

  private unaryFloat(op: OpType, x: Value): Value {
    return this.emit1(op, [x], this.requireFloat(op, x), x.shape);
  }
  neg(x: Value): Value {
    if (x.dtype === "bool") throw new GraphShapeError("Neg: bool operand");
    return this.emit1("Neg", [x], x.dtype, x.shape);
  }
  exp(x: Value): Value { return this.unaryFloat("Exp", x); }
  log(x: Value): Value { return this.unaryFloat("Log", x); }
  sqrt(x: Value): Value { return this.unaryFloat("Sqrt", x); }
  reciprocal(x: Value): Value { return this.unaryFloat("Reciprocal", x); }
  sigmoid(x: Value): Value { return this.unaryFloat("Sigmoid", x); }
  relu(x: Value): Value { return this.unaryFloat("Relu", x); }
  abs(x: Value): Value { return this.unaryFloat("Abs", x); }
  sign(x: Value): Value { return this.unaryFloat("Sign", x); }
  /** The ONNX Softplus op. ORT has no float64 kernel for it (it inlines an unstable log(exp(x)+1)); use
   *  `stableSoftplus` for graphs that must also build in float64. */
  softplus(x: Value): Value { return this.unaryFloat("Softplus", x); }

  /** softplus(x): the native op in float32; relu(x) + log(1 + exp(-|x|)) in float64 (exact, overflow-free). */
  stableSoftplus(x: Value): Value {
    if (this.requireFloat("softplus", x) === "float32") return this.softplus(x);
    const tail = this.log(this.add(this.scalar(1, "float64"), this.exp(this.neg(this.abs(x)))));
    return this.add(this.relu(x), tail);
  }

  identity(x: Value): Value {
    return this.emit1("Identity", [x], x.dtype, x.shape);
  }

  cast(x: Value, to: DType): Value {
    return this.emit1("Cast", [x], to, x.shape, { to: { kind: "int", value: ELEMENT_TYPE[to] } }, { to });
  }

  /**
   * Dropout in training mode: zeroes each element with probability `ratio` (a scalar input of a float dtype)
   * and scales survivors by 1/(1 − ratio); a fresh mask is drawn on every run. Returns [output, mask (bool)].
   */
  dropout(x: Value, ratio: Value): [Value, Value] {
    this.requireFloat("Dropout", x);
    this.requireFloat("Dropout ratio", ratio);
    if (ratio.shape.length !== 0) throw new GraphShapeError(`Dropout: ratio must be a scalar, got [${ratio.shape.join(",")}]`);
    const training = this.constantCache.get("bool:true") ?? this.constant("bool", [], Uint8Array.of(1), "training");
    this.constantCache.set("bool:true", training);
    const [out, mask] = this.emit("Dropout", [x, ratio, training], [
      { dtype: x.dtype, shape: x.shape },
      { dtype: "bool", shape: x.shape },
    ]);
    return [out, mask];
  }

  // ---------------------------------------------------------------- linear algebra and layout

  /** ONNX MatMul for operands of rank >= 2 (batch dimensions broadcast). */
  matMul(a: Value, b: Value): Value {
    this.requireSameDType("MatMul", a, b);
    this.requireFloat("MatMul", a);
    if (a.shape.length < 2 || b.shape.length < 2) {
      throw new GraphShapeError(`MatMul: operands must have rank >= 2, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
    }
    const m = a.shape[a.shape.length - 2];
    const k = a.shape[a.shape.length - 1];
    const k2 = b.shape[b.shape.length - 2];
    const n = b.shape[b.shape.length - 1];
    if (k !== k2) {
      throw new GraphShapeError(`MatMul: inner dimensions differ: ${a.name} ${formatShape(a.shape)} x ${b.name} ${formatShape(b.shape)}`);
    }
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "MatMul batch");
    return this.emit1("MatMul", [a, b], a.dtype, [...batch, m, n]);
  }

  /** Transpose; `perm` defaults to reversing the axes. */
  transpose(x: Value, perm?: readonly number[]): Value {
    const rank = x.shape.length;
    const p = perm ?? x.shape.map((_, i) => rank - 1 - i);
    const sorted = [...p].sort((u, v) => u - v);
    if (p.length !== rank || sorted.some((v, i) => v !== i)) {
      throw new GraphShapeError(`Transpose: perm [${p.join(",")}] is not a permutation of rank ${rank}`);
    }
    return this.emit1("Transpose", [x], x.dtype, p.map((i) => x.shape[i]), { perm: { kind: "ints", value: p } }, { perm: p });
  }

  /** Transposes the last two axes. */
  transposeLast2(x: Value): Value {
    const rank = x.shape.length;
    if (rank < 2) throw new GraphShapeError(`transposeLast2: rank ${rank} < 2`);
    const perm = x.shape.map((_, i) => i);
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return this.transpose(x, perm);
  }

  /** Reshape with ONNX semantics: 0 copies the input dimension (allowzero = 0), one -1 is inferred. */
  reshape(x: Value, shape: readonly number[]): Value {
    const out = shape.map((d, i) => {
      if (d === 0) {
        if (i >= x.shape.length) throw new GraphShapeError(`Reshape: 0 at axis ${i} beyond input rank ${x.shape.length}`);
        return x.shape[i];
      }
      return d;
    });
    const minus = out.filter((d) => d === -1).length;
    if (minus > 1 || out.some((d) => d < -1 || !Number.isInteger(d))) {
      throw new GraphShapeError(`Reshape: invalid target shape [${shape.join(",")}]`);
    }
    const total = sizeOf(x.shape);
    if (minus === 1) {
      const known = out.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
      if (known === 0 || total % known !== 0) {
        throw new GraphShapeError(`Reshape: cannot infer -1 reshaping ${formatShape(x.shape)} to [${shape.join(",")}]`);
      }
      out[out.indexOf(-1)] = total / known;
    }
    if (sizeOf(out) !== total) {
      throw new GraphShapeError(`Reshape: ${formatShape(x.shape)} (${total} elements) cannot become ${formatShape(out)}`);
    }
    if (shapeEquals(out, x.shape)) return x;
    return this.emit1("Reshape", [x, this.int64s(shape)], x.dtype, out);
  }

  squeeze(x: Value, axes: readonly number[]): Value {
    const ax = axes.map((a) => normalizeAxis(a, x.shape.length, "Squeeze"));
    for (const a of ax) if (x.shape[a] !== 1) throw new GraphShapeError(`Squeeze: axis ${a} of ${formatShape(x.shape)} is not 1`);
    const out = x.shape.filter((_, i) => !ax.includes(i));
    return this.emit1("Squeeze", [x, this.int64s(ax)], x.dtype, out, {}, { axes: ax });
  }

  /** Unsqueeze; axes refer to the output rank. */
  unsqueeze(x: Value, axes: readonly number[]): Value {
    const rank = x.shape.length + axes.length;
    const ax = axes.map((a) => normalizeAxis(a, rank, "Unsqueeze")).sort((u, v) => u - v);
    if (new Set(ax).size !== ax.length) throw new GraphShapeError(`Unsqueeze: repeated axes [${axes.join(",")}]`);
    const out: number[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : x.shape[j++]);
    return this.emit1("Unsqueeze", [x, this.int64s(ax)], x.dtype, out, {}, { axes: ax });
  }

  concat(xs: readonly Value[], axis: number): Value {
    if (xs.length === 0) throw new GraphShapeError("Concat: no inputs");
    const rank = xs[0].shape.length;
    const a = normalizeAxis(axis, rank, "Concat");
    let total = 0;
    for (const x of xs) {
      this.requireSameDType("Concat", xs[0], x);
      if (x.shape.length !== rank || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
        throw new GraphShapeError(`Concat: ${x.name} ${formatShape(x.shape)} does not match ${formatShape(xs[0].shape)} off axis ${a}`);
      }
      total += x.shape[a];
    }
    const out = [...xs[0].shape];
    out[a] = total;
    return this.emit1("Concat", xs, xs[0].dtype, out, { axis: { kind: "int", value: a } }, { axis: a });
  }

  split(x: Value, axis: number, sizes: readonly number[]): Value[] {
    const a = normalizeAxis(axis, x.shape.length, "Split");
    if (sizes.reduce((p, s) => p + s, 0) !== x.shape[a] || sizes.some((s) => s < 0)) {
      throw new GraphShapeError(`Split: sizes [${sizes.join(",")}] do not sum to dimension ${x.shape[a]}`);
    }
    const specs = sizes.map((s) => {
      const shape = [...x.shape];
      shape[a] = s;
      return { dtype: x.dtype, shape };
    });
    return this.emit("Split", [x, this.int64s(sizes)], specs, { axis: { kind: "int", value: a } }, { axis: a, splitSizes: [...sizes] });
  }

  // ---------------------------------------------------------------- indexing

  /** Gather: output shape data[:axis] + indices.shape + data[axis+1:]. Indices must be non-negative here. */
  gather(data: Value, indices: Value, axis = 0): Value {
    this.requireInt64("Gather", indices);
    const a = normalizeAxis(axis, data.shape.length, "Gather");
    const out = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
    return this.emit1("Gather", [data, indices], data.dtype, out, { axis: { kind: "int", value: a } }, { axis: a });
  }

  /** GatherElements: output has the indices' shape; indices' dims must not exceed data's off the axis. */
  gatherElements(data: Value, indices: Value, axis: number): Value {
    this.requireInt64("GatherElements", indices);
    const a = normalizeAxis(axis, data.shape.length, "GatherElements");
    if (indices.shape.length !== data.shape.length || indices.shape.some((d, i) => i !== a && d > data.shape[i])) {
      throw new GraphShapeError(`GatherElements: indices ${formatShape(indices.shape)} do not fit data ${formatShape(data.shape)}`);
    }
    return this.emit1("GatherElements", [data, indices], data.dtype, indices.shape, { axis: { kind: "int", value: a } }, { axis: a });
  }

  /** ScatterElements with reduction "none" or "add": output has the data's shape. */
  scatterElements(data: Value, indices: Value, updates: Value, axis: number, reduction: "none" | "add"): Value {
    this.requireInt64("ScatterElements", indices);
    this.requireSameDType("ScatterElements", data, updates);
    const a = normalizeAxis(axis, data.shape.length, "ScatterElements");
    if (!shapeEquals(indices.shape, updates.shape) || indices.shape.length !== data.shape.length) {
      throw new GraphShapeError(`ScatterElements: indices ${formatShape(indices.shape)} and updates ${formatShape(updates.shape)} must match in shape and rank ${data.shape.length}`);
    }
    return this.emit1(
      "ScatterElements",
      [data, indices, updates],
      data.dtype,
      data.shape,
      { axis: { kind: "int", value: a }, reduction: { kind: "string", value: reduction } },
      { axis: a, reduction },
    );
  }

  // ---------------------------------------------------------------- reductions and normalizers

  private reduce(op: "ReduceSum" | "ReduceMean" | "ReduceMax", x: Value, axes: readonly number[], keepdims: boolean): Value {
    this.requireFloat(op, x);
    if (axes.length === 0) throw new GraphShapeError(`${op}: axes must not be empty`);
    const ax = [...new Set(axes.map((a) => normalizeAxis(a, x.shape.length, op)))].sort((u, v) => u - v);
    const out = keepdims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
    return this.emit1(op, [x, this.int64s(ax)], x.dtype, out, { keepdims: { kind: "int", value: keepdims ? 1 : 0 } }, { axes: ax, keepdims });
  }
  reduceSum(x: Value, axes: readonly number[], keepdims = true): Value { return this.reduce("ReduceSum", x, axes, keepdims); }
  reduceMean(x: Value, axes: readonly number[], keepdims = true): Value { return this.reduce("ReduceMean", x, axes, keepdims); }
  /** Inference only (no gradient). */
  reduceMax(x: Value, axes: readonly number[], keepdims = true): Value { return this.reduce("ReduceMax", x, axes, keepdims); }

  /** The k largest entries along `axis`, sorted descending, and their int64 indices (ties: the lower index first,
   *  as onnxruntime's TopK). Inference only (no gradient). */
  topK(x: Value, k: number, axis = -1): [values: Value, indices: Value] {
    this.requireFloat("TopK", x);
    const a = normalizeAxis(axis, x.shape.length, "TopK");
    if (!Number.isInteger(k) || k < 1 || k > x.shape[a]) throw new GraphShapeError(`TopK: k must be an integer in [1, ${x.shape[a]}], got ${k}`);
    const shape = x.shape.map((d, i) => (i === a ? k : d));
    const [values, indices] = this.emit("TopK", [x, this.int64s([k])], [{ dtype: x.dtype, shape }, { dtype: "int64", shape }], {
      axis: { kind: "int", value: a },
      largest: { kind: "int", value: 1 },
      sorted: { kind: "int", value: 1 },
    });
    return [values, indices];
  }

  softmax(x: Value, axis = -1): Value {
    const a = normalizeAxis(axis, x.shape.length, "Softmax");
    return this.emit1("Softmax", [x], this.requireFloat("Softmax", x), x.shape, { axis: { kind: "int", value: a } }, { axis: a });
  }
  logSoftmax(x: Value, axis = -1): Value {
    const a = normalizeAxis(axis, x.shape.length, "LogSoftmax");
    return this.emit1("LogSoftmax", [x], this.requireFloat("LogSoftmax", x), x.shape, { axis: { kind: "int", value: a } }, { axis: a });
  }

  // ---------------------------------------------------------------- shape-producing

  expand(x: Value, shape: readonly number[]): Value {
    const out = broadcastShapes(x.shape, shape, "Expand");
    if (shapeEquals(out, x.shape)) return x;
    return this.emit1("Expand", [x, this.int64s(shape)], x.dtype, out);
  }

  constantOfShape(shape: readonly number[], dtype: DType, value: number): Value {
    checkShape(shape, "ConstantOfShape");
    const data = arrayFor(dtype, 1);
    if (data instanceof BigInt64Array) data[0] = BigInt(value);
    else data[0] = value;
    return this.emit1("ConstantOfShape", [this.int64s(shape)], dtype, shape, {
      value: { kind: "tensor", dtype, shape: [1], data },
    });
  }

  zeros(shape: readonly number[], dtype: DType): Value {
    return this.constantOfShape(shape, dtype, 0);
  }

  shapeOf(x: Value): Value {
    return this.emit1("Shape", [x], "int64", [x.shape.length]);
  }

  // ---------------------------------------------------------------- serialization

  /** Writes the ModelProto. Initializers of `externalDataMinBytes` or more go to one external-data buffer. */
  serialize(options: SerializeOptions = {}): SerializedModel {
    if (this.outputs.length === 0) throw new GraphNameError(`graph "${this.graphName}" has no outputs`);
    const minBytes = options.externalDataMinBytes ?? Number.POSITIVE_INFINITY;
    const path = options.externalDataPath ?? "weights.bin";
    const external: Initializer[] = [];
    const inline: TensorMessage[] = [];
    let externalBytes = 0;
    for (const init of this.initializers) {
      if (init.data.byteLength >= minBytes) {
        external.push(init);
        externalBytes = align(externalBytes) + init.data.byteLength;
      }
    }
    const blob = new Uint8Array(externalBytes);
    let offset = 0;
    const externalSet = new Set(external);
    for (const init of this.initializers) {
      const dims = [...init.value.shape];
      const dataType = ELEMENT_TYPE[init.value.dtype];
      if (externalSet.has(init)) {
        offset = align(offset);
        blob.set(bytesOf(init.data), offset);
        inline.push({
          name: init.value.name,
          dims,
          dataType,
          dataLocation: OnnxDataLocation.EXTERNAL,
          externalData: [
            { key: "location", value: path },
            { key: "offset", value: String(offset) },
            { key: "length", value: String(init.data.byteLength) },
          ],
        });
        offset += init.data.byteLength;
      } else {
        inline.push({ name: init.value.name, dims, dataType, rawData: bytesOf(init.data) });
      }
    }
    const modelBytes = encodeModelProto({
      irVersion: IR_VERSION,
      producerName: "parm-platform",
      producerVersion: "0.1.0",
      opsetImport: [
        { domain: "", version: OPSET_VERSION },
        ...(this.nodes.some((n) => CONTRIB_DOMAIN[n.opType as ContribOpType] === "com.microsoft") ? [{ domain: "com.microsoft", version: MS_OPSET_VERSION }] : []),
      ],
      graph: {
        name: this.graphName,
        node: this.nodes.map((node, i) => nodeMessage(node, i)),
        initializer: inline,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    });
    const usesFloat64 =
      this.inputs.some((v) => v.dtype === "float64") ||
      this.initializers.some((i) => i.value.dtype === "float64") ||
      this.nodes.some((n) => n.outputs.some((v) => v.dtype === "float64"));
    return { modelBytes, externalData: external.length > 0 ? [{ path, data: blob }] : [], usesFloat64 };
  }
}

function align(offset: number): number {
  return Math.ceil(offset / 64) * 64;
}

function checkShape(shape: Shape, what: string): void {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new GraphShapeError(`${what}: invalid shape ${formatShape(shape)}`);
}

function valueInfo(value: Value): ValueInfoMessage {
  return {
    name: value.name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[value.dtype],
        shape: { dim: value.shape.map((d, i) => (value.dimNames?.[i] !== undefined ? { dimParam: value.dimNames[i] } : { dimValue: d })) },
      },
    },
  };
}

function attributeMessage(name: string, attr: AttributeValue): AttributeMessage {
  switch (attr.kind) {
    case "int":
      return { name, type: OnnxAttributeType.INT, i: attr.value };
    case "ints":
      return { name, type: OnnxAttributeType.INTS, ints: [...attr.value] };
    case "float":
      return { name, type: OnnxAttributeType.FLOAT, f: attr.value };
    case "string":
      return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(attr.value) };
    case "tensor":
      return {
        name,
        type: OnnxAttributeType.TENSOR,
        t: { name: "", dims: [...attr.shape], dataType: ELEMENT_TYPE[attr.dtype], rawData: bytesOf(attr.data) },
      };
  }
}

function nodeMessage(node: GraphNode, index: number): NodeMessage {
  return {
    input: node.inputs.map((v) => v.name),
    output: node.outputs.map((v) => v.name),
    name: `${node.opType}_${index}`,
    opType: node.opType,
    attribute: Object.entries(node.attributes).map(([name, attr]) => attributeMessage(name, attr)),
    ...(CONTRIB_DOMAIN[node.opType as ContribOpType] ? { domain: CONTRIB_DOMAIN[node.opType as ContribOpType] } : {}),
  };
}
