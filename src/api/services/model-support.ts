/** @module api/services/model-support
 *
 * Which registered files runners can load as which model kind — checked at registration, right after inspection
 * and before an upload is stored, so a model that registers is one a job can use.
 *
 * Runners load a BASE or ARM_BASE model from a model path: a folder is read as a Hugging Face checkpoint
 * (`config.json`, `tokenizer.json`, `*.safetensors`), a file as GGUF (gpu-runner/worker/engine-tasks.ts). Registration
 * takes ONE file (a location under the model roots, or an upload), so a BASE or ARM_BASE must be a GGUF file: a
 * safetensors file holds weights without the config and tokenizer the runner reads beside them, and an ONNX file is
 * no decoder the engine builds. EVALUATOR files are read by the evaluation handler in any inspected format.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { ModelFileError, type ModelInspection } from "./model-inspect.ts";

/** The model kinds (models.ts `ModelKindName`; spelled out here so models.ts may import this module). */
type ModelKindName = "BASE" | "ARM_BASE" | "EVALUATOR";

/** The files a Hugging Face checkpoint folder needs beside its weights (engine/model/hf.ts `loadHfFolder`). */
const HF_FOLDER_FILES = ["config.json", "tokenizer.json"] as const;

/** Throws ModelFileError UNSUPPORTED_MODEL, naming what is missing, when runners cannot load the file as `kind`. */
export function assertRunnersCanLoad(kind: ModelKindName, inspection: ModelInspection, location: string, upload: boolean): void {
  if (kind === "EVALUATOR" || inspection.format === "GGUF") return;
  throw new ModelFileError(location, "UNSUPPORTED_MODEL", unsupportedMessage(kind, inspection, upload));
}

function unsupportedMessage(kind: ModelKindName, inspection: ModelInspection, upload: boolean): string {
  const gguf = "register it as a GGUF file instead (convert a Hugging Face checkpoint with llama.cpp's convert_hf_to_gguf.py)";
  const aKind = `${kind === "ARM_BASE" ? "an" : "a"} ${kind} model`;
  if (inspection.format === "ONNX") return `an ONNX file cannot be ${aKind}: runners build the decoder from a GGUF file; ${gguf}`;
  const needs = `runners load safetensors weights only from a Hugging Face folder with ${HF_FOLDER_FILES.join(" and ")}`;
  const missing = upload ? [] : HF_FOLDER_FILES.filter((name) => !existsSync(join(dirname(inspection.path), name)));
  const why = upload
    ? `an upload is the weights file alone, without ${HF_FOLDER_FILES.join(" and ")}`
    : missing.length > 0
      ? `${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} missing beside it`
      : "a model registered by location is one file, which runners read as GGUF, not its folder";
  return `a safetensors file cannot be ${aKind}: ${needs}, and ${why}; ${gguf}`;
}
