/** @module api/http/dataset-records
 *
 * `POST /v1/datasets/:id/records` — streams a large upload (JSON Lines, or gzip JSON Lines: detected by its
 * magic bytes, whatever the headers say) into an EMPTY or REJECTED dataset. `:id` is the dataset's global id.
 * Authentication: `Authorization: Bearer <tenant key>`. The body is never buffered whole: it is parsed and
 * inserted batch by batch inside one transaction, which is rolled back when validation rejects the upload.
 *
 * Responses (JSON):
 * - 201 `{ dataset: { id, name, status, recordCount, byteSize, sha256 }, report }` — accepted.
 * - 422 `{ error: { type: "DatasetValidationFailed", message, report } }` — rejected; nothing stored.
 * - 413 `{ error: { type: "QuotaExceeded", message, quota, limit } }` — the tenant's dataset bytes quota.
 * - 404 `{ error: { type: "NotFoundError", message, id } }`; 400 `{ error: { type: "ValidationError", message, field } }`.
 * - 401 / 403 — GraphQL-shaped auth errors (missing key, platform admin key).
 * `report` has the shape of the GraphQL `DatasetValidationReport`.
 */
import type { Express, Request, Response } from "express";
import type { HttpRouteDeps, HttpRouteMount } from "../server/http-routes.ts";
import { serviceDeps } from "../services/context.ts";
import { uploadDataset } from "../services/datasets.ts";
import { InputValidationError } from "../services/errors.ts";
import { reportToGraphQL } from "../services/payload-errors.ts";
import { fromGlobalId, InvalidGlobalIdError, toGlobalId } from "../../schema/common/index.ts";
import { sendRouteError } from "./route-errors.ts";

export const DATASET_RECORDS_PATH = "/v1/datasets/:id/records";

async function handle(req: Request, res: Response, deps: HttpRouteDeps): Promise<void> {
  try {
    const services = serviceDeps(await deps.contextFor(req));
    let datasetId: string;
    try {
      datasetId = fromGlobalId(String(req.params.id), "Dataset").uuid;
    } catch (error) {
      if (error instanceof InvalidGlobalIdError) throw new InputValidationError("id", error.message);
      throw error;
    }
    const outcome = await uploadDataset(services, datasetId, req);
    res.status(201).json({
      dataset: {
        id: toGlobalId("Dataset", outcome.dataset.id),
        name: outcome.dataset.name,
        status: outcome.dataset.status,
        recordCount: outcome.dataset.recordCount,
        byteSize: Number(outcome.dataset.byteSize),
        sha256: outcome.dataset.sha256,
      },
      report: reportToGraphQL(outcome.report),
    });
  } catch (error) {
    sendRouteError(req, res, deps, error, "dataset upload");
  }
}

/** Mounts the streaming upload route (register in resolvers/index.ts `httpRoutes`). */
export const mountDatasetRecordsRoute: HttpRouteMount = (app: Express, deps: HttpRouteDeps) => {
  app.post(DATASET_RECORDS_PATH, (req, res) => {
    void handle(req, res, deps);
  });
};
