/** @module api/services/downloads
 *
 * What a tenant may download, and from where (routes: api/http/downloads.ts). Each resolver loads the row through
 * the tenant's scoped client (another tenant's id reads as missing: EntityNotFoundError), decides whether it has a
 * file to give (NotDownloadableError with a sentence saying why not, otherwise), and returns a `Download`: its
 * content type, file name, size and sha256 where known, and `open()` for the bytes as a stream.
 *
 * - adapters: the PARM file `adapters/<tenant>/<job>/adapter.safetensors`; a GenARM adapter is one file per
 *   dimension (its manifest lists them, in α order), downloaded one by one.
 * - models: files the platform stored — uploads and trained evaluators (`isPlatformStoredModel`). A file registered
 *   by location under the model roots is never served: the operator already has it.
 * - training checkpoints: `checkpoints/<job>` of a TRAIN job (the latest; replaced at every checkpoint).
 * - evaluations: the report (`evaluations/<tenant>/<job>/report.json`, the engine's Pareto report, stored by the
 *   runner at completion; else a report built from the Evaluation row and its points) and the Pareto plot
 *   (`…/plot.svg`, only as stored by the runner).
 * - datasets: the accepted records of a READY dataset as JSON Lines, read from PostgreSQL page by page.
 */
import { createHash } from "node:crypto";
import { toGlobalId } from "../../schema/common/index.ts";
import type { ArtifactReader, TenantServiceDeps } from "./deps.ts";
import { isPlatformStoredModel } from "./artifact-purge.ts";
import { datasetDimensionMap, datasetRecordLines, type DatasetRow } from "./datasets.ts";
import { EntityNotFoundError, InputValidationError } from "./errors.ts";
import type { AdapterRow, EvaluationRow } from "./generations.ts";
import type { JobRow } from "./jobs.ts";
import type { ModelRow } from "./models.ts";

/** Bucket of the runners' artifact keys (`obj://artifacts/<key>`). */
const ARTIFACTS_BUCKET = "artifacts";
/** Records per PostgreSQL page of a dataset download. */
export const DATASET_DOWNLOAD_PAGE_RECORDS = 250;
/** Largest GenARM manifest read (it lists one entry per dimension). */
const MAX_MANIFEST_BYTES = 1 << 20;

export const BINARY_CONTENT_TYPE = "application/octet-stream";
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
export const SVG_CONTENT_TYPE = "image/svg+xml; charset=utf-8";
export const JSONL_CONTENT_TYPE = "application/x-ndjson; charset=utf-8";

/** One file ready to send. */
export interface Download {
  contentType: string;
  /** Suggested file name (Content-Disposition). */
  fileName: string;
  /** Bytes, when known ahead (Content-Length); null: streamed without a length. */
  sizeBytes: number | null;
  /** Lowercase hex sha256 of exactly these bytes, when known (the strong ETag). */
  sha256: string | null;
  /** A weak validator when the bytes have no known digest but cannot change (a READY dataset's records). */
  weakTag: string | null;
  /** Extra response headers (`x-parm-…`). */
  headers: Record<string, string>;
  /** The bytes; called at most once, only when they are sent. */
  open(): Promise<AsyncIterable<Uint8Array>>;
}

/** The object exists (and is the caller's) but has no file to download; `message` says why and what to do. */
export class NotDownloadableError extends Error {
  override readonly name = "NotDownloadableError";
  constructor(
    readonly entity: string,
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

/** Route paths of the downloads, for links (GraphQL `downloadUrl`); ids are global ids, URI-encoded. */
export const downloadPaths = {
  adapter: (uuid: string) => `/v1/files/adapters/${encodeURIComponent(toGlobalId("Adapter", uuid))}`,
  adapterDimension: (uuid: string, index: number) => `${downloadPaths.adapter(uuid)}/dimensions/${index}`,
  model: (uuid: string) => `/v1/files/models/${encodeURIComponent(toGlobalId("Model", uuid))}`,
  checkpoint: (jobUuid: string) => `/v1/files/jobs/${encodeURIComponent(toGlobalId("Job", jobUuid))}/checkpoint`,
  evaluationReport: (uuid: string) => `/v1/files/evaluations/${encodeURIComponent(toGlobalId("Evaluation", uuid))}/report.json`,
  evaluationPlot: (uuid: string) => `/v1/files/evaluations/${encodeURIComponent(toGlobalId("Evaluation", uuid))}/plot.svg`,
  datasetRecords: (uuid: string) => `/v1/files/datasets/${encodeURIComponent(toGlobalId("Dataset", uuid))}/records.jsonl`,
};

/** `obj://artifacts/<key>` for a bare key; a location as it is. */
function artifactLocation(keyOrLocation: string): string {
  return keyOrLocation.includes("://") ? keyOrLocation : `obj://${ARTIFACTS_BUCKET}/${keyOrLocation}`;
}

/** A name safe as a file name: no path separators or control characters, at most 150 characters. */
export function safeFileName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = name.replace(/[\u0000-\u001f\u007f/\\]+/g, "_").trim();
  return (cleaned === "" || cleaned === "." || cleaned === ".." ? "download" : cleaned).slice(0, 150);
}

/** The file extension (with its dot) of a location's last segment, when it has a short one. */
function extensionOf(location: string): string | null {
  const last = location.split("/").pop() ?? "";
  const match = /(\.[A-Za-z0-9]{1,12})$/.exec(last);
  return match ? match[1]!.toLowerCase() : null;
}

const FORMAT_EXTENSIONS: Record<ModelRow["format"], string> = { GGUF: ".gguf", SAFETENSORS: ".safetensors", ONNX: ".onnx" };

/** A stored file as a Download: present (stat) now, opened later; a file gone meanwhile fails `open`. */
async function storedFile(
  reader: ArtifactReader,
  location: string,
  file: { entity: string; id: string; what: string; contentType: string; fileName: string; sha256: string | null; sha256SizeBytes?: number; headers?: Record<string, string> },
): Promise<Download> {
  const stat = await reader.statArtifact(location);
  if (stat === null) throw new NotDownloadableError(file.entity, file.id, `${file.what} is not in the artifact store (it was deleted, or this server cannot reach the store it is in)`);
  // A digest recorded for another size belongs to another version of the object (a checkpoint replaced since).
  const sha256 = file.sha256 !== null && (file.sha256SizeBytes === undefined || file.sha256SizeBytes === stat.sizeBytes) ? file.sha256 : null;
  return {
    contentType: file.contentType,
    fileName: file.fileName,
    sizeBytes: stat.sizeBytes,
    sha256,
    weakTag: null,
    headers: file.headers ?? {},
    async open() {
      const body = await reader.openArtifact(location);
      if (body === null) throw new NotDownloadableError(file.entity, file.id, `${file.what} was deleted from the artifact store`);
      return body;
    },
  };
}

/** A Download of bytes built in memory (small: an evaluation report from its rows). */
function bytesDownload(bytes: Uint8Array, contentType: string, fileName: string, headers: Record<string, string>): Download {
  return {
    contentType,
    fileName,
    sizeBytes: bytes.byteLength,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    weakTag: null,
    headers,
    async open() {
      return (async function* () {
        yield bytes;
      })();
    },
  };
}

async function readSmall(reader: ArtifactReader, location: string, limit: number): Promise<Uint8Array | null> {
  const body = await reader.openArtifact(location);
  if (body === null) return null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) break;
    chunks.push(chunk);
  }
  return size > limit ? null : Buffer.concat(chunks);
}

interface ManifestEntry {
  key: string;
  sha256: string | null;
  dimensions: string[];
}

/** The entries of a GenARM manifest (`{ method: "GENARM", adapters: [{ key, sha256, dimensions }] }`), or null. */
function manifestEntries(bytes: Uint8Array): ManifestEntry[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return null;
  }
  const adapters = (parsed as { adapters?: unknown } | null)?.adapters;
  if (!Array.isArray(adapters)) return null;
  const entries: ManifestEntry[] = [];
  for (const entry of adapters) {
    const e = entry as { key?: unknown; sha256?: unknown; dimensions?: unknown } | null;
    if (typeof e?.key !== "string" || e.key === "") return null;
    entries.push({
      key: e.key,
      sha256: typeof e.sha256 === "string" && /^[0-9a-f]{64}$/.test(e.sha256) ? e.sha256 : null,
      dimensions: Array.isArray(e.dimensions) ? e.dimensions.filter((d): d is string => typeof d === "string") : [],
    });
  }
  return entries;
}

/**
 * An adapter's file: PARM without `dimensionIndex`; GenARM the ARM of dimension `dimensionIndex` (α order).
 * `dimensionIndex` is null when the path had none.
 */
export async function adapterDownload(deps: TenantServiceDeps, reader: ArtifactReader, id: string, dimensionIndex: number | null): Promise<Download> {
  const row = (await deps.db.adapter.findFirst({ where: { id } })) as AdapterRow | null;
  if (!row) throw new EntityNotFoundError("Adapter", id);
  const globalId = toGlobalId("Adapter", id);
  if (!row.artifactKey) throw new NotDownloadableError("Adapter", id, `adapter ${row.name} (${globalId}) has no stored file`);
  const base = safeFileName(row.name);
  if (row.method === "PARM") {
    if (dimensionIndex !== null) {
      throw new NotDownloadableError("Adapter", id, `adapter ${row.name} is a PARM adapter: one file for all its dimensions; download ${downloadPaths.adapter(id)}`);
    }
    return storedFile(reader, artifactLocation(row.artifactKey), {
      entity: "Adapter",
      id,
      what: `the file of adapter ${row.name}`,
      contentType: BINARY_CONTENT_TYPE,
      fileName: `${base}.safetensors`,
      sha256: row.artifactDigest,
    });
  }
  const k = row.dimensionNames.length;
  if (dimensionIndex === null) {
    const paths = Array.from({ length: k }, (_, i) => downloadPaths.adapterDimension(id, i));
    throw new NotDownloadableError("Adapter", id, `adapter ${row.name} is a GenARM adapter: one file per dimension; download ${paths.join(", ")}`);
  }
  if (dimensionIndex >= k) throw new InputValidationError("index", `must be below ${k}, the adapter's number of dimensions`);
  const manifest = await readSmall(reader, artifactLocation(row.artifactKey), MAX_MANIFEST_BYTES);
  const entries = manifest === null ? null : manifestEntries(manifest);
  const entry = entries?.[dimensionIndex];
  if (!entry) throw new NotDownloadableError("Adapter", id, `the manifest of adapter ${row.name} is missing or does not list dimension ${dimensionIndex}`);
  const dimension = row.dimensionNames[dimensionIndex] ?? String(dimensionIndex);
  return storedFile(reader, artifactLocation(entry.key), {
    entity: "Adapter",
    id,
    what: `the file of dimension ${dimension} of adapter ${row.name}`,
    contentType: BINARY_CONTENT_TYPE,
    fileName: `${base}-${safeFileName(dimension)}.safetensors`,
    sha256: entry.sha256,
    headers: { "x-parm-dimension": dimension },
  });
}

/** A model's file, when the platform stored it (an upload or a trained evaluator). */
export async function modelDownload(deps: TenantServiceDeps, reader: ArtifactReader, id: string): Promise<Download> {
  const row = (await deps.db.model.findFirst({ where: { id } })) as ModelRow | null;
  if (!row) throw new EntityNotFoundError("Model", id);
  if (!isPlatformStoredModel(row, deps.tenantId)) {
    throw new NotDownloadableError(
      "Model",
      id,
      `model ${row.name} was registered by location (${row.location}): the platform stores no copy of it to download; the file lies under the server's model roots`,
    );
  }
  return storedFile(reader, row.location, {
    entity: "Model",
    id,
    what: `the file of model ${row.name}`,
    contentType: BINARY_CONTENT_TYPE,
    fileName: `${safeFileName(row.name)}${extensionOf(row.location) ?? FORMAT_EXTENSIONS[row.format]}`,
    sha256: row.sha256,
  });
}

/** The digest and step the job's latest `checkpoint` artifact event announced. */
async function latestCheckpointEvent(deps: TenantServiceDeps, jobId: string): Promise<{ sha256: string; sizeBytes: number; step: number | null } | null> {
  const events = await deps.db.jobEvent.findMany({ where: { jobId, type: "artifact" }, orderBy: { seq: "desc" }, take: 20, select: { payload: true } });
  for (const { payload } of events) {
    const p = payload as { kind?: unknown; sha256?: unknown; sizeBytes?: unknown; step?: unknown };
    if (p.kind === "checkpoint" && typeof p.sha256 === "string" && typeof p.sizeBytes === "number") {
      return { sha256: p.sha256, sizeBytes: p.sizeBytes, step: typeof p.step === "number" ? p.step : null };
    }
  }
  return null;
}

/** The latest checkpoint of a TRAIN job. */
export async function checkpointDownload(deps: TenantServiceDeps, reader: ArtifactReader, jobId: string): Promise<Download> {
  const job = (await deps.db.job.findFirst({ where: { id: jobId } })) as JobRow | null;
  if (!job) throw new EntityNotFoundError("Job", jobId);
  const globalId = toGlobalId("Job", jobId);
  if (job.kind !== "TRAIN") throw new NotDownloadableError("Job", jobId, `job ${globalId} is a ${job.kind} job; only TRAIN jobs store checkpoints`);
  const location = artifactLocation(`checkpoints/${jobId}`);
  if ((await reader.statArtifact(location)) === null) {
    throw new NotDownloadableError(
      "Job",
      jobId,
      `job ${globalId} has no stored checkpoint: training stores one every checkpointEvery updates (0: never), and deleting the adapter deletes it`,
    );
  }
  const event = await latestCheckpointEvent(deps, jobId);
  const adapterName = (job.payload as { adapterName?: unknown }).adapterName;
  const base = safeFileName(typeof adapterName === "string" ? adapterName : jobId);
  return storedFile(reader, location, {
    entity: "Job",
    id: jobId,
    what: `the checkpoint of job ${globalId}`,
    contentType: BINARY_CONTENT_TYPE,
    fileName: event?.step != null ? `${base}-step-${event.step}.checkpoint` : `${base}.checkpoint`,
    sha256: event?.sha256 ?? null,
    sha256SizeBytes: event?.sizeBytes,
    headers: event?.step != null ? { "x-parm-checkpoint-step": String(event.step) } : {},
  });
}

/** A file the runner stored for an evaluation, as recorded in `Evaluation.report` (the completed event's fields). */
function storedReportFile(row: EvaluationRow, field: "reportFile" | "plotFile"): { key: string; sha256: string; sizeBytes: number } | null {
  const file = (row.report as Record<string, unknown> | null)?.[field] as { key?: unknown; sha256?: unknown; sizeBytes?: unknown } | undefined;
  if (!file || typeof file.key !== "string" || typeof file.sha256 !== "string" || typeof file.sizeBytes !== "number") return null;
  return { key: file.key, sha256: file.sha256, sizeBytes: file.sizeBytes };
}

async function requireEvaluation(deps: TenantServiceDeps, id: string): Promise<EvaluationRow> {
  const row = (await deps.db.evaluation.findFirst({ where: { id } })) as EvaluationRow | null;
  if (!row) throw new EntityNotFoundError("Evaluation", id);
  return row;
}

/** "(0.3, 0.7)", as the engine's report labels α. */
function alphaLabel(alpha: readonly number[]): string {
  return `(${alpha.map((a) => String(Number(a.toFixed(6)))).join(", ")})`;
}

/** The report of an evaluation whose runner stored none (or not yet): what PostgreSQL holds. */
async function reportFromRows(deps: TenantServiceDeps, row: EvaluationRow): Promise<Record<string, unknown>> {
  const [points, job] = await Promise.all([
    deps.db.paretoPoint.findMany({ where: { evaluationId: row.id }, orderBy: { index: "asc" } }),
    deps.db.job.findFirst({ where: { id: row.jobId }, select: { payload: true } }),
  ]);
  const dimensions = (job?.payload as { adapter?: { dimensions?: { name?: unknown }[] } } | undefined)?.adapter?.dimensions;
  const objectiveNames = Array.isArray(dimensions) ? dimensions.map((d, i) => (typeof d?.name === "string" ? d.name : `objective ${i}`)) : [];
  const stored = (row.report ?? {}) as { metrics?: unknown; durationSeconds?: unknown };
  return {
    kind: "parm.evaluation-report",
    version: 1,
    source: "database",
    evaluationId: toGlobalId("Evaluation", row.id),
    jobId: toGlobalId("Job", row.jobId),
    adapterId: toGlobalId("Adapter", row.adapterId),
    status: row.status,
    objectiveNames,
    gridStep: row.gridStep,
    split: row.split,
    promptCount: row.promptCount,
    evaluatorIds: row.evaluatorIds.map((e) => toGlobalId("Model", e)),
    points: points.map((p) => ({
      index: p.index,
      alpha: p.alpha,
      rewards: p.rewards,
      label: alphaLabel(p.alpha),
      onFront: p.onFront,
      innerProduct: p.alpha.reduce((sum, a, i) => sum + a * (p.rewards[i] ?? 0), 0),
    })),
    front: points.filter((p) => p.onFront).map((p) => p.index),
    hypervolume: row.hypervolume,
    mip: row.mip,
    referencePoint: row.referencePoint,
    metrics: stored.metrics ?? null,
    durationSeconds: typeof stored.durationSeconds === "number" ? stored.durationSeconds : null,
  };
}

/** An evaluation's report: the runner's stored report.json, else one built from the row and its points. */
export async function evaluationReportDownload(deps: TenantServiceDeps, reader: ArtifactReader, id: string): Promise<Download> {
  const row = await requireEvaluation(deps, id);
  const fileName = `evaluation-${id}.report.json`;
  const stored = storedReportFile(row, "reportFile");
  if (stored !== null && (await reader.statArtifact(artifactLocation(stored.key))) !== null) {
    return storedFile(reader, artifactLocation(stored.key), {
      entity: "Evaluation",
      id,
      what: `the report of evaluation ${toGlobalId("Evaluation", id)}`,
      contentType: JSON_CONTENT_TYPE,
      fileName,
      sha256: stored.sha256,
      sha256SizeBytes: stored.sizeBytes,
      headers: { "x-parm-report-source": "runner" },
    });
  }
  const bytes = Buffer.from(`${JSON.stringify(await reportFromRows(deps, row), null, 2)}\n`, "utf8");
  return bytesDownload(bytes, JSON_CONTENT_TYPE, fileName, { "x-parm-report-source": "database" });
}

/** An evaluation's Pareto plot, as its runner stored it at completion. */
export async function evaluationPlotDownload(deps: TenantServiceDeps, reader: ArtifactReader, id: string): Promise<Download> {
  const row = await requireEvaluation(deps, id);
  const stored = storedReportFile(row, "plotFile");
  const globalId = toGlobalId("Evaluation", id);
  if (stored === null) {
    const why = row.status === "SUCCEEDED" ? "its runner stored none (runners store the plot since downloads exist)" : `it is ${row.status} (the plot is stored when it completes)`;
    throw new NotDownloadableError("Evaluation", id, `evaluation ${globalId} has no plot: ${why}; its report is at ${downloadPaths.evaluationReport(id)}`);
  }
  return storedFile(reader, artifactLocation(stored.key), {
    entity: "Evaluation",
    id,
    what: `the plot of evaluation ${globalId}`,
    contentType: SVG_CONTENT_TYPE,
    fileName: `evaluation-${id}.plot.svg`,
    sha256: stored.sha256,
    sha256SizeBytes: stored.sizeBytes,
  });
}

/** A READY dataset's accepted records as JSON Lines (the contract's PreferenceRecord, with its split), streamed from
 *  PostgreSQL `DATASET_DOWNLOAD_PAGE_RECORDS` records at a time. */
export async function datasetRecordsDownload(deps: TenantServiceDeps, id: string): Promise<Download> {
  const row = (await deps.db.dataset.findFirst({ where: { id } })) as DatasetRow | null;
  if (!row) throw new EntityNotFoundError("Dataset", id);
  if (row.status !== "READY") {
    const why = row.status === "EMPTY" ? "no records were uploaded yet" : "its upload was rejected and nothing was stored";
    throw new NotDownloadableError("Dataset", id, `dataset ${row.name} is ${row.status}: ${why}`);
  }
  const dimensionMap = datasetDimensionMap(row);
  const db = deps.db;
  return {
    contentType: JSONL_CONTENT_TYPE,
    fileName: `${safeFileName(row.name)}.records.jsonl`,
    sizeBytes: null,
    sha256: null,
    // A READY dataset's records never change (a second upload is refused); the upload's digest names them.
    weakTag: row.sha256 ? `dataset-${id}-${row.sha256.slice(0, 32)}` : null,
    headers: { "x-parm-record-count": String(row.recordCount) },
    async open() {
      return datasetRecordLines(db, id, dimensionMap, DATASET_DOWNLOAD_PAGE_RECORDS);
    },
  };
}
