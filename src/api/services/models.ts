/** @module api/services/models
 *
 * Model registration. A model is either a file under the server's model roots, named by `file://` URL or absolute
 * path (model-roots.ts decides which host files a tenant may name; the row stores the canonical real location), or
 * an upload — inline base64 through GraphQL or streamed through `POST /v1/models` — stored through the
 * ModelFileStore. Either way the file's header is inspected (model-inspect.ts): format, size, streamed sha256,
 * vocabulary size and tokenizer digest when cheap. EVALUATOR models name the dimension they score.
 *
 * Contracts:
 * - Everything that can be checked without the file (name, dimension, name taken, the declared size against the
 *   quota) is checked before a byte is read.
 * - Uploads count against `Tenant.maxModelBytes` (the sum of `storedBytes`). The stream is cut off as soon as it
 *   passes the remaining allowance; the final check runs under a per-tenant advisory lock before the row is written.
 * - An upload is written to a private temporary folder, inspected there, and only then stored; a rejected upload
 *   leaves nothing behind.
 * - After inspection, a file runners cannot load as its kind is refused (ModelFileError UNSUPPORTED_MODEL, e.g. a
 *   safetensors BASE: model-support.ts), before an upload is stored.
 * - Prompt templates (prompt-templates.ts): a chat template found in the file is checked and kept in `config`;
 *   `promptTemplate` (HH, PKU, PLAIN) names the format of a BASE / ARM_BASE model without one. Naming it for an
 *   EVALUATOR, or for a model whose file has a working chat template of its own (which its prompts use), is a
 *   ValidationError on `promptTemplate`, raised before an upload is stored.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import type { Model, Prisma, TenantTransactionClient } from "../db/index.ts";
import { checkName } from "./datasets.ts";
import type { TenantServiceDeps } from "./deps.ts";
import { EntityNotFoundError, InputValidationError, NameTakenError, TenantQuotaError, VocabularyMismatchError } from "./errors.ts";
import type { ModelRoots } from "./model-roots.ts";
import { inspectModelFile, type ModelInspection } from "./model-inspect.ts";
import { assertRunnersCanLoad } from "./model-support.ts";
import type { PromptTemplateName } from "../../contracts/index.ts";
import { checkChatTemplateConfig } from "./prompt-templates.ts";
import { isUniqueViolation } from "../errors/index.ts";

export type ModelKindName = "BASE" | "ARM_BASE" | "EVALUATOR";

export type ModelRow = Model;

/** A model file sent to the api: its name, its bytes as a stream, and the fields errors name. */
export interface ModelUpload {
  fileName: string;
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** Size announced ahead (Content-Length), checked against the quota before reading; optional. */
  declaredBytes?: number | null;
  /** How errors name the file name and the content (e.g. `input.upload.fileName`, `input.upload.contentBase64`). */
  fileNameField: string;
  contentField: string;
}

export interface RegisterModelCommand {
  name: string;
  kind: ModelKindName;
  location?: string | null;
  upload?: ModelUpload | null;
  dimensionId?: string | null;
  /** The prompt format of a BASE / ARM_BASE model without a chat template of its own. */
  promptTemplate?: PromptTemplateName | null;
  /** Prefix of the field names in errors: `input.` (GraphQL, the default) or `` (HTTP query parameters). */
  fieldPrefix?: string;
}

/** Largest inline model upload (GraphQL base64, also bounded by the body limit); larger files use `POST /v1/models`. */
export const MAX_INLINE_MODEL_BYTES = 64 * 1024 * 1024;

export async function registerModel(deps: TenantServiceDeps, command: RegisterModelCommand): Promise<ModelRow> {
  const prefix = command.fieldPrefix ?? "input.";
  const { name, allowance } = await checkRegistration(deps, command, prefix);
  const vet = (inspection: ModelInspection) => vetPromptTemplate(inspection, command.promptTemplate ?? null, `${prefix}promptTemplate`);
  const { location, inspection, storedBytes, config } = command.upload
    ? await storeUpload(deps, command.upload, allowance!, command.kind, vet)
    : await inspectLocation(deps.modelRoots!, command.location!, command.kind, vet);
  const data = {
    tenantId: deps.tenantId,
    name,
    kind: command.kind,
    format: inspection.format,
    location,
    sha256: inspection.sha256,
    sizeBytes: inspection.sizeBytes,
    storedBytes,
    vocabSize: inspection.vocabSize,
    tokenizerHash: inspection.tokenizerHash,
    config: config as Prisma.InputJsonObject,
    promptTemplate: command.promptTemplate ?? null,
    dimensionId: command.dimensionId ?? null,
  };
  try {
    if (storedBytes === null) return (await deps.db.model.create({ data })) as ModelRow;
    return (await deps.db.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`models:${deps.tenantId}`}, 0))`;
      await assertModelAllowance(tx, deps.tenantId, Number(storedBytes));
      return await tx.model.create({ data });
    })) as ModelRow;
  } catch (error) {
    if (isUniqueViolation(error)) throw new NameTakenError("model", `${prefix}name`, name);
    throw error;
  }
}

/**
 * The checks that need no file: name, exactly one source, the dimension, a free name, a store or model roots for
 * the source, and an upload's declared size against the quota. Returns the name and, for an upload, the allowance.
 */
async function checkRegistration(deps: TenantServiceDeps, command: RegisterModelCommand, prefix: string): Promise<{ name: string; allowance: ModelAllowance | null }> {
  const name = checkName(command.name, `${prefix}name`);
  const hasLocation = command.location !== undefined && command.location !== null && command.location !== "";
  const hasUpload = command.upload !== undefined && command.upload !== null;
  if (hasLocation === hasUpload) throw new InputValidationError(prefix === "" ? "location" : "input", "give exactly one of `location` and `upload`");
  if (command.kind === "EVALUATOR") {
    if (command.promptTemplate) throw new InputValidationError(`${prefix}promptTemplate`, "EVALUATOR models take no prompt template (they score prompts as their training data wrote them)");
    if (!command.dimensionId) throw new InputValidationError(`${prefix}dimensionId`, "an EVALUATOR model must name the dimension it scores");
    const dimension = await deps.db.preferenceDimension.findFirst({ where: { id: command.dimensionId }, select: { id: true } });
    if (!dimension) throw new EntityNotFoundError("PreferenceDimension", command.dimensionId);
  } else if (command.dimensionId) {
    throw new InputValidationError(`${prefix}dimensionId`, "only EVALUATOR models name a dimension");
  }
  if (await deps.db.model.findFirst({ where: { name }, select: { id: true } })) throw new NameTakenError("model", `${prefix}name`, name);
  if (hasUpload) {
    const upload = command.upload!;
    const fileName = basename(upload.fileName);
    if (fileName === "" || fileName !== upload.fileName || fileName.startsWith(".")) {
      throw new InputValidationError(upload.fileNameField, "must be a plain file name such as model.gguf");
    }
    if (!deps.modelFiles) throw new InputValidationError(upload.contentField, "this server stores no model files; register a location instead");
    const allowance = await modelAllowance(deps.db, deps.tenantId);
    const declared = upload.declaredBytes ?? 1;
    if (BigInt(declared) > allowance.remaining) throw new TenantQuotaError("MODEL_BYTES", Number(allowance.limit), Number(allowance.stored), declared, null);
    return { name, allowance };
  }
  if (!deps.modelRoots) throw new InputValidationError(`${prefix}location`, "this server registers no model files by location; upload the file instead");
  return { name, allowance: null };
}

/** Checks the file's chat template and the named one against it; returns the config to store. */
type VetInspection = (inspection: ModelInspection) => Promise<ModelInspection["config"]>;

async function vetPromptTemplate(inspection: ModelInspection, named: PromptTemplateName | null, field: string): Promise<ModelInspection["config"]> {
  const config = await checkChatTemplateConfig(inspection.config);
  if (named !== null && typeof config.chatTemplate === "string") {
    throw new InputValidationError(field, `this model file has its own chat template (${String(config.chatTemplateSource)}), which its prompts use; register it without promptTemplate`);
  }
  return config;
}

async function inspectLocation(roots: ModelRoots, given: string, kind: ModelKindName, vet: VetInspection) {
  const resolved = await roots.resolve(given);
  const inspection = await inspectModelFile(resolved.path, given);
  assertRunnersCanLoad(kind, inspection, given, false);
  return { location: resolved.location, inspection, storedBytes: null, config: await vet(inspection) };
}

/** Streams the upload into a private temporary copy (cut off past the allowance), inspects it, checks runners can
 *  load it as `kind`, stores it. */
async function storeUpload(deps: TenantServiceDeps, upload: ModelUpload, allowance: ModelAllowance, kind: ModelKindName, vet: VetInspection) {
  const scratch = await mkdtemp(join(tmpdir(), "parm-model-upload-"));
  try {
    const path = join(scratch, upload.fileName);
    const sizeBytes = await writeCapped(upload.body, path, allowance.remaining, () =>
      new TenantQuotaError("MODEL_BYTES", Number(allowance.limit), Number(allowance.stored), Number(allowance.remaining) + 1, null),
    );
    if (sizeBytes === 0) throw new InputValidationError(upload.contentField, "is empty");
    const inspection = await inspectModelFile(path, `upload:${upload.fileName}`);
    assertRunnersCanLoad(kind, inspection, `upload:${upload.fileName}`, true);
    const config = await vet(inspection);
    const stored = await deps.modelFiles!.putModelFile(`models/${deps.tenantId}/${inspection.sha256}/${upload.fileName}`, path);
    return { location: stored.location, inspection, storedBytes: inspection.sizeBytes, config };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Writes `body` to `path`; throws `tooLarge()` (and stops reading) once more than `limit` bytes arrived. */
async function writeCapped(body: ModelUpload["body"], path: string, limit: bigint, tooLarge: () => Error): Promise<number> {
  let size = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (BigInt(size) > limit) done(tooLarge());
      else done(null, chunk);
    },
  });
  await pipeline(body, cap, createWriteStream(path, { mode: 0o600 }));
  return size;
}

type AllowanceDb = TenantServiceDeps["db"] | TenantTransactionClient;

type ModelAllowance = Awaited<ReturnType<typeof modelAllowance>>;

/** The tenant's model storage quota, what its uploads store, and what remains. */
async function modelAllowance(db: AllowanceDb, tenantId: string) {
  const tenant = await db.tenant.findFirst({ where: { id: tenantId }, select: { maxModelBytes: true } });
  if (!tenant) throw new EntityNotFoundError("Tenant", tenantId);
  const sum = await db.model.aggregate({ _sum: { storedBytes: true } });
  const stored = sum._sum.storedBytes ?? 0n;
  return { limit: tenant.maxModelBytes, stored, remaining: tenant.maxModelBytes - stored };
}

async function assertModelAllowance(db: AllowanceDb, tenantId: string, requested: number): Promise<void> {
  const allowance = await modelAllowance(db, tenantId);
  if (BigInt(requested) > allowance.remaining) throw new TenantQuotaError("MODEL_BYTES", Number(allowance.limit), Number(allowance.stored), requested, null);
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

/**
 * The model's context length from the facts read at registration (GGUF `<arch>.context_length`, HF
 * `max_position_embeddings`), or null when the header did not tell.
 */
export function modelContextLength(model: Pick<ModelRow, "config">): number | null {
  const config = (model.config ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(config)) {
    if ((key.endsWith(".context_length") || key === "max_position_embeddings") && typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  }
  return null;
}

/** The contract's ModelRef of a row. */
export function modelRef(model: ModelRow) {
  return { id: model.id, location: model.location, format: model.format, sha256: model.sha256 };
}
