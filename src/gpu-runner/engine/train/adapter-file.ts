/** @module engine/train/adapter-file
 * Trained ARM adapters as safetensors files: float32 tensors named as model/pblora.ts does
 * (`layers.{i}.{target}.pblora_{A,B,W1,W2}` for PARM, `layers.{i}.{target}.lora_{A,B}` for GenARM), and string
 * metadata:
 *   parm.format = "parm-adapter", parm.version = "1", method = PARM | GENARM,
 *   dimensions = JSON array of dimension names in α order (GenARM: exactly one, the objective of this ARM),
 *   r1, r2 (GenARM: r1 = LoRA rank, r2 = 0), loraAlpha, scale (= loraAlpha / r2 for PARM, loraAlpha / r1 for
 *   GenARM), targets = JSON array of adapted projections, baseModelDigest = sha256 hex of the base model.
 * Import validates metadata, names, every shape against the ranks (and against a base `LlamaConfig` when given)
 * and finiteness, and checks the base-model digest when the caller expects one.
 */
import { EngineError, UnreachableCaseError } from "../util/errors.ts";
import type { LlamaConfig, WeightTensor } from "../model/config.ts";
import { parseSafetensors, SafetensorsError, writeSafetensors } from "../model/safetensors.ts";

export type AdapterMethod = "PARM" | "GENARM";
export const ADAPTER_FILE_TARGETS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
export type AdapterFileTarget = (typeof ADAPTER_FILE_TARGETS)[number];

export interface AdapterFileMetadata {
  readonly method: AdapterMethod;
  readonly dimensions: readonly string[];
  readonly r1: number;
  readonly r2: number;
  readonly loraAlpha: number;
  readonly scale: number;
  readonly targets: readonly AdapterFileTarget[];
  readonly baseModelDigest: string;
}

export interface AdapterFile {
  readonly metadata: AdapterFileMetadata;
  readonly tensors: ReadonlyMap<string, WeightTensor>;
}

export type AdapterFileErrorCode = "INVALID_METADATA" | "INVALID_TENSORS" | "BASE_MODEL_MISMATCH" | "NOT_AN_ADAPTER" | "UNSUPPORTED_VERSION";

export class AdapterFileError extends EngineError<AdapterFileErrorCode> {
  static override readonly category = "invalid-input";
}

const FORMAT = "parm-adapter";
const VERSION = "1";

/** scale implied by the ranks: loraAlpha / r2 (PARM) or loraAlpha / r1 (GenARM). */
export function adapterFileScale(method: AdapterMethod, r1: number, r2: number, loraAlpha: number): number {
  return loraAlpha / (method === "PARM" ? r2 : r1);
}

function validateMetadata(m: AdapterFileMetadata): void {
  const fail = (message: string): never => {
    throw new AdapterFileError("INVALID_METADATA", message);
  };
  if (m.method !== "PARM" && m.method !== "GENARM") fail(`method must be PARM or GENARM, got ${JSON.stringify(m.method)}`);
  if (!Array.isArray(m.dimensions) || m.dimensions.length === 0 || !m.dimensions.every((d) => typeof d === "string" && d.length > 0)) {
    fail("dimensions must be a non-empty list of names");
  }
  if (new Set(m.dimensions).size !== m.dimensions.length) fail(`dimensions repeat: ${JSON.stringify(m.dimensions)}`);
  if (m.method === "GENARM" && m.dimensions.length !== 1) fail(`a GENARM adapter scores one dimension, got ${m.dimensions.length}`);
  if (m.method === "PARM") {
    if (!Number.isInteger(m.r1) || m.r1 < 0) fail(`r1 must be an integer ≥ 0, got ${m.r1}`);
    if (!Number.isInteger(m.r2) || m.r2 < 1) fail(`r2 must be an integer ≥ 1, got ${m.r2}`);
  } else {
    if (!Number.isInteger(m.r1) || m.r1 < 1) fail(`r1 (the LoRA rank) must be an integer ≥ 1, got ${m.r1}`);
    if (m.r2 !== 0) fail(`r2 must be 0 for GENARM, got ${m.r2}`);
  }
  if (!(m.loraAlpha > 0)) fail(`loraAlpha must be positive, got ${m.loraAlpha}`);
  const expected = adapterFileScale(m.method, m.r1, m.r2, m.loraAlpha);
  if (!(Math.abs(m.scale - expected) <= 1e-12 * Math.abs(expected))) fail(`scale ${m.scale} does not equal loraAlpha / rank = ${expected}`);
  if (!Array.isArray(m.targets) || m.targets.length === 0 || !m.targets.every((t) => (ADAPTER_FILE_TARGETS as readonly string[]).includes(t))) {
    fail(`targets must be a non-empty subset of ${ADAPTER_FILE_TARGETS.join(", ")}, got ${JSON.stringify(m.targets)}`);
  }
  if (new Set(m.targets).size !== m.targets.length) fail(`targets repeat: ${JSON.stringify(m.targets)}`);
  if (typeof m.baseModelDigest !== "string" || !/^[0-9a-f]{64}$/.test(m.baseModelDigest)) fail("baseModelDigest must be a lower-case sha256 hex digest");
}

function projectionDims(config: LlamaConfig, target: AdapterFileTarget): { inDim: number; outDim: number } {
  const q = config.nHeads * config.headDim;
  const kv = config.nKvHeads * config.headDim;
  switch (target) {
    case "q": return { inDim: config.dim, outDim: q };
    case "k":
    case "v": return { inDim: config.dim, outDim: kv };
    case "o": return { inDim: q, outDim: config.dim };
    case "gate":
    case "up": return { inDim: config.dim, outDim: config.ffnDim };
    case "down": return { inDim: config.ffnDim, outDim: config.dim };
    default:
      throw new UnreachableCaseError(target);
  }
}

function validateTensors(m: AdapterFileMetadata, tensors: ReadonlyMap<string, WeightTensor>, config?: LlamaConfig): void {
  const fail = (message: string): never => {
    throw new AdapterFileError("INVALID_TENSORS", message);
  };
  const parts = m.method === "PARM" ? (m.r1 > 0 ? ["pblora_A", "pblora_B", "pblora_W1", "pblora_W2"] : ["pblora_A", "pblora_B", "pblora_W2"]) : ["lora_A", "lora_B"];
  const rank = m.method === "PARM" ? m.r1 + m.r2 : m.r1;
  const seen = new Map<string, Set<string>>();
  const pattern = /^layers\.(\d+)\.([a-z]+)\.([A-Za-z0-9_]+)$/;
  if (tensors.size === 0) fail("the adapter has no tensors");
  for (const [name, tensor] of tensors) {
    const match = pattern.exec(name);
    if (!match) fail(`tensor ${name} is not named layers.{i}.{target}.{part}`);
    const [, layerText, target, part] = match!;
    if (!(m.targets as readonly string[]).includes(target)) fail(`tensor ${name} adapts ${target}, which is not among the targets ${JSON.stringify(m.targets)}`);
    if (!parts.includes(part)) fail(`tensor ${name}: part ${part} does not belong to a ${m.method} adapter with r1 = ${m.r1}`);
    const layer = Number(layerText);
    if (config && layer >= config.nLayers) fail(`tensor ${name}: layer ${layer} is beyond the base model's ${config.nLayers} layers`);
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (tensor.shape.length !== 2 || count !== tensor.data.length) fail(`tensor ${name} must be 2-D with matching data, got shape [${tensor.shape}] and ${tensor.data.length} values`);
    for (let i = 0; i < tensor.data.length; i++) if (!Number.isFinite(tensor.data[i])) fail(`tensor ${name}[${i}] is ${tensor.data[i]}`);
    const key = `layers.${layer}.${target}`;
    if (!seen.has(key)) seen.set(key, new Set());
    seen.get(key)!.add(part);
    const [rows, cols] = tensor.shape;
    const expectShape = (shape: number[]) => {
      if (rows !== shape[0] || cols !== shape[1]) fail(`tensor ${name} has shape [${tensor.shape}], expected [${shape}]`);
    };
    const projection = config ? projectionDims(config, target as AdapterFileTarget) : undefined;
    switch (part) {
      case "pblora_A":
      case "lora_A":
        expectShape([rank, projection?.inDim ?? cols]);
        break;
      case "pblora_B":
      case "lora_B":
        expectShape([projection?.outDim ?? rows, rank]);
        break;
      case "pblora_W1":
        expectShape([m.r1, m.r1]);
        break;
      case "pblora_W2":
        expectShape([m.dimensions.length, m.r2 * m.r2]);
        break;
    }
  }
  for (const [key, present] of seen) {
    const missing = parts.filter((p) => !present.has(p));
    if (missing.length > 0) fail(`${key} lacks ${missing.join(", ")}`);
  }
  if (config) {
    for (let layer = 0; layer < config.nLayers; layer++) {
      for (const target of m.targets) if (!seen.has(`layers.${layer}.${target}`)) fail(`layers.${layer}.${target} has no adapter tensors`);
    }
  }
}

export function exportAdapter(tensors: ReadonlyMap<string, WeightTensor>, metadata: AdapterFileMetadata, config?: LlamaConfig): Uint8Array {
  validateMetadata(metadata);
  validateTensors(metadata, tensors, config);
  return writeSafetensors(tensors, {
    metadata: {
      "parm.format": FORMAT,
      "parm.version": VERSION,
      method: metadata.method,
      dimensions: JSON.stringify(metadata.dimensions),
      r1: String(metadata.r1),
      r2: String(metadata.r2),
      loraAlpha: String(metadata.loraAlpha),
      scale: String(metadata.scale),
      targets: JSON.stringify(metadata.targets),
      baseModelDigest: metadata.baseModelDigest,
    },
  });
}

export interface AdapterImportExpectations {
  /** The digest of the base model this adapter will run on; a different recorded digest is rejected. */
  readonly baseModelDigest?: string;
  /** Validates shapes and layer coverage against the base model. */
  readonly config?: LlamaConfig;
  /** Dimension names the caller will feed α in; the file must list the same names in the same order. */
  readonly dimensions?: readonly string[];
}

export function importAdapter(bytes: Uint8Array, expect: AdapterImportExpectations = {}): AdapterFile {
  let contents;
  try {
    contents = parseSafetensors(bytes);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new AdapterFileError("NOT_AN_ADAPTER", `not a safetensors adapter: ${error.message}`, { cause: error });
    throw error;
  }
  const raw = contents.metadata;
  if (raw["parm.format"] !== FORMAT) throw new AdapterFileError("NOT_AN_ADAPTER", `metadata parm.format is ${JSON.stringify(raw["parm.format"])}, expected "${FORMAT}"`);
  if (raw["parm.version"] !== VERSION) throw new AdapterFileError("UNSUPPORTED_VERSION", `adapter version ${JSON.stringify(raw["parm.version"])} is not supported (expected ${VERSION})`);
  const json = (key: string): unknown => {
    try {
      return JSON.parse(raw[key] ?? "");
    } catch {
      throw new AdapterFileError("INVALID_METADATA", `metadata ${key} must be JSON, got ${JSON.stringify(raw[key])}`);
    }
  };
  const number = (key: string): number => {
    const value = Number(raw[key]);
    if (raw[key] === undefined || raw[key] === "" || !Number.isFinite(value)) throw new AdapterFileError("INVALID_METADATA", `metadata ${key} must be a number, got ${JSON.stringify(raw[key])}`);
    return value;
  };
  const metadata: AdapterFileMetadata = {
    method: raw.method as AdapterMethod,
    dimensions: json("dimensions") as string[],
    r1: number("r1"),
    r2: number("r2"),
    loraAlpha: number("loraAlpha"),
    scale: number("scale"),
    targets: json("targets") as AdapterFileTarget[],
    baseModelDigest: raw.baseModelDigest,
  };
  validateMetadata(metadata);
  if (expect.baseModelDigest !== undefined && expect.baseModelDigest !== metadata.baseModelDigest) {
    throw new AdapterFileError("BASE_MODEL_MISMATCH", `adapter was trained on base model ${metadata.baseModelDigest}, not ${expect.baseModelDigest}`);
  }
  if (expect.dimensions !== undefined && JSON.stringify(expect.dimensions) !== JSON.stringify(metadata.dimensions)) {
    throw new AdapterFileError("INVALID_METADATA", `adapter dimensions ${JSON.stringify(metadata.dimensions)} differ from the expected ${JSON.stringify(expect.dimensions)} (order matters: it is the α order)`);
  }
  validateTensors(metadata, contents.tensors, expect.config);
  return { metadata, tensors: contents.tensors };
}
