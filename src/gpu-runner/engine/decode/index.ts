/**
 * @module engine/decode
 * Decoding: guided combination of base and ARM log-probs (PARM / GenARM) shaped as LogitsProcessors, next-token
 * choice (greedy, temperature, top-k, top-p, seeded), and stop criteria (EOS, stop strings, max new tokens).
 * Pure functions and small stateful helpers; no I/O.
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
