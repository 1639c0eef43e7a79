/**
 * @module engine/session/session
 * Creates onnxruntime-node inference sessions from models the engine built (bytes plus external data) and runs
 * them with typed feeds and fetches. The execution provider is chosen here and only here:
 * - "cpu" (default): the CPU provider.
 * - "cuda": the CUDA provider or a SessionCreateError (its libraries are not bundled with onnxruntime-node).
 * - "webgpu": onnxruntime's WebGPU provider (Dawn over Vulkan, bundled on linux/x64) or a SessionCreateError.
 *   Nodes it has no kernel for run on the CPU provider inside the same session (docs/operations.md lists them).
 *   Which Vulkan adapter it uses is decided once per process (gpu-runner/device pins the drivers).
 * - "auto": CUDA when it loads, else CPU, with one log line saying why (runners decide with gpu-runner/device
 *   instead, which never lets onnxruntime print CUDA's load error).
 * `run` blocks the calling thread for the duration of the native call; interactive callers use a worker thread.
 */
import * as ort from "onnxruntime-node";
import { shapeEquals, sizeOf, type DType, type HostTensor, type SerializedModel, type Shape } from "../onnx/index.ts";
import { categoryOfCause, EngineError } from "../util/errors.ts";

export type { HostTensor };

export type ExecutionProviderChoice = "cpu" | "cuda" | "webgpu" | "auto";
export type ExecutionProviderName = Exclude<ExecutionProviderChoice, "auto">;
export type GraphOptimizationLevel = "disabled" | "basic" | "extended" | "all";

export interface SessionLogger {
  info(message: string): void;
}

export interface EngineSessionOptions {
  readonly executionProvider?: ExecutionProviderChoice;
  /** Threads inside one op (default: onnxruntime's choice, all cores). */
  readonly intraOpNumThreads?: number;
  readonly interOpNumThreads?: number;
  /** Default "all", or "basic" for models with float64 values; asking "extended"/"all" for those is an error
   *  (onnxruntime fuses x·sigmoid(x) into the float-only com.microsoft.QuickGelu and scales into FusedMatMul). */
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  readonly enableCpuMemArena?: boolean;
  readonly enableMemPattern?: boolean;
  /** Whether onnxruntime's intra-/inter-op threads spin-wait for work after a run (default false). Spinning only
   *  pays when one session runs back to back; the engine alternates sessions (base + ARMs per decode step, ARM +
   *  scorer), and a spinning pool of one session takes the cores the next one needs: bench/decode.ts measured
   *  GenARM (3 sessions a step) 2.6× slower on 2 cores with spinning. */
  readonly allowSpinning?: boolean;
  /** Dumps the optimized graph (debugging). */
  readonly optimizedModelFilePath?: string;
  readonly logger?: SessionLogger;
  /** Outputs kept where the provider computed them, returned by `runKeeping` as {@link DeviceTensor}s that later
   *  runs take as feeds (WebGPU: GPU buffers, so KV caches, logits and weights need not cross to the host; other
   *  providers: host memory, so the same code runs everywhere). `run` refuses to fetch them. */
  readonly deviceOutputs?: readonly string[];
  /** Session factory seam (tests inject failures); defaults to onnxruntime-node's InferenceSession.create. */
  readonly createSession?: (bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;
}


/** onnxruntime could not create a session; with a cause, the cause's category (out of memory: "resource"). */
export class SessionCreateError extends EngineError<"SESSION_CREATE_FAILED"> {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SESSION_CREATE_FAILED", message, { cause: options?.cause, category: options?.cause === undefined ? undefined : categoryOfCause(options.cause) });
  }
}

/** A run failed; with onnxruntime's error as cause, its category (out of memory: "resource"; a Gather index past
 *  a table, i.e. a position beyond the context: "context-exceeded"). */
export class SessionRunError extends EngineError<"SESSION_RUN_FAILED"> {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SESSION_RUN_FAILED", message, { cause: options?.cause, category: options?.cause === undefined ? undefined : categoryOfCause(options.cause) });
  }
}

const ORT_TYPE: Record<DType, "float32" | "float64" | "int64" | "bool" | "int32" | "uint8" | "float16"> = {
  float32: "float32",
  float64: "float64",
  int32: "int32",
  uint8: "uint8",
  float16: "float16",
  int64: "int64",
  bool: "bool",
};

/**
 * An output a session kept on its device (`deviceOutputs`): a handle to feed to later runs of any session of this
 * process, never read on the host (onnxruntime-node cannot download a WebGPU buffer: reading one aborts the
 * process). `dispose` frees the device memory; a disposed tensor must not be fed again.
 */
export class DeviceTensor {
  /** @internal */
  constructor(readonly tensor: ort.Tensor) {}
  get dims(): readonly number[] {
    return this.tensor.dims;
  }
  get dtype(): string {
    return this.tensor.type;
  }
  /** "gpu-buffer" on WebGPU, "cpu" elsewhere. */
  get location(): string {
    return this.tensor.location;
  }
  dispose(): void {
    this.tensor.dispose();
  }
}

function toOrtTensor(name: string, t: HostTensor | DeviceTensor): ort.Tensor {
  if (t instanceof DeviceTensor) return t.tensor;
  if (t.data.length !== sizeOf(t.shape)) {
    throw new SessionRunError(`feed "${name}": ${t.data.length} elements for shape [${t.shape.join(",")}]`);
  }
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, [...t.shape]);
}

function fromOrtTensor(name: string, t: ort.Tensor): HostTensor {
  if (t.location !== "cpu") throw new SessionRunError(`output "${name}" is on the device (${t.location}): fetch it with runKeeping`);
  const shape = t.dims.map(Number);
  switch (t.type) {
    case "float32":
      return { dtype: "float32", shape, data: t.data as Float32Array };
    case "float64":
      return { dtype: "float64", shape, data: t.data as Float64Array };
    case "int64":
      return { dtype: "int64", shape, data: t.data as BigInt64Array };
    case "bool":
      return { dtype: "bool", shape, data: t.data as Uint8Array };
    case "int32":
      return { dtype: "int32", shape, data: t.data as Int32Array };
    case "uint8":
      return { dtype: "uint8", shape, data: t.data as Uint8Array };
    case "float16":
      return { dtype: "float16", shape, data: t.data as Uint16Array };
    default:
      throw new SessionRunError(`output "${name}" has unsupported element type ${t.type}`);
  }
}

/** A created session: the provider actually used, its declared inputs/outputs, and typed `run`. */
export class EngineSession {
  constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: ExecutionProviderName,
    readonly deviceOutputs: ReadonlySet<string> = new Set(),
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /**
   * Runs with `feeds` (every graph input) and returns `fetches` (default: every output) by name. `into` names
   * outputs onnxruntime writes into the given host tensors (pre-allocated; with the CPU provider a buffer that is
   * also fed as an input is the same memory, which is how GroupQueryAttention updates a shared KV buffer in
   * place); they are fetched in addition to `fetches`. onnxruntime-node 1.30 still returns each of them as a new
   * array (a copy of the whole tensor per run, docs/engine.md §7), so decoding does not use this for its cache.
   */
  async run(
    feeds: Readonly<Record<string, HostTensor | DeviceTensor>>,
    fetches?: readonly string[],
    into?: Readonly<Record<string, HostTensor>>,
  ): Promise<Record<string, HostTensor>> {
    const missing = this.session.inputNames.filter((n) => !(n in feeds));
    if (missing.length > 0) throw new SessionRunError(`missing feeds: ${missing.join(", ")}`);
    const extra = Object.keys(feeds).filter((n) => !this.session.inputNames.includes(n));
    if (extra.length > 0) throw new SessionRunError(`unknown feeds: ${extra.join(", ")}`);
    const unknownFetch = (fetches ?? []).filter((n) => !this.session.outputNames.includes(n));
    if (unknownFetch.length > 0) throw new SessionRunError(`unknown fetches: ${unknownFetch.join(", ")}`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(name, t);
    let result: ort.InferenceSession.ReturnType;
    try {
      if (into) {
        const unknownInto = Object.keys(into).filter((n) => !this.session.outputNames.includes(n));
        if (unknownInto.length > 0) throw new SessionRunError(`unknown pre-allocated outputs: ${unknownInto.join(", ")}`);
        const outputs: Record<string, ort.Tensor | null> = {};
        for (const name of fetches ?? this.session.outputNames) outputs[name] = null;
        for (const [name, t] of Object.entries(into)) outputs[name] = toOrtTensor(name, t);
        result = await this.session.run(ortFeeds, outputs);
      } else {
        result = fetches ? await this.session.run(ortFeeds, [...fetches]) : await this.session.run(ortFeeds);
      }
    } catch (cause) {
      throw new SessionRunError(`session run failed: ${(cause as Error).message}`, { cause });
    }
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(result)) out[name] = fromOrtTensor(name, t);
    return out;
  }

  /** Runs like `run` (every graph input fed, host or device tensors) and returns the host outputs among `fetches`
   *  (default: every output) and the `deviceOutputs` among them as DeviceTensors, which the caller disposes. */
  async runKeeping(
    feeds: Readonly<Record<string, HostTensor | DeviceTensor>>,
    fetches: readonly string[] = this.session.outputNames,
  ): Promise<{ host: Record<string, HostTensor>; device: Record<string, DeviceTensor> }> {
    const missing = this.session.inputNames.filter((n) => !(n in feeds));
    if (missing.length > 0) throw new SessionRunError(`missing feeds: ${missing.join(", ")}`);
    const unknown = [...Object.keys(feeds).filter((n) => !this.session.inputNames.includes(n)), ...fetches.filter((n) => !this.session.outputNames.includes(n))];
    if (unknown.length > 0) throw new SessionRunError(`unknown feeds or fetches: ${unknown.join(", ")}`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(name, t);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.session.run(ortFeeds, [...fetches]);
    } catch (cause) {
      throw new SessionRunError(`session run failed: ${(cause as Error).message}`, { cause });
    }
    const host: Record<string, HostTensor> = {};
    const device: Record<string, DeviceTensor> = {};
    for (const [name, t] of Object.entries(result)) {
      if (this.deviceOutputs.has(name)) device[name] = new DeviceTensor(t);
      else host[name] = fromOrtTensor(name, t);
    }
    return { host, device };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Creates a session for `model`. See the module comment for provider selection. */
export async function createEngineSession(model: SerializedModel, options: EngineSessionOptions = {}): Promise<EngineSession> {
  const create = options.createSession ?? ((bytes, opts) => ort.InferenceSession.create(bytes, opts));
  const level = options.graphOptimizationLevel ?? (model.usesFloat64 ? "basic" : "all");
  if (model.usesFloat64 && (level === "extended" || level === "all")) {
    throw new SessionCreateError(
      `graphOptimizationLevel "${level}" cannot run a float64 model (onnxruntime fuses into float-only kernels); use "basic" or "disabled"`,
    );
  }
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: level,
    ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    ...(options.interOpNumThreads !== undefined ? { interOpNumThreads: options.interOpNumThreads } : {}),
    ...(options.enableCpuMemArena !== undefined ? { enableCpuMemArena: options.enableCpuMemArena } : {}),
    ...(options.enableMemPattern !== undefined ? { enableMemPattern: options.enableMemPattern } : {}),
    ...(options.optimizedModelFilePath !== undefined ? { optimizedModelFilePath: options.optimizedModelFilePath } : {}),
    extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? "1" : "0" }, inter_op: { allow_spinning: options.allowSpinning ? "1" : "0" } } },
    ...(model.externalData.length > 0 ? { externalData: model.externalData.map((f) => ({ path: f.path, data: f.data })) } : {}),
  };
  const choice = options.executionProvider ?? "cpu";
  // WebGPU sessions log at "error": onnxruntime warns at every session that some nodes run on the CPU (int64 shape
  // ops always do); gpu-runner/device's nodePlacement reports which.
  const deviceOutputs = new Set(options.deviceOutputs ?? []);
  const onGpu = (provider: ExecutionProviderName): Partial<ort.InferenceSession.SessionOptions> =>
    provider === "webgpu"
      ? { logSeverityLevel: 3, ...(deviceOutputs.size > 0 ? { preferredOutputLocation: Object.fromEntries([...deviceOutputs].map((n) => [n, "gpu-buffer" as const])) } : {}) }
      : {};
  const tryCreate = async (provider: ExecutionProviderName): Promise<EngineSession> =>
    new EngineSession(await create(model.modelBytes, { ...base, executionProviders: [provider], ...onGpu(provider) }), provider, deviceOutputs);
  switch (choice) {
    case "cpu":
      try {
        return await tryCreate("cpu");
      } catch (cause) {
        throw new SessionCreateError(`cannot create CPU session: ${(cause as Error).message}`, { cause });
      }
    case "cuda":
      try {
        return await tryCreate("cuda");
      } catch (cause) {
        throw new SessionCreateError(`cannot create CUDA session: ${(cause as Error).message}`, { cause });
      }
    case "webgpu":
      try {
        return await tryCreate("webgpu");
      } catch (cause) {
        throw new SessionCreateError(`cannot create WebGPU session: ${firstLine((cause as Error).message)}`, { cause });
      }
    case "auto": {
      try {
        const session = await tryCreate("cuda");
        options.logger?.info("onnxruntime execution provider: cuda");
        return session;
      } catch (cause) {
        options.logger?.info(`onnxruntime execution provider: cpu (cuda unavailable: ${firstLine((cause as Error).message)})`);
      }
      try {
        return await tryCreate("cpu");
      } catch (cause) {
        throw new SessionCreateError(`cannot create CPU session: ${(cause as Error).message}`, { cause });
      }
    }
    default:
      throw new SessionCreateError(`unknown execution provider "${String(choice satisfies never)}"`);
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0].slice(0, 300);
}

/** Checks that `t` has the expected dtype and shape; throws SessionRunError naming `what` otherwise. */
export function expectTensor(what: string, t: HostTensor | undefined, dtype: DType, shape: Shape): HostTensor {
  if (!t) throw new SessionRunError(`${what}: missing`);
  if (t.dtype !== dtype || !shapeEquals(t.shape, shape)) {
    throw new SessionRunError(`${what}: expected ${dtype}[${shape.join(",")}], got ${t.dtype}[${t.shape.join(",")}]`);
  }
  return t;
}
