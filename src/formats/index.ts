/** @module formats
 * Model-file formats as a shared leaf (docs/architecture.md §2): the GGUF and safetensors headers, little-endian
 * byte and half-float codecs, SHA-256 of bytes and files, and the vocabulary digest. Used by the api (inspecting
 * model files at registration) and the engine (loading them); imports nothing else from `src/`.
 */
export { FormatError } from "./errors.ts";
export { ByteReader, ByteWriter, encodeUtf8, TruncatedInputError } from "./bytes.ts";
export { bf16ToF32, decodeBf16Array, decodeF16Array, decodeF32Array, f16ToF32, f32ToBf16, f32ToF16 } from "./half-float.ts";
export { sha256File, sha256Hex } from "./sha256.ts";
export { readExactly } from "./file.ts";
export {
  GGML_TYPE_NAMES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgmlType,
  GgufFormatError,
  GgufValueType,
  Q4_0_BLOCK,
  Q4_0_BLOCK_BYTES,
  Q8_0_BLOCK,
  Q8_0_BLOCK_BYTES,
  ggmlTensorBytes,
  ggufTokens,
  isSupportedGgmlType,
  parseGgufHeader,
  readGgufHeader,
  readGgufHeaderFromFile,
} from "./gguf.ts";
export type { GgufFormatErrorCode, GgufHeader, GgufHeaderOptions, GgufScalar, GgufStreamOptions, GgufTensorInfo, GgufValue } from "./gguf.ts";
export {
  SAFETENSORS_DTYPE_BYTES,
  SAFETENSORS_MAX_HEADER_BYTES,
  SafetensorsFormatError,
  parseSafetensorsHeader,
  readSafetensorsHeaderFromFile,
  safetensorsHeaderLength,
} from "./safetensors.ts";
export type { SafetensorsFileHeader, SafetensorsFormatErrorCode, SafetensorsHeaderEntry } from "./safetensors.ts";
export { tokensFromTokenizerJson, VOCABULARY_DIGEST_VERSION, vocabularyDigest } from "./vocabulary.ts";
