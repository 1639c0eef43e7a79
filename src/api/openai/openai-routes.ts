/** @module api/openai/openai-routes
 *
 * Mounts the OpenAI-compatible API under `/v1` (registered in resolvers/index.ts `httpRoutes`), authenticated with
 * the tenant API key as `Authorization: Bearer <key>` like `/graphql`:
 * - `GET /v1/models`, `GET /v1/models/{model}` (models-handler.ts);
 * - `POST /v1/completions`, `POST /v1/chat/completions` (completion-handler.ts).
 * `POST /v1/models` stays the streaming model upload (api/http/model-upload.ts). `openAiRoutes(options)` builds the
 * mount with another non-streamed completion timeout (default 300 s; a function is read per request).
 */
import type { Express } from "express";
import type { HttpRouteDeps, HttpRouteMount } from "../server/http-routes.ts";
import { handleCompletion } from "./completion-handler.ts";
import { handleListModels, handleRetrieveModel } from "./models-handler.ts";

export const OPENAI_PATHS = {
  models: "/v1/models",
  model: "/v1/models/:model",
  completions: "/v1/completions",
  chatCompletions: "/v1/chat/completions",
} as const;

/** How long a non-streamed completion waits for its job by default. */
export const DEFAULT_COMPLETION_TIMEOUT_MS = 300_000;

export interface OpenAiRouteOptions {
  /** Non-streamed completion timeout in ms, or a function read per request. */
  completionTimeoutMs?: number | (() => number);
}

/** The mount function of the OpenAI-compatible routes. */
export function openAiRoutes(options: OpenAiRouteOptions = {}): HttpRouteMount {
  const timeout = options.completionTimeoutMs ?? DEFAULT_COMPLETION_TIMEOUT_MS;
  const completionOptions = { completionTimeoutMs: typeof timeout === "function" ? timeout : () => timeout };
  return (app: Express, deps: HttpRouteDeps) => {
    app.get(OPENAI_PATHS.models, (req, res) => void handleListModels(req, res, deps));
    app.get(OPENAI_PATHS.model, (req, res) => void handleRetrieveModel(req, res, deps));
    app.post(OPENAI_PATHS.completions, (req, res) => void handleCompletion("completion", req, res, deps, completionOptions));
    app.post(OPENAI_PATHS.chatCompletions, (req, res) => void handleCompletion("chat", req, res, deps, completionOptions));
  };
}

/** The registered mount (default options). */
export const mountOpenAiRoutes: HttpRouteMount = openAiRoutes();
