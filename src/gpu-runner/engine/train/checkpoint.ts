/** @module engine/train/checkpoint
 * Training checkpoints as one safetensors file: adapter tensors (`adapter/<name>`), AdamW moments
 * (`adam_m/<name>`, `adam_v/<name>`, shaped like their parameter), all float32 and byte-copied, so a round trip
 * is bit-exact; the `__metadata__` key `parm.checkpoint` holds JSON with the format version, step, optimizer
 * step and options, RNG state, data position and the run's configuration.
 */
import { EngineError } from "../util/errors.ts";
import type { WeightTensor } from "../model/config.ts";
import { parseSafetensors, writeSafetensors, SafetensorsError } from "../model/safetensors.ts";
import type { AdamWState } from "./adamw.ts";
import type { RngState } from "./rng.ts";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface TrainingCheckpoint {
  /** Optimizer updates completed. */
  readonly step: number;
  readonly adapter: ReadonlyMap<string, WeightTensor>;
  readonly optimizer: AdamWState;
  readonly rng: RngState;
  /** Where the data stream stands (epoch, index, order seed …); opaque here. */
  readonly dataPosition: JsonValue;
  /** The training configuration the run was started with; opaque here. */
  readonly config: JsonValue;
}

export class CheckpointError extends EngineError<"INVALID_CHECKPOINT" | "UNSUPPORTED_VERSION"> {}

const METADATA_KEY = "parm.checkpoint";
const FORMAT = "parm-checkpoint";
const VERSION = 1;

export function serializeCheckpoint(checkpoint: TrainingCheckpoint): Uint8Array {
  const tensors: [string, WeightTensor][] = [];
  for (const [name, tensor] of checkpoint.adapter) {
    const moments = checkpoint.optimizer.moments.get(name);
    if (!moments) throw new CheckpointError("INVALID_CHECKPOINT", `optimizer state has no moments for adapter tensor ${name}`);
    if (moments.m.length !== tensor.data.length || moments.v.length !== tensor.data.length) {
      throw new CheckpointError("INVALID_CHECKPOINT", `moments of ${name} do not match its ${tensor.data.length} values`);
    }
    tensors.push([`adapter/${name}`, tensor], [`adam_m/${name}`, { shape: tensor.shape, data: moments.m }], [`adam_v/${name}`, { shape: tensor.shape, data: moments.v }]);
  }
  for (const name of checkpoint.optimizer.moments.keys()) {
    if (!checkpoint.adapter.has(name)) throw new CheckpointError("INVALID_CHECKPOINT", `optimizer moments for ${name} have no adapter tensor`);
  }
  const header = {
    format: FORMAT,
    version: VERSION,
    step: checkpoint.step,
    optimizer: { step: checkpoint.optimizer.step, options: checkpoint.optimizer.options },
    rng: checkpoint.rng,
    dataPosition: checkpoint.dataPosition,
    config: checkpoint.config,
    adapterNames: [...checkpoint.adapter.keys()],
  };
  return writeSafetensors(tensors, { metadata: { [METADATA_KEY]: JSON.stringify(header) } });
}

export function deserializeCheckpoint(bytes: Uint8Array): TrainingCheckpoint {
  let contents;
  try {
    contents = parseSafetensors(bytes);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new CheckpointError("INVALID_CHECKPOINT", `checkpoint is not a valid safetensors file: ${error.message}`, { cause: error });
    throw error;
  }
  const raw = contents.metadata[METADATA_KEY];
  if (raw === undefined) throw new CheckpointError("INVALID_CHECKPOINT", `checkpoint has no ${METADATA_KEY} metadata`);
  let header: {
    format?: unknown; version?: unknown; step?: unknown; optimizer?: { step?: unknown; options?: unknown };
    rng?: unknown; dataPosition?: JsonValue; config?: JsonValue; adapterNames?: unknown;
  };
  try {
    header = JSON.parse(raw);
  } catch (error) {
    throw new CheckpointError("INVALID_CHECKPOINT", `${METADATA_KEY} is not JSON`, { cause: error });
  }
  if (header.format !== FORMAT) throw new CheckpointError("INVALID_CHECKPOINT", `format ${JSON.stringify(header.format)} is not ${FORMAT}`);
  if (header.version !== VERSION) throw new CheckpointError("UNSUPPORTED_VERSION", `checkpoint version ${JSON.stringify(header.version)} is not supported (expected ${VERSION})`);
  if (!Number.isInteger(header.step) || !header.optimizer || !Number.isInteger(header.optimizer.step) || !Array.isArray(header.adapterNames)) {
    throw new CheckpointError("INVALID_CHECKPOINT", "checkpoint metadata lacks step, optimizer step or adapter names");
  }
  const adapter = new Map<string, WeightTensor>();
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  for (const name of header.adapterNames as string[]) {
    const tensor = contents.tensors.get(`adapter/${name}`);
    const m = contents.tensors.get(`adam_m/${name}`);
    const v = contents.tensors.get(`adam_v/${name}`);
    if (!tensor || !m || !v) throw new CheckpointError("INVALID_CHECKPOINT", `checkpoint lacks the tensor or moments of ${name}`);
    adapter.set(name, tensor);
    moments.set(name, { m: m.data, v: v.data });
  }
  if (contents.tensors.size !== 3 * adapter.size) throw new CheckpointError("INVALID_CHECKPOINT", "checkpoint holds tensors that are not listed in its metadata");
  return {
    step: header.step as number,
    adapter,
    optimizer: { step: header.optimizer.step as number, options: header.optimizer.options as AdamWState["options"], moments },
    rng: header.rng as RngState,
    dataPosition: header.dataPosition ?? null,
    config: header.config ?? null,
  };
}
