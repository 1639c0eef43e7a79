/** @module engine/util
 * Engine-wide helpers: typed error base classes, little-endian byte codecs, half-precision conversions, SHA-256,
 * and the loaded-model contract with its weight validation.
 */
export { EngineError, UnreachableCaseError } from "./errors.ts";
export { abortsUnless, CancelledError, throwIfCancelled } from "./abort.ts";
export { ByteReader, ByteWriter, encodeUtf8, TruncatedInputError } from "./binary.ts";
export { bf16ToF32, decodeBf16Array, decodeF16Array, decodeF32Array, f16ToF32, f32ToBf16, f32ToF16 } from "./float.ts";
export { sha256File, sha256Hex } from "./sha256.ts";
export { readExactly } from "./file.ts";
export { expectedWeightShapes, ModelWeightsError, validateLlamaConfig, validateModelWeights } from "./loaded-model.ts";
export type { LoadedModel, ModelFormat, ModelSource, ModelWeightsErrorCode } from "./loaded-model.ts";
