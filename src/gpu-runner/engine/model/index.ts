/** @module engine/model
 * Public surface of the model folder: the shared config contract, loaders (GGUF, HF safetensors folders),
 * safetensors codec, tokenizers and the float64 reference forward used as an oracle.
 */
export type { LlamaConfig, ModelWeights, RopeLayout, WeightTensor } from "./config.ts";
export type { LoadedModel, ModelFormat, ModelSource } from "../util/loaded-model.ts";
export { expectedWeightShapes, ModelWeightsError, validateLlamaConfig, validateModelWeights } from "../util/loaded-model.ts";

export { loadGguf, parseGguf, parseGgufHeader, ggufToModel, ggufTokenizer, GgufError } from "./gguf.ts";
export { tokenizerFromGgufMetadata } from "./gguf-tokenizer.ts";
export type { GgufFile, GgufHeader, GgufTensorInfo, GgufValue } from "./gguf.ts";
export { writeGguf, llamaGgufInput, ggufTensorName } from "./gguf-writer.ts";
export { loadGgufForDecode, ggufToDecodeModel, DequantizedWeights } from "./gguf-quantized.ts";
export type { DecodeLoadedModel, GgufDecodeOptions } from "./gguf-quantized.ts";
export { decodeWeightsFromModel, decodeWeightBytes, validateDecodeWeights } from "./decode-weights.ts";
export type { DecodeMatrix, DecodeWeights, FloatMatrix, WeightQuantization } from "./decode-weights.ts";
export { QUANT_BLOCK, QuantizedWeightsError, quantizeBlockwise, dequantizeBlockwise, repackGgufBlocks, quantizedBytes } from "./quantized-weights.ts";
export type { BlockQuantized, QuantBits, QuantizedWeightsErrorCode } from "./quantized-weights.ts";
export { buildLlmDecodeGraph, llmDecodeUnsupported, LLM_IO } from "./llm-decode-graph.ts";
export type { LlmAdapter, LlmDecodeGraphOptions, MatMulNBitsAccuracy } from "./llm-decode-graph.ts";
export type { GgufTensorInput, GgufTypedValue, GgufWriteInput } from "./gguf-writer.ts";

export { loadHfFolder, hfLlamaConfig, HfModelError } from "./hf.ts";
export {
  loadSafetensorsFile,
  parseSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  SafetensorsError,
} from "./safetensors.ts";
export type { SafetensorsContents, SafetensorsDtype, SafetensorsWriteOptions } from "./safetensors.ts";

export { TokenizerError, vocabularyDigest } from "./tokenizer.ts";
export type { EncodeOptions, StreamDecoder, Tokenizer } from "./tokenizer.ts";
export { SentencePieceBpeTokenizer, sentencePieceFromGgufJson } from "./tokenizer-llama.ts";
export { HfTokenizer } from "./tokenizer-hf.ts";

export {
  ReferenceForward,
  ReferenceForwardError,
  applyRope,
  argmax,
  logSoftmax,
  referenceGreedy,
  referenceLogits,
  referenceNextTokenLogProbs,
} from "./reference-forward.ts";
export type { AdaptedProjection, ReferenceForwardOptions } from "./reference-forward.ts";

export {
  ADAPTER_TARGETS,
  AdapterSpecError,
  adapterObjectives,
  adapterScale,
  adapterTensorName,
  adapterTensorShapes,
  initAdapterTensors,
  pbloraSpec,
  validateAdapterSpec,
} from "./pblora.ts";
export type { AdapterSpec, AdapterTarget, LoraSpec, PbloraSpec } from "./pblora.ts";
export {
  MASK_VALUE,
  buildDecodeStepGraph,
  buildLogitsGraph,
  buildPrefillGraph,
  cacheMask,
  emptyCache,
  frozenWeightFeeds,
  kvNames,
  prefillIntoCache,
  writeStepIntoCache,
} from "./llama-graph.ts";
export type { BuiltGraph, DecodeStepGraphOptions, LogitsGraphOptions, WeightsPlacement } from "./llama-graph.ts";
export {
  ARM_INPUTS,
  ARM_OUTPUTS,
  ArmBatchError,
  adapterFeeds,
  armTrainBatchFeeds,
  buildArmScoreGraph,
  buildArmTrainGraph,
  normalizePairWeights,
  packArmRows,
} from "./arm-graph.ts";
export type { ArmGraphOptions, ArmScoreGraph, ArmScoreGraphOptions, ArmTrainGraph } from "./arm-graph.ts";
