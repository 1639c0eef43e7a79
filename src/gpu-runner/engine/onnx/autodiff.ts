/**
 * @module engine/onnx/autodiff
 * Reverse-mode automatic differentiation of a GraphBuilder graph, appended to the same graph so that one run
 * returns the loss and every requested gradient.
 *
 * - Forward sweep: marks every float value that depends on a trainable tensor (`wrt`); only those receive
 *   gradients, so frozen weights cost no backward work beyond dX.
 * - Reverse sweep: one vector-Jacobian rule per op type (`vjpRules`); contributions to a value used several
 *   times are summed with Add; gradients of broadcast operands are reduced back with `sumTo` (axes computed at
 *   build time from the static shapes).
 * - LogSoftmax followed only by GatherElements on the same axis is differentiated as one fused op:
 *   dz = ScatterElements(-softmax(z) * Σg, idx, g, add), which never materializes the generic rules' extra
 *   vocabulary-sized tensors.
 */
import { AutodiffError, UnreachableCaseError } from "./errors.ts";
import {
  type ContribOpType,
  type InferenceOpType,
  isFloat,
  shapeEquals,
  sizeOf,
  type FloatDType,
  type GraphBuilder,
  type GraphNode,
  type OpType,
  type Shape,
  type Value,
} from "./builder.ts";

/** What a rule may use besides the node: the builder and which inputs need a gradient. */
export interface VjpContext {
  readonly b: GraphBuilder;
  /** True when input `index` of the node depends on a trainable tensor and so needs a gradient. */
  needs(index: number): boolean;
}

/** Gradient contributions to each input (undefined: none or not needed), given the outputs' gradients. */
export type VjpRule = (ctx: VjpContext, node: GraphNode, outGrads: readonly (Value | undefined)[]) => readonly (Value | undefined)[];

/** Reduces a broadcast gradient `g` back to `shape` (leading axes dropped, size-1 axes summed). */
export function sumTo(b: GraphBuilder, g: Value, shape: Shape): Value {
  if (shapeEquals(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  if (lead < 0) throw new AutodiffError(`sumTo: gradient ${JSON.stringify(g.shape)} has lower rank than ${JSON.stringify(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
    else if (shape[i - lead] !== g.shape[i]) {
      throw new AutodiffError(`sumTo: ${JSON.stringify(g.shape)} does not broadcast from ${JSON.stringify(shape)}`);
    }
  }
  const reduced = axes.length > 0 ? b.reduceSum(g, axes, true) : g;
  return b.reshape(reduced, shape);
}

function floatDType(v: Value): FloatDType {
  if (!isFloat(v.dtype)) throw new AutodiffError(`gradient of non-float value ${v.name}`);
  return v.dtype;
}

const nondifferentiable: VjpRule = () => [];

const broadcastBinary = (
  f: (ctx: VjpContext, a: Value, b: Value, y: Value, g: Value) => [Value | undefined, Value | undefined],
): VjpRule => (ctx, node, [g]) => {
  if (!g) return [];
  const [a, b] = node.inputs;
  const [ga, gb] = f(ctx, a, b, node.outputs[0], g);
  return [ga && sumTo(ctx.b, ga, a.shape), gb && sumTo(ctx.b, gb, b.shape)];
};

const unary = (f: (ctx: VjpContext, x: Value, y: Value, g: Value) => Value): VjpRule => (ctx, node, [g]) =>
  g ? [f(ctx, node.inputs[0], node.outputs[0], g)] : [];

/** One vector-Jacobian rule per standard op type (contrib ops are for inference graphs and have none). Rules
 *  emit only ops that themselves have rules here. */
export const vjpRules: Record<Exclude<OpType, ContribOpType | InferenceOpType>, VjpRule> = {
  Add: broadcastBinary((ctx, _a, _b, _y, g) => [ctx.needs(0) ? g : undefined, ctx.needs(1) ? g : undefined]),
  Sub: broadcastBinary((ctx, _a, _b, _y, g) => [ctx.needs(0) ? g : undefined, ctx.needs(1) ? ctx.b.neg(g) : undefined]),
  Mul: broadcastBinary((ctx, a, b, _y, g) => [
    ctx.needs(0) ? ctx.b.mul(g, b) : undefined,
    ctx.needs(1) ? ctx.b.mul(g, a) : undefined,
  ]),
  Div: broadcastBinary((ctx, _a, b, y, g) => [
    ctx.needs(0) ? ctx.b.div(g, b) : undefined,
    ctx.needs(1) ? ctx.b.neg(ctx.b.div(ctx.b.mul(g, y), b)) : undefined,
  ]),
  Neg: unary((ctx, _x, _y, g) => ctx.b.neg(g)),
  Exp: unary((ctx, _x, y, g) => ctx.b.mul(g, y)),
  Log: unary((ctx, x, _y, g) => ctx.b.div(g, x)),
  Sqrt: unary((ctx, _x, y, g) => ctx.b.mul(ctx.b.div(g, y), ctx.b.scalar(0.5, floatDType(y)))),
  Reciprocal: unary((ctx, _x, y, g) => ctx.b.neg(ctx.b.mul(g, ctx.b.mul(y, y)))),
  Sigmoid: unary((ctx, _x, y, g) => ctx.b.mul(g, ctx.b.mul(y, ctx.b.sub(ctx.b.scalar(1, floatDType(y)), y)))),
  Softplus: unary((ctx, x, _y, g) => ctx.b.mul(g, ctx.b.sigmoid(x))),
  Relu: unary((ctx, _x, y, g) => ctx.b.mul(g, ctx.b.sign(y))),
  Abs: unary((ctx, x, _y, g) => ctx.b.mul(g, ctx.b.sign(x))),
  Sign: nondifferentiable,
  Identity: unary((_ctx, _x, _y, g) => g),
  Cast: (ctx, node, [g]) => {
    const x = node.inputs[0];
    return g && isFloat(x.dtype) ? [ctx.b.cast(g, x.dtype)] : [];
  },
  MatMul: (ctx, node, [g]) => {
    if (!g) return [];
    const b = ctx.b;
    const [x, w] = node.inputs;
    let gx: Value | undefined;
    let gw: Value | undefined;
    if (ctx.needs(0)) gx = sumTo(b, b.matMul(g, b.transposeLast2(w)), x.shape);
    if (ctx.needs(1)) {
      if (w.shape.length === 2 && x.shape.length > 2) {
        const k = x.shape[x.shape.length - 1];
        const n = w.shape[1];
        gw = b.matMul(b.transpose(b.reshape(x, [-1, k])), b.reshape(g, [-1, n]));
      } else {
        gw = sumTo(b, b.matMul(b.transposeLast2(x), g), w.shape);
      }
    }
    return [gx, gw];
  },
  Transpose: (ctx, node, [g]) => {
    if (!g) return [];
    const perm = node.params.perm ?? [];
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [ctx.b.transpose(g, inverse)];
  },
  Reshape: unary((ctx, x, _y, g) => ctx.b.reshape(g, x.shape)),
  Squeeze: unary((ctx, x, _y, g) => ctx.b.reshape(g, x.shape)),
  Unsqueeze: unary((ctx, x, _y, g) => ctx.b.reshape(g, x.shape)),
  Concat: (ctx, node, [g]) => {
    if (!g) return [];
    const axis = node.params.axis ?? 0;
    return ctx.b.split(g, axis, node.inputs.map((x) => x.shape[axis]));
  },
  Split: (ctx, node, outGrads) => {
    const parts = node.outputs.map((y, i) => outGrads[i] ?? ctx.b.zeros(y.shape, floatDType(y)));
    return [ctx.b.concat(parts, node.params.axis ?? 0)];
  },
  Gather: (ctx, node, [g]) => {
    if (!g || !ctx.needs(0)) return [];
    const b = ctx.b;
    const [data, indices] = node.inputs;
    const axis = node.params.axis ?? 0;
    const count = sizeOf(indices.shape);
    const grouped = [...data.shape.slice(0, axis), count, ...data.shape.slice(axis + 1)];
    const gGrouped = b.reshape(g, grouped);
    const indexShape = grouped.map((d, i) => (i === axis ? d : 1));
    const idx = b.expand(b.reshape(indices, indexShape), grouped);
    return [b.scatterElements(b.zeros(data.shape, floatDType(data)), idx, gGrouped, axis, "add")];
  },
  GatherElements: (ctx, node, [g]) => {
    if (!g || !ctx.needs(0)) return [];
    const [data, indices] = node.inputs;
    return [ctx.b.scatterElements(ctx.b.zeros(data.shape, floatDType(data)), indices, g, node.params.axis ?? 0, "add")];
  },
  ScatterElements: (ctx, node, [g]) => {
    if (!g) return [];
    const b = ctx.b;
    const [, indices, updates] = node.inputs;
    const axis = node.params.axis ?? 0;
    const reduction = node.params.reduction ?? "none";
    let gData: Value | undefined;
    if (ctx.needs(0)) {
      switch (reduction) {
        case "add":
          gData = g;
          break;
        case "none":
          gData = b.scatterElements(g, indices, b.zeros(updates.shape, floatDType(updates)), axis, "none");
          break;
        default:
          throw new UnreachableCaseError(reduction);
      }
    }
    const gUpdates = ctx.needs(2) ? b.gatherElements(g, indices, axis) : undefined;
    return [gData, undefined, gUpdates];
  },
  ReduceSum: (ctx, node, [g]) => (g ? [expandReduced(ctx.b, node, g)] : []),
  ReduceMean: (ctx, node, [g]) => {
    if (!g) return [];
    const x = node.inputs[0];
    const count = (node.params.axes ?? []).reduce((p, a) => p * x.shape[a], 1);
    return [ctx.b.mul(expandReduced(ctx.b, node, g), ctx.b.scalar(1 / count, floatDType(x)))];
  },
  Softmax: (ctx, node, [g]) => {
    if (!g) return [];
    const b = ctx.b;
    const y = node.outputs[0];
    const axis = node.params.axis ?? -1;
    return [b.mul(y, b.sub(g, b.reduceSum(b.mul(g, y), [axis], true)))];
  },
  LogSoftmax: (ctx, node, [g]) => {
    if (!g) return [];
    const b = ctx.b;
    const y = node.outputs[0];
    const axis = node.params.axis ?? -1;
    return [b.sub(g, b.mul(b.exp(y), b.reduceSum(g, [axis], true)))];
  },
  Expand: (ctx, node, [g]) => (g ? [sumTo(ctx.b, g, node.inputs[0].shape)] : []),
  ConstantOfShape: nondifferentiable,
  Shape: nondifferentiable,
  Dropout: (ctx, node, [g]) => {
    if (!g) return [];
    const b = ctx.b;
    const [x, ratio] = node.inputs;
    const dtype = floatDType(x);
    const keep = b.cast(node.outputs[1], dtype);
    const scale = b.reciprocal(b.sub(b.scalar(1, dtype), ratio.dtype === dtype ? ratio : b.cast(ratio, dtype)));
    return [b.mul(b.mul(g, keep), scale)];
  },
};

function expandReduced(b: GraphBuilder, node: GraphNode, g: Value): Value {
  const x = node.inputs[0];
  const axes = node.params.axes ?? [];
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return b.expand(b.reshape(g, kept), x.shape);
}

export interface GradientOptions {
  /** Use the fused LogSoftmax+GatherElements rule where it applies (default true). */
  readonly fuseLogSoftmaxGather?: boolean;
}

/**
 * Appends the gradient of sum(loss) with respect to each `wrt` value to the builder's graph and returns them by
 * `wrt` name. A `wrt` value that the loss does not depend on gets a zero tensor.
 */
export function appendGradients(
  b: GraphBuilder,
  loss: Value,
  wrt: readonly Value[],
  options: GradientOptions = {},
): Map<string, Value> {
  if (!isFloat(loss.dtype)) throw new AutodiffError(`loss ${loss.name} must be float, not ${loss.dtype}`);
  for (const w of wrt) if (!isFloat(w.dtype)) throw new AutodiffError(`cannot differentiate with respect to ${w.dtype} value ${w.name}`);
  const fuse = options.fuseLogSoftmaxGather ?? true;
  const forward = [...b.nodes];

  // Forward sweep: which values depend on a trainable tensor.
  const active = new Set(wrt.map((w) => w.name));
  const producer = new Map<string, GraphNode>();
  const consumers = new Map<string, number>();
  for (const node of forward) {
    for (const out of node.outputs) producer.set(out.name, node);
    for (const inp of node.inputs) consumers.set(inp.name, (consumers.get(inp.name) ?? 0) + 1);
    if (node.inputs.some((v) => active.has(v.name))) {
      for (const out of node.outputs) if (isFloat(out.dtype)) active.add(out.name);
    }
  }
  if (!active.has(loss.name)) throw new AutodiffError(`loss ${loss.name} does not depend on any trainable tensor`);

  const grads = new Map<string, Value>();
  const accumulate = (target: Value, g: Value): void => {
    if (!shapeEquals(g.shape, target.shape)) {
      throw new AutodiffError(`gradient for ${target.name} has shape ${JSON.stringify(g.shape)}, expected ${JSON.stringify(target.shape)}`);
    }
    const prev = grads.get(target.name);
    grads.set(target.name, prev ? b.add(prev, g) : g);
  };

  const seedData = loss.dtype === "float32" ? new Float32Array(sizeOf(loss.shape)).fill(1) : new Float64Array(sizeOf(loss.shape)).fill(1);
  grads.set(loss.name, b.constant(loss.dtype, loss.shape, seedData, "grad_seed"));

  for (let n = forward.length - 1; n >= 0; n--) {
    const node = forward[n];
    if (!node.outputs.some((o) => active.has(o.name))) continue;
    const outGrads = node.outputs.map((o) => grads.get(o.name));
    if (outGrads.every((g) => g === undefined)) continue;
    const needs = (i: number): boolean => i < node.inputs.length && active.has(node.inputs[i].name);

    if (fuse && node.opType === "GatherElements" && outGrads[0]) {
      const fused = fusedLogSoftmaxGather(b, node, outGrads[0], producer, consumers);
      if (fused) {
        if (active.has(fused.target.name)) accumulate(fused.target, fused.grad);
        continue;
      }
    }
    const rule = (vjpRules as Partial<Record<OpType, VjpRule>>)[node.opType];
    if (!rule) throw new AutodiffError(`no VJP rule for op ${node.opType}`);
    const inGrads = rule({ b, needs }, node, outGrads);
    inGrads.forEach((g, i) => {
      if (g && needs(i)) accumulate(node.inputs[i], g);
    });
  }

  const result = new Map<string, Value>();
  for (const w of wrt) result.set(w.name, grads.get(w.name) ?? b.zeros(w.shape, w.dtype));
  return result;
}

/** The fused gradient of GatherElements(LogSoftmax(z, a), idx, a) with respect to z, or undefined when the
 *  pattern does not apply (other consumers of the log-probs, different axes, or indices narrower than z). */
function fusedLogSoftmaxGather(
  b: GraphBuilder,
  node: GraphNode,
  g: Value,
  producer: ReadonlyMap<string, GraphNode>,
  consumers: ReadonlyMap<string, number>,
): { target: Value; grad: Value } | undefined {
  const [logProbs, indices] = node.inputs;
  const source = producer.get(logProbs.name);
  if (!source || source.opType !== "LogSoftmax") return undefined;
  if ((consumers.get(logProbs.name) ?? 0) !== 1 || b.outputs.some((o) => o.name === logProbs.name)) return undefined;
  const axis = node.params.axis ?? 0;
  if (source.params.axis !== axis) return undefined;
  if (indices.shape.some((d, i) => i !== axis && d !== logProbs.shape[i])) return undefined;
  const gSum = indices.shape[axis] === 1 ? g : b.reduceSum(g, [axis], true);
  const spread = b.mul(b.exp(logProbs), b.neg(gSum));
  return { target: source.inputs[0], grad: b.scatterElements(spread, indices, g, axis, "add") };
}
