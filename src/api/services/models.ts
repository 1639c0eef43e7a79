/** @module api/services/models
 *
 * Model registration. A model is either a file the api and the runners can read (`file://` URL or absolute
 * path: it must exist and be readable now) or an inline upload stored through the ModelFileStore. Either way the
 * file's header is inspected (model-inspect.ts): format, size, streamed sha256, vocabulary size and tokenizer
 * digest when cheap. EVALUATOR models name the dimension they score.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Prisma } from "../db/index.ts";
import { checkName } from "./datasets.ts";
import type { TenantServiceDeps } from "./deps.ts";
import { EntityNotFoundError, InputValidationError, NameTakenError, VocabularyMismatchError } from "./errors.ts";
import { inspectModelFile, ModelFileError, type ModelInspection } from "./model-inspect.ts";
import { isUniqueViolation } from "./prisma-errors.ts";

export type ModelKindName = "BASE" | "ARM_BASE" | "EVALUATOR";

export interface ModelRow {
  id: string;
  tenantId: string;
  name: string;
  kind: ModelKindName;
  format: "GGUF" | "SAFETENSORS" | "ONNX";
  location: string;
  sha256: string | null;
  sizeBytes: bigint | null;
  vocabSize: number | null;
  tokenizerHash: string | null;
  config: unknown;
  dimensionId: string | null;
  jobId: string | null;
  createdAt: Date;
}

export interface RegisterModelCommand {
  name: string;
  kind: ModelKindName;
  location?: string | null;
  upload?: { fileName: string; bytes: Uint8Array } | null;
  dimensionId?: string | null;
}

/** Largest inline model upload (GraphQL base64); larger files are registered by location. */
export const MAX_INLINE_MODEL_BYTES = 64 * 1024 * 1024;

export async function registerModel(deps: TenantServiceDeps, command: RegisterModelCommand): Promise<ModelRow> {
  const name = checkName(command.name, "input.name");
  const hasLocation = command.location !== undefined && command.location !== null && command.location !== "";
  const hasUpload = command.upload !== undefined && command.upload !== null;
  if (hasLocation === hasUpload) throw new InputValidationError("input", "give exactly one of `location` and `upload`");
  if (command.kind === "EVALUATOR") {
    if (!command.dimensionId) throw new InputValidationError("input.dimensionId", "an EVALUATOR model must name the dimension it scores");
    const dimension = await deps.db.preferenceDimension.findFirst({ where: { id: command.dimensionId }, select: { id: true } });
    if (!dimension) throw new EntityNotFoundError("PreferenceDimension", command.dimensionId);
  } else if (command.dimensionId) {
    throw new InputValidationError("input.dimensionId", "only EVALUATOR models name a dimension");
  }
  if (await deps.db.model.findFirst({ where: { name }, select: { id: true } })) throw new NameTakenError("model", "input.name", name);

  let location: string;
  let inspection: ModelInspection;
  if (hasUpload) {
    const upload = command.upload!;
    const fileName = basename(upload.fileName);
    if (fileName === "" || fileName !== upload.fileName || fileName.startsWith(".")) {
      throw new InputValidationError("input.upload.fileName", "must be a plain file name such as model.gguf");
    }
    if (upload.bytes.length === 0) throw new InputValidationError("input.upload.contentBase64", "is empty");
    if (upload.bytes.length > MAX_INLINE_MODEL_BYTES) {
      throw new InputValidationError("input.upload.contentBase64", `inline uploads are limited to ${MAX_INLINE_MODEL_BYTES} bytes; register a location instead`);
    }
    if (!deps.modelFiles) throw new InputValidationError("input.upload", "this server has no model file store; register a location instead");
    // Inspect a private temporary copy first, so a bad file is rejected before anything is stored.
    const scratch = await mkdtemp(join(tmpdir(), "parm-model-upload-"));
    try {
      const path = join(scratch, fileName);
      await writeFile(path, upload.bytes);
      inspection = await inspectModelFile(path);
    } catch (error) {
      // Name the upload, not the private temporary path.
      if (error instanceof ModelFileError) {
        throw new ModelFileError(`upload:${fileName}`, error.problem, error.message.slice(error.message.indexOf(": ") + 2));
      }
      throw error;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    const stored = await deps.modelFiles.putModelFile(`models/${deps.tenantId}/${inspection.sha256}/${fileName}`, upload.bytes);
    location = stored.location;
  } else {
    location = command.location!;
    inspection = await inspectModelFile(location);
  }
  try {
    return (await deps.db.model.create({
      data: {
        tenantId: deps.tenantId,
        name,
        kind: command.kind,
        format: inspection.format,
        location,
        sha256: inspection.sha256,
        sizeBytes: inspection.sizeBytes,
        vocabSize: inspection.vocabSize,
        tokenizerHash: inspection.tokenizerHash,
        config: inspection.config as Prisma.InputJsonObject,
        dimensionId: command.dimensionId ?? null,
      },
    })) as ModelRow;
  } catch (error) {
    if (isUniqueViolation(error)) throw new NameTakenError("model", "input.name", name);
    throw error;
  }
}

/** Loads a tenant's model or throws EntityNotFoundError. */
export async function requireModel(deps: TenantServiceDeps, id: string): Promise<ModelRow> {
  const model = (await deps.db.model.findFirst({ where: { id } })) as ModelRow | null;
  if (!model) throw new EntityNotFoundError("Model", id);
  return model;
}

/**
 * Base LM and ARM backbone must share a vocabulary: equal vocabulary sizes and, when both digests are known,
 * equal tokenizer digests. Unknown sizes pass (checked again by the runner when it loads both).
 */
export function assertSameVocabulary(base: ModelRow, other: ModelRow): void {
  if (base.id === other.id) return;
  if (base.vocabSize !== null && other.vocabSize !== null && base.vocabSize !== other.vocabSize) {
    throw new VocabularyMismatchError(base.id, other.id, base.vocabSize, other.vocabSize, `vocabulary sizes ${base.vocabSize} and ${other.vocabSize} differ`);
  }
  if (base.tokenizerHash !== null && other.tokenizerHash !== null && base.tokenizerHash !== other.tokenizerHash) {
    throw new VocabularyMismatchError(base.id, other.id, base.vocabSize, other.vocabSize, "tokenizer digests differ (same size, different tokens)");
  }
}

/** The contract's ModelRef of a row. */
export function modelRef(model: ModelRow) {
  return { id: model.id, location: model.location, format: model.format, sha256: model.sha256 };
}
