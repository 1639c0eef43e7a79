/** @module engine/util
 * Engine-wide helpers: typed error base classes, cancellation, and the loaded-model contract with its weight
 * validation. Byte and half-float codecs, SHA-256 and the file formats are in src/formats.
 */
export { categoryOfCause, EngineError, UnreachableCaseError, type CategoryByCode, type EngineErrorCategory, type EngineErrorOptions } from "./errors.ts";
export { abortsUnless, CancelledError, throwIfCancelled } from "./abort.ts";
export { expectedWeightShapes, ModelWeightsError, validateLlamaConfig, validateModelWeights } from "./loaded-model.ts";
export type { LoadedModel, ModelFormat, ModelSource, ModelWeightsErrorCode } from "./loaded-model.ts";
