/** @module api/openai — the OpenAI-compatible API under `/v1` (models, completions, chat completions, streaming),
 *  with PARM's extensions `preference`, `preferences`, `beta`, `base_model`. docs/api.md "OpenAI-compatible API". */
export { mountOpenAiRoutes, openAiRoutes, OPENAI_PATHS, DEFAULT_COMPLETION_TIMEOUT_MS, type OpenAiRouteOptions } from "./openai-routes.ts";
export { OpenAiError, toOpenAiError, type OpenAiErrorBody, type OpenAiErrorType } from "./openai-error.ts";
export { loadModelCatalog, modelObject, type CatalogEntry, type ModelCatalog } from "./model-catalog.ts";
export { resolvePreferenceVectors } from "./preference-vectors.ts";
