/** @module api/openai/models-handler
 *
 * `GET /v1/models` → `{ object: "list", data: [model…] }` and `GET /v1/models/{model}` → one model object (404
 * `model_not_found` otherwise): the caller tenant's model catalog (model-catalog.ts), adapters first. A read: it
 * spends no rate limit.
 */
import type { Request, Response } from "express";
import type { HttpRouteDeps } from "../server/http-routes.ts";
import { serviceDeps } from "../services/context.ts";
import { loadModelCatalog, modelObject } from "./model-catalog.ts";
import { internalError, modelNotFound, sendOpenAiError, toOpenAiError } from "./openai-error.ts";

function answerError(res: Response, deps: HttpRouteDeps, error: unknown): void {
  const mapped = toOpenAiError(error);
  if (!mapped) deps.log.error("openai models failed", { error: error instanceof Error ? error.message : String(error) });
  sendOpenAiError(res, mapped ?? internalError());
}

/** Lists the models (`GET /v1/models`). */
export async function handleListModels(req: Request, res: Response, deps: HttpRouteDeps): Promise<void> {
  try {
    const catalog = await loadModelCatalog(serviceDeps(await deps.contextFor(req)));
    res.json({ object: "list", data: catalog.entries.map((entry) => modelObject(entry, catalog)) });
  } catch (error) {
    answerError(res, deps, error);
  }
}

/** One model (`GET /v1/models/{model}`). */
export async function handleRetrieveModel(req: Request, res: Response, deps: HttpRouteDeps): Promise<void> {
  try {
    const catalog = await loadModelCatalog(serviceDeps(await deps.contextFor(req)));
    const id = String(req.params.model);
    const entry = catalog.find(id);
    if (!entry) throw modelNotFound("model", id);
    res.json(modelObject(entry, catalog));
  } catch (error) {
    answerError(res, deps, error);
  }
}
