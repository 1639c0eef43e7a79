/**
 * @module engine/decode/generate-adapter
 * Turns a trained adapter file (train/adapter-file.ts) into the `DecodeAdapter` decoding uses: a PARM file
 * becomes a PBLoRA spec (r1, r2, k = number of dimensions, loraAlpha, targets), a GENARM file a plain LoRA spec
 * (rank r1). Tensors are shared, not copied.
 */
import type { AdapterFile } from "../train/adapter-file.ts";
import type { AdapterSpec } from "../model/pblora.ts";
import { UnreachableCaseError } from "../util/errors.ts";
import type { DecodeAdapter } from "./decode-graph.ts";

export function decodeAdapterFromFile(file: AdapterFile): DecodeAdapter {
  const m = file.metadata;
  let spec: AdapterSpec;
  switch (m.method) {
    case "PARM":
      spec = { mode: "pblora", r1: m.r1, r2: m.r2, numObjectives: m.dimensions.length, loraAlpha: m.loraAlpha, targets: [...m.targets] };
      break;
    case "GENARM":
      spec = { mode: "lora", rank: m.r1, loraAlpha: m.loraAlpha, targets: [...m.targets] };
      break;
    default:
      throw new UnreachableCaseError(m.method);
  }
  const tensors = new Map<string, Float32Array>();
  for (const [name, tensor] of file.tensors) tensors.set(name, tensor.data);
  return { spec, tensors };
}
