/** @module api/http/model-upload
 *
 * `POST /v1/models?name=<name>&kind=<BASE|ARM_BASE|EVALUATOR>&fileName=<model.gguf>[&dimensionId=<global id>][&promptTemplate=<hh|pku|plain>]` —
 * registers a model from a streamed upload (the raw file as the body, any content type). Authentication:
 * `Authorization: Bearer <tenant key>`. The body is never buffered whole: it streams into a private temporary file,
 * cut off once it passes the tenant's remaining `maxModelBytes`; a `Content-Length` above the allowance is refused
 * before a byte is read. The file is inspected exactly as `registerModel` does, then stored.
 *
 * Responses (JSON):
 * - 201 `{ model: { id, name, kind, format, sha256, sizeBytes, storedBytes, vocabSize, tokenizerHash, config, promptTemplate, dimensionId, createdAt } }`.
 * - 422 `{ error: { type: "ModelFileInvalid", message, location, problem } }` — not a model file; nothing stored.
 * - 413 `{ error: { type: "QuotaExceeded", message, quota: "maxModelBytes", limit } }`.
 * - 404 `{ error: { type: "NotFoundError", message, id } }` (the dimension); 400 `{ error: { type: "ValidationError", message, field } }`
 *   where `field` is the query parameter (`name`, `kind`, `fileName`, `dimensionId`, `promptTemplate`) or `body`.
 * - 401 / 403 — GraphQL-shaped auth errors (missing key, platform admin key).
 */
import type { Express, Request, Response } from "express";
import type { HttpRouteDeps, HttpRouteMount } from "../server/http-routes.ts";
import { serviceDeps } from "../services/context.ts";
import { InputValidationError } from "../services/errors.ts";
import { registerModel, type ModelKindName, type ModelRow } from "../services/models.ts";
import { PROMPT_TEMPLATE_NAMES, type PromptTemplateName } from "../../contracts/index.ts";
import { fromGlobalId, InvalidGlobalIdError, toGlobalId } from "../../schema/common/index.ts";
import { sendRouteError } from "./route-errors.ts";

export const MODEL_UPLOAD_PATH = "/v1/models";

const MODEL_KINDS: readonly ModelKindName[] = ["BASE", "ARM_BASE", "EVALUATOR"];

/** A single string query parameter, or throws a ValidationError naming it. */
function queryParam(req: Request, name: string, required: boolean): string | null {
  const value = req.query[name];
  if (value === undefined || value === "") {
    if (required) throw new InputValidationError(name, "is required");
    return null;
  }
  if (typeof value !== "string") throw new InputValidationError(name, "must be given once");
  return value;
}

function modelKind(req: Request): ModelKindName {
  const kind = queryParam(req, "kind", true)!;
  if (!(MODEL_KINDS as readonly string[]).includes(kind)) throw new InputValidationError("kind", `must be one of ${MODEL_KINDS.join(", ")}`);
  return kind as ModelKindName;
}

/** `promptTemplate`: hh, pku or plain (any case), or absent. */
function promptTemplate(req: Request): PromptTemplateName | null {
  const value = queryParam(req, "promptTemplate", false);
  if (value === null) return null;
  const name = value.toUpperCase();
  if (!(PROMPT_TEMPLATE_NAMES as readonly string[]).includes(name)) throw new InputValidationError("promptTemplate", `must be one of ${PROMPT_TEMPLATE_NAMES.map((n) => n.toLowerCase()).join(", ")}`);
  return name as PromptTemplateName;
}

function dimensionUuid(req: Request): string | null {
  const id = queryParam(req, "dimensionId", false);
  if (id === null) return null;
  try {
    return fromGlobalId(id, "PreferenceDimension").uuid;
  } catch (error) {
    if (error instanceof InvalidGlobalIdError) throw new InputValidationError("dimensionId", error.message);
    throw error;
  }
}

function declaredLength(req: Request): number | null {
  const header = req.headers["content-length"];
  if (header === undefined) return null;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : null;
}

/** The JSON of a stored model (the GraphQL Model's fields). */
export function modelJson(row: ModelRow) {
  return {
    id: toGlobalId("Model", row.id),
    name: row.name,
    kind: row.kind,
    format: row.format,
    sha256: row.sha256,
    sizeBytes: row.sizeBytes === null ? null : Number(row.sizeBytes),
    storedBytes: row.storedBytes === null ? null : Number(row.storedBytes),
    vocabSize: row.vocabSize,
    tokenizerHash: row.tokenizerHash,
    config: row.config,
    promptTemplate: row.promptTemplate,
    dimensionId: row.dimensionId ? toGlobalId("PreferenceDimension", row.dimensionId) : null,
    createdAt: row.createdAt.toISOString(),
  };
}

async function handle(req: Request, res: Response, deps: HttpRouteDeps): Promise<void> {
  try {
    const services = serviceDeps(await deps.contextFor(req));
    const row = await registerModel(services, {
      name: queryParam(req, "name", true)!,
      kind: modelKind(req),
      dimensionId: dimensionUuid(req),
      promptTemplate: promptTemplate(req),
      fieldPrefix: "",
      upload: {
        fileName: queryParam(req, "fileName", true)!,
        body: req,
        declaredBytes: declaredLength(req),
        fileNameField: "fileName",
        contentField: "body",
      },
    });
    res.status(201).json({ model: modelJson(row) });
  } catch (error) {
    sendRouteError(req, res, deps, error, "model upload");
  }
}

/** Mounts the streaming model upload route (register in resolvers/index.ts `httpRoutes`). */
export const mountModelUploadRoute: HttpRouteMount = (app: Express, deps: HttpRouteDeps) => {
  app.post(MODEL_UPLOAD_PATH, (req, res) => {
    void handle(req, res, deps);
  });
};
