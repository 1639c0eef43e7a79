/**
 * @module engine/decode
 * Decoding: guided combination of base and ARM log-probs (PARM / GenARM) shaped as LogitsProcessors, next-token
 * choice (greedy, temperature, top-k, top-p, seeded), stop criteria (EOS, stop strings, max new tokens), the shared
 * vocabulary rule, KV caches with prefill/step graphs in shape buckets, the fast path on onnxruntime's LLM kernels
 * (`FastDecoder`, the generator's default), and guided α-batched generation
 * (`createGenerator`). No I/O besides onnxruntime sessions.
 */
export {
  GuidanceInputError,
  type GuidanceErrorCode,
  logSoftmax,
  combineParm,
  combineGenArm,
  combineParmBatch,
  combineGenArmBatch,
  truncateVocab,
  LogitsProcessorList,
  ParmGuidanceProcessor,
  GenArmGuidanceProcessor,
  type LogitsProcessor,
  type LogitsProcessorContext,
} from "./guidance.ts";
export {
  SamplingConfigError,
  type SamplingErrorCode,
  SeededRandom,
  type SeededRandomState,
  type SamplingConfig,
  samplingConfigFromOptions,
  validateSamplingConfig,
  argmax,
  applyTemperature,
  applyTopK,
  applyTopP,
  sampleFromScores,
  TokenSampler,
  TemperatureWarper,
  TopKWarper,
  TopPWarper,
} from "./sampling.ts";
export {
  StopCriteriaError,
  type StopCriteriaErrorCode,
  type StopReason,
  StopStringMatcher,
  type StopStringMatch,
  StopCriteria,
  type StopCriteriaOptions,
  type StopStep,
} from "./stop.ts";
export { VocabularyMismatchError, type VocabularyErrorCode, type VocabularyHolder, type VocabularyIdentity, assertSharedVocabulary, vocabularyIdentity } from "./vocabulary.ts";
export { KvCache, KvCacheError, type KvCacheErrorCode, bucketLength } from "./kv-cache.ts";
export {
  CachedDecoder,
  type CachedDecoderOptions,
  type DecodeAdapter,
  type DecoderLogits,
  DecoderInputError,
  type DecoderInputErrorCode,
  adapterTensorFeeds,
} from "./decode-graph.ts";
export {
  createGenerator,
  GenerateRequestError,
  GenerationCancelledError,
  type PartialOutput,
  keepLastPromptTokens,
  type GenerateErrorCode,
  type DecodeModel,
  type FinishReason,
  type GenArmGuides,
  type GenerateOutput,
  type GenerateRequest,
  type GenerateResult,
  type GenerateTimings,
  type Generator,
  type GeneratorOptions,
  type GuidanceMode,
  type ParmArm,
  type TokenCallback,
  type TokenEvent,
} from "./generate.ts";
export { decodeAdapterFromFile } from "./generate-adapter.ts";
export { FastDecoder, FastKvCache, type FastDecoderOptions, type FastDecodeModel } from "./fast-decoder.ts";
