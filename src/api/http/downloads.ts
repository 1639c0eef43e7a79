/** @module api/http/downloads
 *
 * Authenticated, tenant-scoped downloads under `/v1/files/` (`:id` is a global id, URI-encoded):
 * - `GET /v1/files/adapters/:id` — a PARM adapter (safetensors); `…/adapters/:id/dimensions/:index` — the ARM of one
 *   dimension of a GenARM adapter (α order).
 * - `GET /v1/files/models/:id` — a model the platform stored (an upload, a trained evaluator).
 * - `GET /v1/files/jobs/:id/checkpoint` — the latest checkpoint of a TRAIN job.
 * - `GET /v1/files/evaluations/:id/report.json`, `…/plot.svg` — an evaluation's report and Pareto plot.
 * - `GET /v1/files/datasets/:id/records.jsonl` — a READY dataset's accepted records with their split.
 * Authentication: `Authorization: Bearer <tenant key>` (any role). HEAD answers the headers alone.
 *
 * Bodies stream (never buffered whole): stored files from the artifact readers, records from PostgreSQL page by
 * page, both with backpressure; a client that goes away stops the read. Headers: `content-type`,
 * `content-disposition: attachment` with the file name, `content-length` when known, `etag` = `"<sha256>"` when the
 * bytes' digest is known (a weak tag for dataset records), `if-none-match` answered 304, `cache-control: private,
 * no-cache`, `x-content-type-options: nosniff`.
 *
 * Errors (JSON, before any byte of the body): 401 / 403 GraphQL-shaped (no key, the platform admin key); 400
 * `{ error: { type: "ValidationError", field: "id", message } }` for a malformed id or one of another type; 404
 * `{ error: { type: "NotFoundError", id, message } }` for a missing id and for another tenant's; 409 `{ error: { type:
 * "NotDownloadable", id, message } }` when the object has no file to give (the message says why). A failure after
 * the body began aborts the response (the client sees a truncated transfer, never a wrong-length success).
 */
import { Transform, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Express, Request, Response } from "express";
import type { HttpRouteDeps, HttpRouteMount } from "../server/http-routes.ts";
import type { ArtifactReader, TenantServiceDeps } from "../services/deps.ts";
import { serviceDeps } from "../services/context.ts";
import { bucketArtifactReader, combineArtifactReaders } from "../services/artifact-reader.ts";
import {
  adapterDownload,
  checkpointDownload,
  datasetRecordsDownload,
  evaluationPlotDownload,
  evaluationReportDownload,
  modelDownload,
  NotDownloadableError,
  type Download,
} from "../services/downloads.ts";
import { InputValidationError } from "../services/errors.ts";
import { fromGlobalId, InvalidGlobalIdError, toGlobalId } from "../../schema/common/index.ts";
import { sendRouteError } from "./route-errors.ts";

export const DOWNLOAD_PATHS = {
  adapter: "/v1/files/adapters/:id",
  adapterDimension: "/v1/files/adapters/:id/dimensions/:index",
  model: "/v1/files/models/:id",
  checkpoint: "/v1/files/jobs/:id/checkpoint",
  evaluationReport: "/v1/files/evaluations/:id/report.json",
  evaluationPlot: "/v1/files/evaluations/:id/plot.svg",
  datasetRecords: "/v1/files/datasets/:id/records.jsonl",
} as const;

/** The uuid of the route's `:id`, a global id of `typeName`; a ValidationError (400) on field `id` otherwise. */
function routeUuid(req: Request, typeName: string): string {
  try {
    return fromGlobalId(String(req.params.id), typeName).uuid;
  } catch (error) {
    if (error instanceof InvalidGlobalIdError) throw new InputValidationError("id", error.message);
    throw error;
  }
}

function dimensionIndex(req: Request): number {
  const raw = String(req.params.index);
  const index = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(index)) throw new InputValidationError("index", "must be a dimension index: 0, 1, …");
  return index;
}

/** RFC 6266 `attachment` with an ASCII fallback name and the UTF-8 name (RFC 5987). */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, "_").replace(/["\\%]/g, "_");
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function entityTag(download: Download): string | null {
  if (download.sha256) return `"${download.sha256}"`;
  if (download.weakTag) return `W/"${download.weakTag}"`;
  return null;
}

/** True when `If-None-Match` names `tag` (weak comparison, RFC 9110 §13.1.2) or is `*`. */
function notModified(req: Request, tag: string): boolean {
  const header = req.headers["if-none-match"];
  if (!header) return false;
  const opaque = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((candidate) => candidate.trim() === "*" || opaque(candidate) === opaque(tag));
}

/** Passes exactly `sizeBytes` bytes through; more, or fewer at the end, is an error (the response is aborted). */
function exactLength(sizeBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > sizeBytes) done(new Error(`the stored file grew past its announced ${sizeBytes} bytes while it was sent`));
      else done(null, chunk);
    },
    flush(done) {
      done(seen === sizeBytes ? null : new Error(`the stored file ended after ${seen} of its announced ${sizeBytes} bytes`));
    },
  });
}

/** Readable of a body: a Node stream as it is, any other async iterable of byte chunks as a byte stream. */
function byteStream(body: AsyncIterable<Uint8Array>): Readable {
  return body instanceof Readable ? body : Readable.from(body, { objectMode: false, highWaterMark: 1 << 20 });
}

type Resolve = (services: TenantServiceDeps, reader: ArtifactReader, req: Request) => Promise<Download>;

async function serve(req: Request, res: Response, deps: HttpRouteDeps, resolve: Resolve, what: string): Promise<void> {
  let download: Download;
  let tag: string | null;
  let body: AsyncIterable<Uint8Array> | null = null;
  try {
    const services = serviceDeps(await deps.contextFor(req));
    const reader = combineArtifactReaders(deps.services.artifactReader, bucketArtifactReader(deps.bus.artifacts));
    download = await resolve(services, reader, req);
    tag = entityTag(download);
    if (req.method !== "HEAD" && !(tag && notModified(req, tag))) body = await download.open();
  } catch (error) {
    sendDownloadError(req, res, deps, error, what);
    return;
  }
  res.setHeader("cache-control", "private, no-cache");
  res.setHeader("x-content-type-options", "nosniff");
  if (tag) res.setHeader("etag", tag);
  if (tag && notModified(req, tag)) {
    res.status(304).end();
    return;
  }
  res.status(200);
  res.setHeader("content-type", download.contentType);
  res.setHeader("content-disposition", contentDisposition(download.fileName));
  if (download.sizeBytes !== null) res.setHeader("content-length", String(download.sizeBytes));
  for (const [name, value] of Object.entries(download.headers)) res.setHeader(name, value);
  if (body === null) {
    res.end();
    return;
  }
  const source = byteStream(body);
  try {
    if (download.sizeBytes !== null) await pipeline(source, exactLength(download.sizeBytes), res);
    else await pipeline(source, res);
  } catch (error) {
    // The client went away (nothing to answer), or the source failed after the headers: abort the transfer.
    res.destroy();
    if ((error as { code?: unknown } | null)?.code !== "ERR_STREAM_PREMATURE_CLOSE") {
      deps.log.warn(`${what} aborted while sending`, { error: error instanceof Error ? error.message : String(error) });
    }
  }
}

function sendDownloadError(req: Request, res: Response, deps: HttpRouteDeps, error: unknown, what: string): void {
  if (error instanceof NotDownloadableError) {
    res.status(409).json({ error: { type: "NotDownloadable", message: error.message, id: toGlobalId(error.entity, error.id) } });
    return;
  }
  sendRouteError(req, res, deps, error, what);
}

/** Mounts the download routes (register in resolvers/index.ts `httpRoutes`). */
export const mountDownloadRoutes: HttpRouteMount = (app: Express, deps: HttpRouteDeps) => {
  const route = (path: string, what: string, resolve: Resolve) => {
    app.get(path, (req, res) => void serve(req, res, deps, resolve, what));
  };
  route(DOWNLOAD_PATHS.adapter, "adapter download", (s, reader, req) => adapterDownload(s, reader, routeUuid(req, "Adapter"), null));
  route(DOWNLOAD_PATHS.adapterDimension, "adapter download", (s, reader, req) => adapterDownload(s, reader, routeUuid(req, "Adapter"), dimensionIndex(req)));
  route(DOWNLOAD_PATHS.model, "model download", (s, reader, req) => modelDownload(s, reader, routeUuid(req, "Model")));
  route(DOWNLOAD_PATHS.checkpoint, "checkpoint download", (s, reader, req) => checkpointDownload(s, reader, routeUuid(req, "Job")));
  route(DOWNLOAD_PATHS.evaluationReport, "evaluation report download", (s, reader, req) => evaluationReportDownload(s, reader, routeUuid(req, "Evaluation")));
  route(DOWNLOAD_PATHS.evaluationPlot, "evaluation plot download", (s, reader, req) => evaluationPlotDownload(s, reader, routeUuid(req, "Evaluation")));
  route(DOWNLOAD_PATHS.datasetRecords, "dataset download", (s, _reader, req) => datasetRecordsDownload(s, routeUuid(req, "Dataset")));
};
