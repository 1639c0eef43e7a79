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
export { writeGguf } from "./gguf-writer.ts";
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
